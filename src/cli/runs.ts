import { createLogger } from '../logger.ts';
import { buildBus, buildSink } from './wiring.ts';
import { configOption, loadCommandConfig, parseCommandArgs } from './common.ts';
import { deleteRun, listRuns } from '../replay/replay.ts';
import { MonitorError, ErrorCode } from '../domain/errors.ts';

/** `ccm runs list` and `ccm runs delete NAME`: the runs (replay topics and InfluxDB series). */
export async function main(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('runs', argv, configOption, true);
  const [sub, name] = positionals;
  if (sub !== 'list' && sub !== 'delete') throw new MonitorError('usage: ccm runs list | ccm runs delete NAME', { code: ErrorCode.USAGE });
  if (sub === 'delete' && !name) throw new MonitorError('usage: ccm runs delete NAME', { code: ErrorCode.USAGE });
  const config = await loadCommandConfig(values.config);
  const logger = createLogger();
  const bus = buildBus(config, logger);
  const sink = buildSink(config, logger);
  try {
    if (sub === 'list') {
      const runs = await listRuns(bus, sink, config.kafka.topicPrefix);
      console.log(['run'.padEnd(24) + 'replay topic  series', ...runs.map((r) => r.run.padEnd(24) + (r.topic ? 'yes' : 'no').padEnd(14) + (r.series ? 'yes' : 'no'))].join('\n'));
    } else {
      await deleteRun(bus, sink, config.kafka.topicPrefix, name as string);
      console.log(`run ${name} deleted`);
    }
  } finally {
    await sink.close();
    await bus.close();
  }
  return 0;
}
