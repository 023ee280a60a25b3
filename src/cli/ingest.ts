import { createLogger } from '../logger.ts';
import { MonitorError, ErrorCode } from '../domain/errors.ts';
import { loadCatalog } from '../config/load-sheets.ts';
import { toFeedPoints } from '../ingest/index.ts';
import { buildIngestor } from './ingest-wiring.ts';
import { startHttpServer } from '../server/http-server.ts';
import { buildBus, buildSink, buildTopics } from './wiring.ts';
import type { Command } from 'commander';
import { closeInOrder, loadCommandConfig, onTerminate, withDeadline } from './common.ts';
import { addConfigOption, positiveNumber, type CommandAction } from './options.ts';

/**
 * `ccm ingest [--config FILE] [--for-seconds N]`: only the ingestors (exchanges, GPU marketplaces,
 * resale feeds, hashprice) into Kafka, so they can run on another host than the processor.
 * Serves Prometheus counters per source at /metrics (and /healthz) on http.address:http.port, and
 * writes the same per source as `feed` points (tagged with processor.run, live by default) every ingest.feedPointsS seconds, so the
 * Grafana boards show feed health without Prometheus. Unreachable sources are logged once each and
 * retried with backoff; they never stop the process. Stops cleanly on SIGTERM/SIGINT.
 */
interface IngestOptions {
  readonly config?: string;
  readonly forSeconds?: number;
}

export function define(cmd: Command): CommandAction {
  addConfigOption(cmd)
    .option('--for-seconds <s>', 'stop after this many seconds (default: until SIGTERM or Ctrl-C)', positiveNumber)
    .addHelpText('after', '\nNeeds Kafka (CCM_KAFKA_BROKERS or --config config/local.yaml). Sources and their keys: docs/sources.md.');
  return () => ingest(cmd.opts<IngestOptions>());
}

async function ingest(values: IngestOptions): Promise<number> {
  const forSeconds = values.forSeconds ?? null;
  const config = await loadCommandConfig(values.config);
  if (!config.kafka.enabled) throw new MonitorError('ccm ingest: Kafka is not configured (set CCM_KAFKA_BROKERS or use --config config/local.yaml); use `ccm run` for one process without Kafka', { code: ErrorCode.USAGE });
  const logger = createLogger();
  const log = logger.child({ component: 'ingest' });
  const catalog = await loadCatalog(config.catalog);
  const bus = buildBus(config, logger);
  const sink = buildSink(config, logger);
  const { names, specs } = buildTopics(config);
  await bus.ensureTopics(specs.filter((s) => s.topic === names.quotes || s.topic === names.deadletter));
  // Feed health is secondary: an InfluxDB outage must not stop the quotes.
  await sink.ensure().catch((err: unknown) => log.warn({ err }, 'InfluxDB not reachable: feed points will be retried every period'));

  const { ingestor, sourceNames } = buildIngestor(config, bus, names, catalog, logger);
  // before any source starts: a busy port is the user's to fix (one line naming CCM_HTTP_ADDRESS, exit 2)
  const http = config.http.enabled
    ? await startHttpServer({ address: config.http.address, port: config.http.port, registries: [ingestor.metrics.registry], ready: () => true }).catch(async (err: unknown) => {
        await sink.close();
        await bus.close();
        throw err;
      })
    : null;
  const terminated = onTerminate();
  await ingestor.start();
  log.info({ sources: sourceNames, topic: names.quotes }, 'ingesting');

  const writeFeed = (): Promise<void> =>
    sink.write(toFeedPoints(ingestor.metrics.snapshot(), Date.now(), config.processor.run)).catch((err: unknown) => log.warn({ err }, 'feed points not written'));
  const feedTimer = setInterval(() => void writeFeed(), config.ingest.feedPointsS * 1000);
  if (http) log.info({ url: http.url }, 'metrics at /metrics');

  const deadline = forSeconds === null ? new Promise<string>(() => undefined) : new Promise<string>((r) => setTimeout(() => r('time'), forSeconds * 1000).unref());
  const why = await Promise.race([terminated, deadline]);
  log.info({ why }, 'stopping');
  clearInterval(feedTimer);
  const r = await withDeadline(9000, () =>
    closeInOrder(log, [
      ['ingestor', () => ingestor.stop()],
      ['feed points', () => writeFeed()],
      ['http', async () => http?.close()],
      ['influx', () => sink.close()],
      ['kafka', () => bus.close()],
    ]),
  );
  if (r === 'timeout') log.warn('shutdown took longer than 9 s');
  return ingestor.failedPublishes > 0 ? 1 : 0;
}
