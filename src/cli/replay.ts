import { constants } from 'node:fs';
import { access, writeFile } from 'node:fs/promises';
import { loadCatalog, loadSheets } from '../config/load-sheets.ts';
import { buildBus, buildParams, buildSink } from './wiring.ts';
import type { Command } from 'commander';
import { loadCommandConfig } from './common.ts';
import { addConfigOption, isoTime, positiveInteger, positiveNumber, type CommandAction } from './options.ts';
import { RUN_NAME_RE, replay } from '../replay/replay.ts';
import { progressBar } from './progress.ts';
import { assertWritableFile } from './output-paths.ts';
import { MonitorError, ErrorCode } from '../domain/errors.ts';
import { probeServices } from './probe.ts';
import { terminalLogger } from './terminal-log.ts';
import { BoardState } from '../board/board-state.ts';
import { boardRoutes, boardUrl, newBoardServer } from '../board/board-wiring.ts';
import { startHttpServer } from '../server/http-server.ts';
import { onTerminate } from './common.ts';
import type { StepOutput } from '../domain/step/step-types.ts';

/**
 * `ccm replay --run NAME (--file PATH... | --kafka --from ISO --to ISO) [--entities DIR]
 *  [--speed N | --max] [--report FILE] [--replace] [--stale-after-ms MS] [--min-sources N] [--emit-interval-ms MS] [--every-price]`
 */
interface ReplayCliOptions {
  readonly config?: string;
  readonly run: string;
  readonly file?: string[];
  readonly kafka?: boolean;
  readonly from?: number;
  readonly to?: number;
  readonly entities?: string;
  readonly speed?: number;
  readonly max?: boolean;
  readonly report?: string;
  readonly replace?: boolean;
  readonly staleAfterMs?: number;
  readonly emitIntervalMs?: number;
  readonly minSources?: number;
  readonly everyPrice?: boolean;
  readonly board?: boolean;
}

export function define(cmd: Command): CommandAction {
  addConfigOption(cmd)
    .requiredOption('--run <name>', `the run name: ${RUN_NAME_RE.source}, not 'live'; results are tagged run=<name>`)
    .option('--file <path...>', 'stream files (gzip or plain NDJSON), merged in event-time order')
    .option('--kafka', 'replay a time range of the quotes topic instead (with --from and --to)')
    .option('--from <iso>', 'start of the --kafka range', isoTime)
    .option('--to <iso>', 'end of the --kafka range', isoTime)
    .option('--entities <dir>', "entity sheets (default: the config's entities, config/entities)")
    .option('--speed <n>', 'event-time seconds per wall-clock second (default: as fast as possible)', positiveNumber)
    .option('--max', 'as fast as possible (the default)')
    .option('--report <file>', 'write every alert and the last valuation of each entity as JSON')
    .option('--replace', 'delete an existing run of this name first')
    .option('--stale-after-ms <ms>', "staleness of every input index (default: from the input's cadence)", positiveNumber)
    .option('--min-sources <n>', "minimum sources of every input index (default: from the input's cadence)", positiveInteger)
    .option('--board', 'serve the live board of the replay on the HTTP address (http.address, CCM_HTTP_ADDRESS) and keep serving it after the end, until Ctrl-C')
    .option('--emit-interval-ms <ms>', "conflation window of the valuations (default: the input's span / 500, rounded up to a round length, at least processor.emitIntervalMs)", positiveInteger)
    .option('--every-price', 'write a price point for every quote (default: the last of each instrument and source per conflation window)')
    .addHelpText('after', `\nExamples:
  ccm simulate --scenario double_leverage --out dl.ndjson.gz && ccm replay --run dl --file dl.ndjson.gz
  ccm replay --run btc-2022 --file btc.ndjson.gz eth.ndjson.gz --report report.json
  ccm replay --run last-week --kafka --from 2025-10-01 --to 2025-10-08`);
  return () => replayCommand(cmd.opts<ReplayCliOptions>());
}

async function replayCommand(values: ReplayCliOptions): Promise<number> {
  const usage = (why: string): MonitorError => new MonitorError(`ccm replay: ${why}`, { code: ErrorCode.USAGE });
  if (!values.file?.length && !values.kafka) throw usage('give --file PATH... or --kafka --from ISO --to ISO');
  if (values.file?.length && values.kafka) throw usage('--file and --kafka exclude each other');
  if (values.kafka && (values.from === undefined || values.to === undefined)) throw usage('--kafka needs --from ISO and --to ISO');
  if (values.speed !== undefined && values.max) throw usage('--speed and --max exclude each other');
  const speed = values.speed;
  // every input file readable before any service is touched (`file: reason`, exit 2)
  for (const f of values.file ?? []) await access(f, constants.R_OK);
  if (values.report !== undefined) await assertWritableFile(values.report);
  const config = await loadCommandConfig(values.config);
  const catalog = await loadCatalog(config.catalog);
  const { entities, problems } = await loadSheets(values.entities ?? config.entities, { catalog });
  if (problems.length > 0) throw new MonitorError(problems.join('\n'), { code: ErrorCode.SHEET_INVALID, problems });
  // on a terminal the progress bar has stderr to itself: the logs go to a file it names
  const { logger, file: logFile } = terminalLogger('replay', process.stderr.isTTY === true);
  if (logFile !== null) console.error(`logs: ${logFile} (CCM_LOG_FILE moves them)`);
  const bus = buildBus(config, logger);
  const sink = buildSink(config, logger);
  await probeServices(config, { kafka: true, sink });
  const bar = progressBar(`replay ${values.run}`);
  // --board: the replay's board, served from before the first quote until Ctrl-C
  const board = values.board ? new BoardState(values.run, values.run === 'demo') : null;
  const boardServer = board ? newBoardServer(board, config.http.address) : null;
  const http =
    board && boardServer
      ? await startHttpServer({
          address: config.http.address,
          port: config.http.port,
          registries: [],
          ready: () => true,
          ...boardRoutes(boardServer),
        })
      : null;
  if (http) console.error(`board: ${boardUrl(http.url)}`);
  const terminated = http ? onTerminate() : null;
  try {
    await sink.ensure();
    const s = await replay({
      bus,
      sink,
      logger,
      params: buildParams(config, catalog),
      topicPrefix: config.kafka.topicPrefix,
      groupId: config.processor.groupId,
      lookbackMs: config.processor.lookbackMs,
      maxLatenessMs: config.processor.maxLatenessMs,
      run: values.run,
      input: values.kafka ? { kafka: { fromMs: values.from as number, toMs: values.to as number } } : { files: values.file },
      entities,
      speed,
      replace: values.replace ?? false,
      staleAfterMs: values.staleAfterMs,
      emitIntervalMs: values.emitIntervalMs,
      minSources: values.minSources,
      everyPrice: values.everyPrice ?? false,
      onProgress: (d, t) => bar.update(d, t),
      ...(board ? { onOutputs: (o: readonly StepOutput[]) => board.observe(o) } : {}),
    });
    bar.stop();
    const range = s.firstTs !== null && s.lastTs !== null ? `${new Date(s.firstTs).toISOString()} .. ${new Date(s.lastTs).toISOString()}` : 'empty input';
    console.log(
      `replay ${s.run}: ${s.events} events (${range}), ${s.alerts.length} alerts, ${(s.durationMs / 1000).toFixed(1)} s, ${Math.round(s.eventsPerSecond)} events/s`,
    );
    const fc = s.firstContagion;
    console.log(
      fc === null
        ? `replay ${s.run}: no contagion default (no borrower pulled into default by another's fire sale)`
        : `replay ${s.run}: first contagion default in the window of ${new Date(fc.windowStartMs).toISOString()}: ${fc.entities.join(', ')} (set off by ${fc.setOffBy.join(', ') || 'round-0 defaults'})`,
    );
    if (values.report) {
      await writeFile(
        values.report,
        JSON.stringify({ run: s.run, events: s.events, alerts: s.alerts, firstContagion: s.firstContagion, lastValuations: s.lastValuations, durationMs: s.durationMs }, null, 2),
      );
      console.log(`report written to ${values.report}`);
    }
    if (http && terminated) {
      console.error(`replay ${s.run} done; the board stays at ${boardUrl(http.url)} until Ctrl-C`);
      await terminated;
    }
  } finally {
    bar.stop();
    boardServer?.close();
    await http?.close();
    await sink.close();
    await bus.close();
  }
  return 0;
}
