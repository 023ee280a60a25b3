import { createLogger } from '../logger.ts';
import { buildBus, buildTopics } from './wiring.ts';
import { configOption, loadCommandConfig, parseCommandArgs } from './common.ts';
import { recordQuotes } from '../replay/record.ts';
import { MonitorError, ErrorCode } from '../domain/errors.ts';

/** `ccm record --out DIR [--from ISO] [--to ISO]`: the quotes topic to stream files, one per day. */
export async function main(argv: readonly string[]): Promise<number> {
  const { values } = parseCommandArgs('record', argv, { ...configOption, out: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' } });
  if (!values.out) throw new MonitorError('ccm record: --out DIR is required', { code: ErrorCode.USAGE });
  const t = (s: string | undefined, flag: string) => {
    if (s === undefined) return undefined;
    const v = Date.parse(s);
    if (Number.isNaN(v)) throw new MonitorError(`ccm record: ${flag}: must be an ISO date or date-time`, { code: ErrorCode.USAGE });
    return v;
  };
  const config = await loadCommandConfig(values.config);
  if (!config.kafka.enabled) throw new MonitorError('ccm record: Kafka is not configured (set CCM_KAFKA_BROKERS or use --config config/local.yaml)', { code: ErrorCode.USAGE });
  const bus = buildBus(config, createLogger());
  try {
    const files = await recordQuotes(bus, buildTopics(config).names.quotes, values.out, { fromMs: t(values.from, '--from'), toMs: t(values.to, '--to') });
    for (const f of files) console.log(`${f.file}: ${f.records} records`);
    console.log(`${files.length} files written`);
  } finally {
    await bus.close();
  }
  return 0;
}
