import { createLogger, type Logger } from '../logger.ts';
import { pino } from 'pino';
import { loadCatalog, loadSheets } from '../config/load-sheets.ts';
import { buildBus, buildParams, buildSink, buildTopics } from './wiring.ts';
import type { Command } from 'commander';
import { closeInOrder, loadCommandConfig, onTerminate, withDeadline } from './common.ts';
import { addConfigOption, integer, oneOf, positiveNumber, scenarioHelp, type CommandAction } from './options.ts';
import { publishEntities } from '../bus/publish-entities.ts';
import { Processor, type ProcessorTopics } from '../processor/processor.ts';
import { startHttpServer } from '../server/http-server.ts';
import { LiveTable } from './live-table.ts';
import { MonitorError, ErrorCode } from '../domain/errors.ts';
import type { Config } from '../config/config-schema.ts';
import type { Bus } from '../bus/bus.ts';
import { toFeedPoints, type Ingestor } from '../ingest/index.ts';
import { buildIngestor } from './ingest-wiring.ts';
import { simulateQuotes } from '../ingest/simulate/simulate-quotes.ts';
import { loadScenariosFile } from '../ingest/simulate/load-scenarios.ts';
import { startPacedPublisher } from '../replay/paced-publisher.ts';
import { replayTopics } from '../replay/replay.ts';
import { replayEntitiesTopicSpec, replayTopicSpec } from '../bus/topics.ts';
import { probeServices } from './probe.ts';
import { terminalLogger } from './terminal-log.ts';
import { BoardState } from '../board/board-state.ts';
import { boardRoutes, boardUrl, newBoardServer } from '../board/board-wiring.ts';

/**
 * `ccm run [--config FILE] [--mode auto|live|demo] [--for-seconds N] [--no-table]`: ingest, bus,
 * processor and sink in one process. With no config it is the embedded default: in-memory bus and
 * sink, and a table of index prices and entity LTVs printed every few seconds. `mode: auto` starts
 * the live sources and, when none answers within `demo.liveWaitS` seconds, says which it could not
 * reach and drives the pipeline from the simulator on an accelerated clock as `run=demo`, every
 * screen marked SIMULATED (a demo never writes `run=live`, and uses the `replay.demo.*` topics).
 */
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const MODES = ['auto', 'live', 'demo'] as const satisfies readonly Config['mode'][];

interface RunOptions {
  readonly config?: string;
  readonly mode?: Config['mode'];
  readonly forSeconds?: number;
  readonly table: boolean;
  readonly scenario?: string;
  readonly seed?: number;
}

export function define(cmd: Command): CommandAction {
  addConfigOption(cmd)
    .option('--mode <mode>', 'auto: live sources, the demo when none answers; live; demo (default: the config\'s mode, auto)', oneOf(MODES))
    .option('--for-seconds <s>', 'stop after this many seconds (default: until Ctrl-C or SIGTERM)', positiveNumber)
    .option('--no-table', 'no live table: logs only')
    .option('--scenario <name>', "the demo's scenario (default demo.scenario: double_leverage; listed below)")
    .option('--seed <n>', "the demo's seed (default demo.seed: 42)", integer)
    .addHelpText('after', () => `\nWith no config: an in-memory bus and sink, the sample book of config/entities, and a live table.${scenarioHelp()}`);
  return () => run(cmd.opts<RunOptions>());
}

async function run(values: RunOptions): Promise<number> {
  const loaded = await loadCommandConfig(values.config);
  const config: Config = { ...loaded, demo: { ...loaded.demo, scenario: values.scenario ?? loaded.demo.scenario, seed: values.seed ?? loaded.demo.seed } };
  const mode = values.mode ?? config.mode;
  const showTable = values.table;
  // On a terminal the table is redrawn in place and the logs go to a file it names; with the table
  // on a pipe the JSON logs go to stderr so the two do not mix; without the table, JSON on stdout.
  const screen = showTable && process.stdout.isTTY === true;
  const { logger, file: logFile } = screen ? terminalLogger('run', true) : { logger: showTable ? createLogger({ stream: pino.destination(2) }) : createLogger(), file: null };
  if (logFile !== null) console.error(`logs: ${logFile} (CCM_LOG_FILE moves them)`);
  const log = logger.child({ component: 'run' });
  const catalog = await loadCatalog(config.catalog);
  const params = buildParams(config, catalog);
  const { entities, problems } = await loadSheets(config.entities, { catalog });
  if (problems.length > 0) throw new MonitorError(problems.join('\n'), { code: ErrorCode.SHEET_INVALID, problems });
  const bus = buildBus(config, logger);
  const sink = buildSink(config, logger);
  await probeServices(config, { kafka: true, sink });
  const { names, specs } = buildTopics(config);
  await sink.ensure();
  await bus.ensureTopics(specs);
  const terminated = onTerminate();
  const deadline = values.forSeconds !== undefined ? sleep(values.forSeconds * 1000).then(() => 'time') : new Promise<string>(() => undefined);

  let ingestor: Ingestor | null = null;
  let feedTimer: NodeJS.Timeout | null = null;
  let run = config.processor.run;
  let simulated: { stop(): void; now(): number } | null = null;
  if (mode !== 'demo') {
    ingestor = buildIngestor(config, bus, names, catalog, logger).ingestor;
    await ingestor.start();
    const ing = ingestor;
    feedTimer = setInterval(() => void sink.write(toFeedPoints(ing.metrics.snapshot(), Date.now(), run)).catch((err: unknown) => log.warn({ err }, 'feed points not written')), config.ingest.feedPointsS * 1000);
    if (mode === 'auto') {
      const waitMs = config.demo.liveWaitS * 1000;
      const t0 = Date.now();
      while (Date.now() - t0 < waitMs && !ing.metrics.snapshot().some((s) => s.quotes > 0)) await sleep(200);
      if (!ing.metrics.snapshot().some((s) => s.quotes > 0)) {
        const silent = ing.metrics.snapshot().map((s) => s.source);
        const msg = `no live source answered within ${config.demo.liveWaitS} s (unreachable: ${silent.join(', ') || 'none configured'})`;
        log.warn({ unreachable: silent }, msg);
        console.error(msg);
        clearInterval(feedTimer);
        await ing.stop();
        ingestor = null;
      }
    }
  }
  let topics: ProcessorTopics = { quotes: names.quotes, entities: names.entities, valuations: names.valuations, alerts: names.alerts, alertState: names.alertState, deadletter: names.deadletter };
  if (!ingestor) {
    run = 'demo';
    const t = replayTopics(config.kafka.topicPrefix, 'demo');
    await bus.ensureTopics([replayTopicSpec(config.kafka.topicPrefix, 'demo'), replayEntitiesTopicSpec(config.kafka.topicPrefix, 'demo')]);
    topics = { ...topics, quotes: t.quotes, entities: t.entities };
    simulated = await startSimulator(config, bus, t.quotes, log);
    const hours = config.demo.speed / 3600;
    console.error(`SIMULATED: driving the pipeline from the '${config.demo.scenario}' scenario (seed ${config.demo.seed}) as run=demo, from ${config.demo.from}, ${hours} h of market time per second`);
  }
  await publishEntities(bus, topics.entities, entities, simulated ? Date.parse(config.demo.from) : Date.now());

  const banner = run === 'demo' ? `SIMULATED (run=demo, ${config.demo.speed}x)` : `LIVE (run=${run})`;
  const table = new LiveTable(banner);
  const board = new BoardState(run, run === 'demo');
  // Simulated ticks lag the simulated clock by one wall second of market time, so the pump's
  // 100 ms publishing steps never look like a silent feed; a stopped feed still goes stale.
  const sim = simulated;
  const clock = sim ? () => sim.now() - config.demo.speed * 1000 : () => Date.now();
  const processor = new Processor({
    bus,
    sink,
    logger,
    params,
    run,
    topics,
    groupId: config.processor.groupId,
    instanceId: config.processor.instanceId,
    lookbackMs: config.processor.lookbackMs,
    contagion: config.processor.contagion,
    maxLatenessMs: config.processor.maxLatenessMs,
    ticks: { intervalMs: config.processor.tickMs, now: clock },
    startFrom: simulated ? 'earliest' : 'lookback',
    onOutputs: (o) => {
      table.observe(o);
      board.observe(o);
    },
  });
  // before the processor starts: a busy port is one line and exit 2 (system-errors.ts), not a warning
  const boardServer = config.http.enabled ? newBoardServer(board, config.http.address) : null;
  const http = config.http.enabled
    ? await startHttpServer({
        address: config.http.address,
        port: config.http.port,
        registries: ingestor ? [processor.metrics.registry, ingestor.metrics.registry] : [processor.metrics.registry],
        ready: async () => processor.isReady() && (await sink.ping()),
        ...boardRoutes(boardServer),
      })
    : null;
  if (http) console.error(`board: ${boardUrl(http.url)} (read-only; /healthz and /metrics beside it)`);
  await processor.start();
  const draw = screen
    ? () => process.stdout.write(`\x1b[H\x1b[2J${table.renderScreen(process.stdout.rows || 24, process.stdout.columns || 80)}`)
    : () => console.log(table.render() + '\n');
  if (screen) process.stdout.write('\x1b[?25l');
  const printer = showTable ? setInterval(draw, config.table.intervalMs) : null;
  const why = await Promise.race([terminated, deadline, processor.done.then(() => 'failed')]);
  log.info({ why }, 'stopping');
  if (printer) clearInterval(printer);
  if (screen) process.stdout.write(`\x1b[H\x1b[2J\x1b[?25h`);
  if (showTable) console.log(table.render());
  if (logFile !== null) console.error(`logs: ${logFile}`);
  if (feedTimer) clearInterval(feedTimer);
  const r = await withDeadline(9000, () =>
    closeInOrder(log, [
      ['simulator', () => simulated?.stop()],
      ['ingestor', async () => ingestor?.stop()],
      ['processor', () => processor.stop()],
      ['board', () => boardServer?.close()],
      ['http', async () => http?.close()],
      ['influx', () => sink.close()],
      ['kafka', () => bus.close()],
    ]),
  );
  if (r === 'timeout') log.warn('shutdown took longer than 9 s');
  return processor.error ? 1 : 0;
}

/** Publishes the simulated stream on an accelerated clock: market time = from + wall elapsed x speed. */
async function startSimulator(config: Config, bus: Bus, topic: string, log: Logger): Promise<{ stop(): void; now(): number }> {
  const file = await loadScenariosFile(config.scenarios);
  if (!(config.demo.scenario in file.scenarios)) {
    throw new MonitorError(`${config.scenarios}: scenarios.${config.demo.scenario}: no such scenario (known: ${Object.keys(file.scenarios).join(', ')})`, { code: ErrorCode.USAGE });
  }
  const fromMs = Date.parse(config.demo.from);
  const publisher = startPacedPublisher({
    bus,
    topic,
    partition: 0,
    records: simulateQuotes({ file, scenario: config.demo.scenario, seed: config.demo.seed, fromMs }),
    speed: config.demo.speed,
    originTs: fromMs,
    onPublishError: (err) => {
      log.warn({ err }, 'simulated quotes not published');
      return 'continue';
    },
  });
  publisher.done.catch((err: unknown) => log.error({ err }, 'the simulator stopped'));
  return { stop: () => publisher.stop(), now: () => publisher.eventNow() };
}
