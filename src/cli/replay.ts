import { writeFile } from 'node:fs/promises';
import { createLogger } from '../logger.ts';
import { loadCatalog, loadSheets } from '../config/load-sheets.ts';
import { buildBus, buildParams, buildSink } from './wiring.ts';
import { configOption, loadCommandConfig, parseCommandArgs } from './common.ts';
import { replay } from '../replay/replay.ts';
import { progressBar } from './progress.ts';
import { MonitorError, ErrorCode } from '../domain/errors.ts';

/**
 * `ccm replay --run NAME (--file PATH... | --kafka --from ISO --to ISO) [--entities DIR]
 *  [--speed N | --max] [--report FILE] [--replace] [--stale-after-ms MS] [--min-sources N]`
 */
const iso = (s: string, flag: string): number => {
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new MonitorError(`ccm replay: ${flag}: must be an ISO date or date-time`, { code: ErrorCode.USAGE });
  return t;
};

export async function main(argv: readonly string[]): Promise<number> {
  const { values } = parseCommandArgs('replay', argv, {
    ...configOption,
    run: { type: 'string' },
    file: { type: 'string', multiple: true },
    kafka: { type: 'boolean' },
    from: { type: 'string' },
    to: { type: 'string' },
    entities: { type: 'string' },
    speed: { type: 'string' },
    max: { type: 'boolean' },
    report: { type: 'string' },
    replace: { type: 'boolean' },
    'stale-after-ms': { type: 'string' },
    'min-sources': { type: 'string' },
  });
  if (!values.run) throw new MonitorError('ccm replay: --run NAME is required', { code: ErrorCode.USAGE });
  if (!values.file?.length && !values.kafka) throw new MonitorError('ccm replay: give --file PATH... or --kafka --from ISO --to ISO', { code: ErrorCode.USAGE });
  if (values.kafka && (!values.from || !values.to)) throw new MonitorError('ccm replay: --kafka needs --from ISO and --to ISO', { code: ErrorCode.USAGE });
  if (values.speed && values.max) throw new MonitorError('ccm replay: --speed and --max exclude each other', { code: ErrorCode.USAGE });
  const speed = values.speed ? Number(values.speed) : undefined;
  if (speed !== undefined && !(speed > 0)) throw new MonitorError('ccm replay: --speed must be a positive number', { code: ErrorCode.USAGE });
  const config = await loadCommandConfig(values.config);
  const { entities, problems } = await loadSheets(values.entities ?? config.entities);
  if (problems.length > 0) throw new MonitorError(problems.join('\n'), { code: ErrorCode.SHEET_INVALID, problems });
  const logger = createLogger();
  const catalog = await loadCatalog(config.catalog);
  const bus = buildBus(config, logger);
  const sink = buildSink(config, logger);
  const bar = progressBar(`replay ${values.run}`);
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
      input: values.kafka ? { kafka: { fromMs: iso(values.from as string, '--from'), toMs: iso(values.to as string, '--to') } } : { files: values.file },
      entities,
      speed,
      replace: values.replace ?? false,
      staleAfterMs: values['stale-after-ms'] ? Number(values['stale-after-ms']) : undefined,
      minSources: values['min-sources'] ? Number(values['min-sources']) : undefined,
      onProgress: (d, t) => bar.update(d, t),
    });
    bar.stop();
    const range = s.firstTs !== null && s.lastTs !== null ? `${new Date(s.firstTs).toISOString()} .. ${new Date(s.lastTs).toISOString()}` : 'empty input';
    console.log(
      `replay ${s.run}: ${s.events} events (${range}), ${s.alerts.length} alerts, ${(s.durationMs / 1000).toFixed(1)} s, ${Math.round(s.eventsPerSecond)} events/s`,
    );
    if (values.report) {
      await writeFile(values.report, JSON.stringify({ run: s.run, events: s.events, alerts: s.alerts, lastValuations: s.lastValuations, durationMs: s.durationMs }, null, 2));
      console.log(`report written to ${values.report}`);
    }
  } finally {
    bar.stop();
    await sink.close();
    await bus.close();
  }
  return 0;
}
