import { createLogger } from '../logger.ts';
import { loadCatalog } from '../config/load-sheets.ts';
import { buildBus, buildParams, buildSink, buildTopics } from './wiring.ts';
import { Processor } from '../processor/processor.ts';
import { WebhookNotifier, webhookSettings } from '../notify/index.ts';
import { startHttpServer } from '../server/http-server.ts';
import type { Command } from 'commander';
import { closeInOrder, loadCommandConfig, onTerminate, withDeadline } from './common.ts';
import { addConfigOption, type CommandAction } from './options.ts';
import { replayRunOf } from '../bus/topics.ts';
import { ErrorCode, MonitorError } from '../domain/errors.ts';
import { probeServices } from './probe.ts';
import { BoardState } from '../board/board-state.ts';
import { boardRoutes, boardUrl, newBoardServer } from '../board/board-wiring.ts';

/**
 * `ccm process [--config FILE] [--run NAME] [--instance ID] [--no-ticks] [--until-end]`: the
 * stream processor alone (entities + quotes from Kafka, results to InfluxDB and the output
 * topics). Never loads ccxt.
 *   --no-ticks   the clock moves with the data only (no wall-clock ticks) and a new group starts
 *                at the earliest retained quote: a run is then a pure function of the topics
 *                (the fault tests compare it with the in-memory fold)
 *   --until-end  stop, closing every window, once the quotes present at start are processed
 * Exit codes: 0 after SIGTERM/SIGINT (or --until-end) once flushed and committed, 1 when the
 * processor or the webhook notifier failed for good (/healthz answers 503 from that moment), 2
 * for bad usage or configuration (a webhook URL without CCM_WEBHOOK_SECRET included).
 */
interface ProcessOptions {
  readonly config?: string;
  readonly run?: string;
  readonly instance?: string;
  readonly ticks: boolean;
  readonly untilEnd?: boolean;
}

export function define(cmd: Command): CommandAction {
  addConfigOption(cmd)
    .option('--run <name>', 'the run tag of every result (default processor.run: live)')
    .option('--instance <id>', 'this instance in the quotes consumer groups (default processor.instanceId, CCM_INSTANCE_ID)')
    .option('--no-ticks', 'the clock moves with the data only, and a new group starts at the earliest quote (a run is then a pure function of the topics)')
    .option('--until-end', 'stop, closing every window, once the quotes present at start are processed')
    .addHelpText('after', '\nReads entities then quotes from Kafka, writes InfluxDB and the output topics, serves /healthz and /metrics,\nsends signed webhooks when CCM_WEBHOOK_URL is set. SIGTERM stops it within 10 s. Never loads ccxt.\nExit 0 once flushed and committed, 1 when the processor failed for good, 2 for bad usage or configuration.');
  return () => processCommand(cmd.opts<ProcessOptions>());
}

async function processCommand(values: ProcessOptions): Promise<number> {
  const ticks = values.ticks;
  const config = await loadCommandConfig(values.config);
  // refused before anything starts: a webhook URL without its secret (exit 2)
  const webhook = webhookSettings(config, process.env);
  const logger = createLogger();
  const catalog = await loadCatalog(config.catalog);
  const params = buildParams(config, catalog);
  const bus = buildBus(config, logger);
  const sink = buildSink(config, logger);
  await probeServices(config, { kafka: true, sink });
  const { names, specs } = buildTopics(config);
  await sink.ensure();
  await bus.ensureTopics(specs);
  const run = values.run ?? config.processor.run;
  // a replay's name is its own: results tagged with it would mix two runs on the boards
  if (values.run !== undefined && (await bus.listTopics()).some((t) => replayRunOf(config.kafka.topicPrefix, t) === run)) {
    throw new MonitorError(`--run: ${run}: a replay of this name exists (ccm runs list); choose another name, or delete it first with ccm runs delete ${run}`, { code: ErrorCode.USAGE });
  }
  const board = new BoardState(run, run === 'demo');
  const processor = new Processor({
    bus,
    sink,
    logger,
    params,
    run,
    onOutputs: (o) => board.observe(o),
    topics: { quotes: names.quotes, entities: names.entities, valuations: names.valuations, alerts: names.alerts, alertState: names.alertState, deadletter: names.deadletter },
    groupId: config.processor.groupId,
    instanceId: values.instance ?? config.processor.instanceId,
    lookbackMs: config.processor.lookbackMs,
    contagion: config.processor.contagion,
    maxLatenessMs: config.processor.maxLatenessMs,
    ticks: ticks ? { intervalMs: config.processor.tickMs, now: () => Date.now() } : undefined,
    startFrom: ticks ? 'lookback' : 'earliest',
    untilEnd: values.untilEnd === true,
  });
  const notifier =
    webhook === null
      ? null
      : new WebhookNotifier({
          bus,
          logger,
          topics: { alerts: names.alerts, deadletter: names.deadletter, delivered: names.webhookDelivered },
          groupId: `${config.processor.groupId}.webhook`,
          ...webhook,
          run,
        });
  // A component that stops for good fails /healthz at once and ends the process with exit 1.
  const failedComponent = (): string | null => (processor.error ? 'processor' : notifier?.error ? 'webhook' : null);
  const boardServer = config.http.enabled ? newBoardServer(board, config.http.address) : null;
  const http = config.http.enabled
    ? await startHttpServer({
        ...boardRoutes(boardServer),
        address: config.http.address,
        port: config.http.port,
        registries: [processor.metrics.registry, ...(notifier ? [notifier.registry] : [])],
        ready: async () => processor.isReady() && (await sink.ping()),
        failed: failedComponent,
      })
    : null;
  if (http) logger.info({ component: 'http', url: http.url, board: boardUrl(http.url, {}) }, 'serving the board, /healthz and /metrics');
  const terminated = onTerminate();
  await processor.start();
  await notifier?.start();
  const why = await Promise.race([
    terminated,
    processor.done.then(() => (processor.error ? 'failed' : 'end of input')),
    ...(notifier ? [notifier.failed.then(() => 'webhook notifier failed')] : []),
  ]);
  logger.info({ component: 'process', why }, 'stopping');
  const log = logger.child({ component: 'process' });
  const r = await withDeadline(9000, () =>
    closeInOrder(log, [
      ['webhook notifier', async () => notifier?.stop()],
      ['processor', () => processor.stop()],
      ['board', () => boardServer?.close()],
      ['http', async () => http?.close()],
      ['influx', () => sink.close()],
      ['kafka', () => bus.close()],
    ]),
  );
  const code = failedComponent() === null ? 0 : 1;
  if (r === 'timeout') {
    // Offsets are committed by processor.stop() before the clients close; what is still open
    // (kafkajs reconnecting after a broker restart, seen in test/fault/kafka-restart.test.ts)
    // must not keep the process past the 10 s SIGTERM budget.
    logger.warn({ component: 'process' }, 'shutdown took longer than 9 s; exiting anyway');
    setTimeout(() => process.exit(code), 500).unref();
  }
  return code;
}
