import type { Command } from 'commander';
import { createLogger } from '../logger.ts';
import { buildBus, buildSink } from './wiring.ts';
import { loadCommandConfig } from './common.ts';
import { addConfigOption, type CommandAction } from './options.ts';
import { deleteRun, listRuns } from '../replay/replay.ts';

/** `ccm runs list` and `ccm runs delete NAME`: the runs (replay topics and InfluxDB series). */
export function defineList(cmd: Command): CommandAction {
  addConfigOption(cmd);
  return async () => {
    const config = await loadCommandConfig(cmd.opts<{ config?: string }>().config);
    const logger = createLogger();
    const bus = buildBus(config, logger);
    const sink = buildSink(config, logger);
    try {
      const runs = await listRuns(bus, sink, config.kafka.topicPrefix);
      console.log(['run'.padEnd(24) + 'replay topic  series', ...runs.map((r) => r.run.padEnd(24) + (r.topic ? 'yes' : 'no').padEnd(14) + (r.series ? 'yes' : 'no'))].join('\n'));
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
