import { createLogger } from '../logger.ts';
import { MonitorError, ErrorCode, isMonitorError } from '../domain/errors.ts';
import { writeStreamFile, type StreamRecord } from '../bus/stream-file.ts';
import type { ProduceRecord } from '../bus/bus.ts';
import { backfill } from '../ingest/backfill.ts';
import { buildBus, buildTopics } from './wiring.ts';
import type { Command } from 'commander';
import { loadCommandConfig } from './common.ts';
import { addConfigOption, isoTime, type CommandAction } from './options.ts';
import { progressBar } from './progress.ts';
import { assertWritableFile } from './output-paths.ts';
import { probeServices } from './probe.ts';

/**
 * `ccm backfill --exchange NAME --symbols BTC/USDT,ETH/USDT --from ISO --to ISO --timeframe 1h (--out FILE | --kafka) [--config FILE]`
 *
 * Pages through ccxt fetchOHLCV and writes one quote per candle, stamped with the candle's close
 * time, either as a stream file (`topic: "quotes"`, event-time order) or to the history topic (which
 * never expires by age). ccxt options for the exchange (e.g. urls) come from
 * `ingest.crypto.exchanges[]` of the config when the exchange is listed there. A progress bar is
 * drawn on stderr only when it is a terminal.
 */
const PUBLISH_BATCH = 500;

interface BackfillOptions {
  readonly config?: string;
  readonly exchange: string;
  readonly symbols: string;
  readonly from: number;
  readonly to: number;
  readonly timeframe: string;
  readonly out?: string;
  readonly kafka?: boolean;
}

export function define(cmd: Command): CommandAction {
  addConfigOption(cmd)
    .requiredOption('--exchange <name>', 'a ccxt exchange id (coinbase, kraken, bitstamp, binance...)')
    .requiredOption('--symbols <list>', 'comma-separated symbols, e.g. BTC/USDT,ETH/USDT')
    .requiredOption('--from <iso>', 'start of the range (ISO date or date-time, UTC)', isoTime)
    .requiredOption('--to <iso>', 'end of the range (ISO date or date-time, UTC)', isoTime)
    .option('--timeframe <tf>', 'candle length as ccxt names it (1m, 1h, 1d...)', '1h')
    .option('--out <file>', 'write a stream file (gzip NDJSON)')
    .option('--kafka', 'publish to the history topic instead (needs Kafka)')
    .addHelpText('after', '\nGive exactly one of --out FILE or --kafka. One quote per candle, stamped with its close time.');
  return () => backfillCommand(cmd.opts<BackfillOptions>());
}

async function backfillCommand(values: BackfillOptions): Promise<number> {
  const usage = (why: string): MonitorError => new MonitorError(`ccm backfill: ${why}`, { code: ErrorCode.USAGE });
  if (Boolean(values.out) === Boolean(values.kafka)) throw usage('give exactly one of --out FILE or --kafka');
  const fromMs = values.from;
  const toMs = values.to;
  if (toMs <= fromMs) throw usage('--to must be after --from');
  const symbols = values.symbols.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (symbols.length === 0) throw usage('--symbols: give at least one symbol');
  if (values.out !== undefined) await assertWritableFile(values.out);

  const config = await loadCommandConfig(values.config);
  if (values.kafka && !config.kafka.enabled) throw new MonitorError('ccm backfill: --kafka: Kafka is not configured (set CCM_KAFKA_BROKERS or use --config config/local.yaml)', { code: ErrorCode.USAGE });
  const configured = config.ingest.crypto.exchanges.find((e) => e.name === values.exchange);
  const bar = progressBar(`${values.exchange} ${values.timeframe}`);
  let result;
  try {
    result = await backfill({
      exchange: values.exchange,
      symbols,
      timeframe: values.timeframe,
      fromMs,
      toMs,
      ccxtOptions: configured?.options,
      bounds: config.ingest.bounds,
      receivedAt: Date.now(),
      onProgress: (done, total) => bar.update(done, total),
    });
  } catch (e) {
    if (isMonitorError(e)) throw new MonitorError(`ccm backfill: ${e.message}`, { code: e.code, cause: e.cause });
    throw new MonitorError(`ccm backfill: ${values.exchange}: ${(e as Error).name}: ${(e as Error).message}`, { code: ErrorCode.SOURCE_FAILED, cause: e });
  } finally {
    bar.stop();
  }
  for (const r of result.rejects) console.error(`skipped: ${r.reason}`);

  if (values.out) {
    const records: StreamRecord[] = result.quotes.map((q) => ({ topic: 'quotes', key: q.instrument, ts: q.ts, value: q }));
    const n = await writeStreamFile(values.out, records);
    console.log(`${values.out}: ${n} quotes from ${result.pages} pages (${result.rejects.length} skipped)`);
    return 0;
  }
  const logger = createLogger();
  await probeServices(config, { kafka: true });
  const bus = buildBus(config, logger);
  try {
    const { names, specs } = buildTopics(config);
    await bus.ensureTopics(specs.filter((s) => s.topic === names.history));
    for (let i = 0; i < result.quotes.length; i += PUBLISH_BATCH) {
      const batch: ProduceRecord[] = result.quotes.slice(i, i + PUBLISH_BATCH).map((q) => ({ topic: names.history, key: q.instrument, value: q, ts: q.ts }));
      await bus.publish(batch);
    }
    console.log(`${names.history}: ${result.quotes.length} quotes from ${result.pages} pages (${result.rejects.length} skipped)`);
  } finally {
    await bus.close();
  }
  return 0;
}
