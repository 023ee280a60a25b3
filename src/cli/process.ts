import { createLogger } from '../logger.ts';
import { loadCatalog } from '../config/load-sheets.ts';
import { buildBus, buildParams, buildSink, buildTopics } from './wiring.ts';
import { Processor } from '../processor/processor.ts';
import { WebhookNotifier } from '../processor/webhook-notifier.ts';
import { startHttpServer } from '../server/http-server.ts';
import { configOption, loadCommandConfig, onTerminate, parseCommandArgs, withDeadline } from './common.ts';

/**
 * `ccm process [--config FILE] [--run NAME] [--instance ID]`: the stream processor alone
 * (entities + quotes from Kafka, results to InfluxDB and the output topics). Never loads ccxt.
 */
export async function main(argv: readonly string[]): Promise<number> {
  const { values } = parseCommandArgs('process', argv, { ...configOption, run: { type: 'string' }, instance: { type: 'string' } });
  const config = await loadCommandConfig(values.config);
  const logger = createLogger();
  const catalog = await loadCatalog(config.catalog);
  const params = buildParams(config, catalog);
  const bus = buildBus(config, logger);
  const sink = buildSink(config, logger);
  const { names, specs } = buildTopics(config);
  await sink.ensure();
  await bus.ensureTopics(specs);
  const run = values.run ?? config.processor.run;
  const processor = new Processor({
    bus,
    sink,
    logger,
    params,
    run,
    topics: { quotes: names.quotes, entities: names.entities, valuations: names.valuations, alerts: names.alerts, alertState: names.alertState, deadletter: names.deadletter },
    groupId: config.processor.groupId,
    instanceId: values.instance ?? config.processor.instanceId,
    lookbackMs: config.processor.lookbackMs,
    maxLatenessMs: config.processor.maxLatenessMs,
    ticks: { intervalMs: config.processor.tickMs, now: () => Date.now() },
    startFrom: 'lookback',
  });
  const http = config.http.enabled
    ? await startHttpServer({
        address: config.http.address,
        port: config.http.port,
        registries: [processor.metrics.registry],
        ready: async () => processor.isReady() && (await sink.ping()),
      })
    : null;
  if (http) logger.info({ component: 'http', url: http.url }, 'serving /healthz and /metrics');
  const secret = process.env.CCM_WEBHOOK_SECRET ?? '';
  const notifier =
    config.webhook.url !== ''
      ? new WebhookNotifier({
          bus,
          logger,
          alertsTopic: names.alerts,
          groupId: `${config.processor.groupId}.webhook`,
          url: config.webhook.url,
          secret,
          format: config.webhook.format,
          retries: config.webhook.retries,
          timeoutMs: config.webhook.timeoutMs,
          run,
        })
      : null;
  if (notifier && secret === '') logger.warn({ component: 'webhook' }, 'CCM_WEBHOOK_SECRET is empty: webhooks are signed with an empty key');
  const terminated = onTerminate();
  await processor.start();
  await notifier?.start();
  const why = await Promise.race([terminated, processor.done.then(() => 'failed')]);
  logger.info({ component: 'process', why }, 'stopping');
  const r = await withDeadline(9000, async () => {
    await notifier?.stop();
    await processor.stop();
    await http?.close();
    await sink.close();
    await bus.close();
  });
  if (r === 'timeout') logger.warn({ component: 'process' }, 'shutdown took longer than 9 s');
  return processor.error ? 1 : 0;
}
