import type { Command } from 'commander';
import { createLogger } from '../logger.ts';
import { buildBus, buildSink } from './wiring.ts';
import { loadCommandConfig } from './common.ts';
import { addConfigOption, type CommandAction } from './options.ts';
import { deleteRun, listRuns, type RunListing } from '../replay/replay.ts';
import { probeServices } from './probe.ts';

/** `ccm runs list` and `ccm runs delete NAME`: the runs (replay topics and InfluxDB series). */
export function defineList(cmd: Command): CommandAction {
  addConfigOption(cmd);
  return async () => {
    const config = await loadCommandConfig(cmd.opts<{ config?: string }>().config);
    const logger = createLogger();
    const bus = buildBus(config, logger);
    const sink = buildSink(config, logger);
    await probeServices(config, { kafka: true, sink });
    try {
      const runs = await listRuns(bus, sink, config.kafka.topicPrefix, { describe: true });
      console.log(runsTable(runs));
    } finally {
      await sink.close();
      await bus.close();
    }
    return 0;
  };
}

export function defineDelete(cmd: Command): CommandAction {
  addConfigOption(cmd).argument('<name>', 'the run to delete');
  return async () => {
    const [name] = cmd.processedArgs as [string];
    const config = await loadCommandConfig(cmd.opts<{ config?: string }>().config);
    const logger = createLogger();
    const bus = buildBus(config, logger);
    const sink = buildSink(config, logger);
    await probeServices(config, { kafka: true, sink });
    try {
      await deleteRun(bus, sink, config.kafka.topicPrefix, name);
      console.log(`run ${name} deleted`);
    } finally {
      await sink.close();
      await bus.close();
    }
    return 0;
  };
}

const day = (ms: number | null): string => (ms === null ? '-' : new Date(ms).toISOString().slice(0, 16).replace('T', ' '));
const count = (n: number | undefined): string => (n === undefined ? '-' : n.toLocaleString('en-US'));

/** One row per run: what a user picks a run by (events, the event-time range, alerts, when made, size). */
export function runsTable(runs: readonly RunListing[]): string {
  const header = ['run', 'events', 'from (UTC)', 'to (UTC)', 'alerts', 'made (UTC)', 'points', 'replay topic'];
  const rows = runs.map((r) => [
    r.run,
    count(r.info?.events),
    day(r.info?.firstMs ?? null),
    day(r.info?.lastMs ?? null),
    count(r.info?.alerts),
    r.info?.madeMs ? day(r.info.madeMs) : r.run === 'live' || r.run === 'demo' ? '(continuous)' : '-',
    count(r.info?.points),
    r.topic ? 'yes' : 'no',
  ]);
  if (rows.length === 0) return 'no runs: InfluxDB holds no results and no replay topic exists';
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}
