import { createLogger } from '../logger.ts';
import { buildBus, buildTopics } from './wiring.ts';
import type { Command } from 'commander';
import { loadCommandConfig } from './common.ts';
import { addConfigOption, isoTime, type CommandAction } from './options.ts';
import { assertWritableDir } from './output-paths.ts';
import { recordQuotes } from '../replay/record.ts';
import { MonitorError, ErrorCode } from '../domain/errors.ts';
import { probeServices } from './probe.ts';

/** `ccm record --out DIR [--from ISO] [--to ISO]`: the quotes topic to stream files, one per day. */
interface RecordOptions {
  readonly config?: string;
  readonly out: string;
  readonly from?: number;
  readonly to?: number;
}

export function define(cmd: Command): CommandAction {
  addConfigOption(cmd)
    .requiredOption('--out <dir>', 'the directory of the stream files (one per UTC day: quotes-YYYY-MM-DD.ndjson.gz)')
    .option('--from <iso>', 'first event time to keep (default: the oldest retained)', isoTime)
    .option('--to <iso>', 'event time to stop before (default: the end of the topic now)', isoTime);
  return () => record(cmd.opts<RecordOptions>());
}

async function record(values: RecordOptions): Promise<number> {
  await assertWritableDir(values.out);
  const config = await loadCommandConfig(values.config);
  if (!config.kafka.enabled) throw new MonitorError('ccm record: Kafka is not configured (set CCM_KAFKA_BROKERS or use --config config/local.yaml)', { code: ErrorCode.USAGE });
  await probeServices(config, { kafka: true });
  const bus = buildBus(config, createLogger());
  try {
    const files = await recordQuotes(bus, buildTopics(config).names.quotes, values.out, { fromMs: values.from, toMs: values.to });
    for (const f of files) console.log(`${f.file}: ${f.records} records`);
    console.log(`${files.length} files written`);
  } finally {
    await bus.close();
  }
  return 0;
}
