import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { loadCommandConfig } from './common.ts';
import { addConfigOption, isoTime, type CommandAction } from './options.ts';
import { assertWritableFile } from './output-paths.ts';
import { influxFor, marketSnapshot } from '../replay/market-snapshot.ts';
import { MonitorError, ErrorCode } from '../domain/errors.ts';

/** `ccm market snapshot --run NAME --at ISO --out FILE`: a DOMAIN.md market file from InfluxDB. */
interface SnapshotOptions {
  readonly config?: string;
  readonly run: string;
  readonly at: number;
  readonly out: string;
}

export function define(cmd: Command): CommandAction {
  addConfigOption(cmd)
    .option('--run <name>', 'the run (live, demo or a replay name)', 'live')
    .requiredOption('--at <iso>', 'the instant (ISO date-time, UTC)', isoTime)
    .requiredOption('--out <file>', 'the market file to write (JSON, for ccm value --market)');
  return () => snapshot(cmd.opts<SnapshotOptions>());
}

async function snapshot(values: SnapshotOptions): Promise<number> {
  await assertWritableFile(values.out);
  const config = await loadCommandConfig(values.config);
  if (!config.influx.enabled) throw new MonitorError('ccm market snapshot: InfluxDB is not configured (set CCM_INFLUX_URL or use --config config/local.yaml)', { code: ErrorCode.USAGE });
  const db = influxFor(config.influx);
  const runs = (await db.query<{ value: string }>(`SHOW TAG VALUES FROM "index" WITH KEY = "run"`)).map((r) => r.value);
  if (!runs.includes(values.run)) {
    throw new MonitorError(`--run: ${values.run}: no such run in InfluxDB (runs with indexes: ${runs.sort().join(', ') || 'none'})`, { code: ErrorCode.USAGE });
  }
  const snap = await marketSnapshot(db, values.run, values.at);
  const count = Object.keys(snap.crypto).length + Object.keys(snap.rental).length + Object.keys(snap.resale).length + (snap.hashprice === undefined ? 0 : 1);
  if (count === 0) throw new MonitorError(`--at: ${new Date(values.at).toISOString()}: run ${values.run} has no index at or before this instant`, { code: ErrorCode.USAGE });
  await writeFile(values.out, JSON.stringify(snap, null, 2) + '\n');
  console.log(`market of run ${values.run} at ${snap.at}: ${count} indexes -> ${values.out}`);
  return 0;
}
