import type { Bus } from '../bus/bus.ts';
import { compareEventOrder } from '../bus/event-order.ts';
import type { RunInfo, Sink } from '../sink/sink.ts';
import type { Logger } from '../logger.ts';
import { PRICE_POINTS, type DomainParams } from '../domain/params.ts';
import type { Entity } from '../domain/sheet/sheet.ts';
import type { AlertEvent, StepOutput } from '../domain/step/step-types.ts';
import type { Valuation } from '../domain/valuation/valuation-types.ts';
import { toQuote } from '../domain/market/quote.ts';
import { MonitorError, ErrorCode } from '../domain/errors.ts';
import { FIELD, MEASUREMENT, TAG } from '../sink/measurements.ts';
import { replayEntitiesTopicSpec, replayRunOf, replayTopicSpec, topicNames, topicSpecs } from '../bus/topics.ts';
import type { StreamRecord } from '../bus/stream-file.ts';
import { Processor } from '../processor/processor.ts';
import { publishEntities } from '../bus/publish-entities.ts';
import { startPacedPublisher, type PacedPublication } from './paced-publisher.ts';
import { CadenceTracker, ruleOf } from './input-rules.ts';
import { mergeStreamFiles } from './merge-streams.ts';
import { readTimeRange } from './record.ts';

/**
 * `ccm replay`: puts a recorded, imported or generated stream back through the very processor
 * that runs live, under a run name, on the run's own one-partition topic
 * (`<prefix>replay.<run>.quotes`) and entities topic (`<prefix>replay.<run>.entities`), so live
 * data is never touched and the order is exact. Results are tagged `run=<name>`.
 */
export const RUN_NAME_RE = /^[a-z0-9][a-z0-9_-]*$/;
export const RESERVED_RUNS = ['live'] as const;

export interface ReplayInput {
  /** Stream files (merged in event-time order). */
  readonly files?: readonly string[];
  /** A time range of the live quotes topic (offsets found by timestamp). */
  readonly kafka?: { readonly fromMs: number; readonly toMs: number };
}

export interface ReplayOptions {
  readonly bus: Bus;
  readonly sink: Sink;
  readonly logger: Logger;
  readonly params: DomainParams;
  readonly topicPrefix: string;
  readonly groupId: string;
  readonly lookbackMs: number;
  readonly maxLatenessMs: number;
  readonly run: string;
  readonly input: ReplayInput;
  readonly entities: readonly Entity[];
  /** Event-time seconds per wall-clock second; undefined = as fast as possible (--max). */
  readonly speed?: number;
  readonly replace?: boolean;
  readonly staleAfterMs?: number;
  readonly minSources?: number;
  /** The conflation window; undefined = following the input (replayWindowMs). */
  readonly emitIntervalMs?: number;
  /** A `price` point for every quote (default: the last of each instrument and source per window). */
  readonly everyPrice?: boolean;
  readonly onProgress?: (processed: number, total: number) => void;
  /** Every batch of outputs once written (the board of `ccm replay --board`). */
  readonly onOutputs?: (outputs: readonly StepOutput[]) => void;
  readonly sessionTimeoutMs?: number;
}

export interface ReplaySummary {
  readonly run: string;
  readonly events: number;
  readonly inputRecords: number;
  readonly alerts: AlertEvent[];
  readonly lastValuations: Record<string, Valuation>;
  readonly durationMs: number;
  readonly eventsPerSecond: number;
  readonly firstTs: number | null;
  readonly lastTs: number | null;
  /** The conflation window the replay ran with. */
  readonly emitIntervalMs: number;
  /** The first window close whose fire-sale cascade pulled a borrower into default (null: none did), and who. */
  readonly firstContagion: { readonly windowStartMs: number; readonly entities: readonly string[]; readonly setOffBy: readonly string[] } | null;
}

export const replayTopics = (prefix: string, run: string) => ({
  quotes: topicNames(prefix).replayQuotes(run),
  entities: topicNames(prefix).replayEntities(run),
});

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Deletes a run: its replay topics and its InfluxDB series. */
export async function deleteRun(bus: Bus, sink: Sink, prefix: string, run: string): Promise<void> {
  if ((RESERVED_RUNS as readonly string[]).includes(run)) throw new MonitorError(`run '${run}' cannot be deleted`, { code: ErrorCode.USAGE });
  const known = await listRuns(bus, sink, prefix);
  if (!known.some((r) => r.run === run)) {
    throw new MonitorError(`runs delete: ${run}: no such run (runs: ${known.map((r) => r.run).join(', ') || 'none'})`, { code: ErrorCode.USAGE });
  }
  const t = replayTopics(prefix, run);
  const existing = new Set(await bus.listTopics());
  const doomed = [t.quotes, t.entities].filter((x) => existing.has(x));
  if (doomed.length > 0) await bus.deleteTopics(doomed);
  for (let i = 0; i < 100; i++) {
    const left = new Set(await bus.listTopics());
    if (!doomed.some((d) => left.has(d))) break;
    await sleep(100);
  }
  await sink.deleteRun(run);
}

export interface RunListing {
  readonly run: string;
  /** Its replay topics exist. */
  readonly topic: boolean;
  /** InfluxDB holds series of it. */
  readonly series: boolean;
  /** What InfluxDB holds of it (sinks that can say). */
  readonly info?: RunInfo;
}

export async function listRuns(bus: Bus, sink: Sink, prefix: string, options: { readonly describe?: boolean } = {}): Promise<RunListing[]> {
  const topics = await bus.listTopics();
  const fromTopics = new Set(topics.map((t) => replayRunOf(prefix, t)).filter((x): x is string => x !== null));
  const fromSink = new Set(await sink.listRuns());
  const out: RunListing[] = [];
  for (const run of [...new Set([...fromTopics, ...fromSink])].sort()) {
    const series = fromSink.has(run);
    const info = options.describe && series && sink.describeRun ? await sink.describeRun(run) : undefined;
    out.push({ run, topic: fromTopics.has(run), series, ...(info ? { info } : {}) });
  }
  return out;
}

/**
 * The params a replay runs with: the configured ones, with each input instrument's staleness and
 * minimum-source rules following the input's cadence (input-rules.ts), the conflation window
 * following the input's span (replayWindowMs), and the `price` points conflated to the last of
 * each instrument and source per window, unless the flags say otherwise.
 */
export async function replayParams(
  base: DomainParams,
  records: AsyncIterable<StreamRecord> | Iterable<StreamRecord>,
  overrides: { staleAfterMs?: number; minSources?: number; emitIntervalMs?: number; everyPrice?: boolean } = {},
): Promise<{ params: DomainParams; total: number }> {
  const cadence = new CadenceTracker();
  let total = 0;
  let first = Infinity;
  let last = -Infinity;
  for await (const r of records) {
    total++;
    const q = toQuote(r.value);
    if (!q.ok) continue;
    cadence.add(q.quote);
    if (q.quote.ts < first) first = q.quote.ts;
    if (q.quote.ts > last) last = q.quote.ts;
  }
  const rules = cadence.rules((i) => ruleOf(base.indexRules, i), overrides);
  const emitIntervalMs = overrides.emitIntervalMs ?? replayWindowMs(base.emitIntervalMs, last > first ? last - first : 0);
  const pricePoints = overrides.everyPrice === true ? PRICE_POINTS.every : PRICE_POINTS.window;
  return { params: { ...base, emitIntervalMs, pricePoints, indexRules: { ...base.indexRules, ...rules } }, total };
}

/** About this many conflation windows per replay, whatever its span. */
export const REPLAY_WINDOWS = 500;
const MINUTE_MS = 60_000;
/** Round window lengths, from a minute to a day. */
const ROUND_WINDOWS_MS = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440].map((m) => m * MINUTE_MS);

/**
 * A replay's conflation window (docs/architecture.md "Output volume"): the span of its input over
 * REPLAY_WINDOWS, rounded up to a round length (1, 2, 5, 10, 15, 30 minutes, 1, 2, 3, 6, 12 hours,
 * a day), never shorter than the configured window. A day of dense quotes is valued every five
 * minutes, a year of daily history once a day: about 500 valuations per entity, as many as a board
 * draws across its width. Alerts are not conflated: each carries the event time of its quote.
 */
export function replayWindowMs(configuredMs: number, spanMs: number): number {
  const wanted = spanMs / REPLAY_WINDOWS;
  const round = ROUND_WINDOWS_MS.find((w) => w >= wanted) ?? Math.ceil(wanted / ROUND_WINDOWS_MS[ROUND_WINDOWS_MS.length - 1]) * ROUND_WINDOWS_MS[ROUND_WINDOWS_MS.length - 1];
  return Math.max(configuredMs, round);
}

async function* inputRecords(bus: Bus, prefix: string, input: ReplayInput): AsyncGenerator<StreamRecord> {
  if (input.files && input.files.length > 0) {
    yield* mergeStreamFiles(input.files);
    return;
  }
  if (input.kafka) {
    const quotes = topicNames(prefix).quotes;
    const recs = await readTimeRange(bus, quotes, { fromMs: input.kafka.fromMs, toMs: input.kafka.toMs });
    recs.sort(compareEventOrder);
    for (const r of recs) {
      let value: unknown = null;
      try {
        value = r.value === null ? null : JSON.parse(r.value.toString('utf8'));
      } catch {
        value = r.value?.toString('utf8') ?? null;
      }
      yield { topic: 'quotes', key: r.key, ts: r.ts, value };
    }
    return;
  }
  throw new MonitorError('ccm replay: give --file PATH... or --kafka --from ISO --to ISO', { code: ErrorCode.USAGE });
}

export async function replay(o: ReplayOptions): Promise<ReplaySummary> {
  if (!RUN_NAME_RE.test(o.run) || (RESERVED_RUNS as readonly string[]).includes(o.run)) {
    throw new MonitorError(`ccm replay: --run must match ${RUN_NAME_RE.source} and not be 'live'`, { code: ErrorCode.USAGE });
  }
  const log = o.logger.child({ component: 'replay', run: o.run });
  const names = topicNames(o.topicPrefix);
  const t = replayTopics(o.topicPrefix, o.run);
  const topicExists = await bus_has(o.bus, t.quotes);
  const exists = topicExists || (await o.sink.listRuns()).includes(o.run);
  if (exists && !o.replace) throw new MonitorError(`run '${o.run}' exists: choose another name, or --replace to delete it first`, { code: ErrorCode.RUN_EXISTS });

  // First pass, before anything is deleted or created (a bad input file leaves the old run as it
  // was): the input's cadence per instrument, and the count for the progress bar.
  const { params, total } = await replayParams(o.params, inputRecords(o.bus, o.topicPrefix, o.input), { staleAfterMs: o.staleAfterMs, minSources: o.minSources, emitIntervalMs: o.emitIntervalMs, everyPrice: o.everyPrice });
  log.info({ records: total, emitIntervalMs: params.emitIntervalMs }, 'input read');

  // --replace deletes the run's series and starts after the old input on the run's topics: a topic
  // deleted and re-created at once under the same name is not reliably served again by Kafka.
  if (exists) await o.sink.deleteRun(o.run);
  const startAt = topicExists ? await o.bus.endOffsets(t.quotes) : undefined;

  const base = topicSpecs(o.topicPrefix, { quotePartitions: 1, entityPartitions: 1 }).filter((s) => s.topic !== names.quotes && s.topic !== names.entities && s.topic !== names.history);
  await o.bus.ensureTopics([...base, replayTopicSpec(o.topicPrefix, o.run), replayEntitiesTopicSpec(o.topicPrefix, o.run)]);
  await publishEntities(o.bus, t.entities, o.entities, 0);

  const alerts: AlertEvent[] = [];
  const lastValuations: Record<string, Valuation> = {};
  let firstContagion: ReplaySummary['firstContagion'] = null;
  const onOutputs = (outs: readonly StepOutput[]) => {
    o.onOutputs?.(outs);
    for (const out of outs) {
      if (out.kind === 'alert') {
        const { kind: _k, ...a } = out;
        alerts.push(a);
      } else if (out.kind === 'valuation') lastValuations[out.valuation.entity] = out.valuation;
      else if (out.kind === 'contagion_entity' && (out.entity.defaultRound ?? 0) >= 1 && (firstContagion === null || firstContagion.windowStartMs === out.ts)) {
        const setOffBy = outs.flatMap((o) => (o.kind === 'contagion_entity' && o.ts === out.ts && o.entity.defaultRound === 0 ? [o.entity.entity] : []));
        firstContagion = { windowStartMs: out.ts, entities: [...(firstContagion?.entities ?? []), out.entity.entity], setOffBy };
      }
    }
  };
  const started = Date.now();
  const processor = new Processor({
    bus: o.bus,
    sink: o.sink,
    logger: o.logger,
    params,
    run: o.run,
    topics: { quotes: t.quotes, entities: t.entities, valuations: names.valuations, alerts: names.alerts, alertState: names.alertState, deadletter: names.deadletter },
    // A fresh group per replay: a re-created topic never inherits old committed offsets.
    groupId: `${o.groupId}.replay.${o.run}.${started}`,
    instanceId: 'replay',
    lookbackMs: o.lookbackMs,
    maxLatenessMs: o.maxLatenessMs,
    startFrom: 'earliest',
    startAt,
    onOutputs,
    sessionTimeoutMs: o.sessionTimeoutMs,
  });
  await processor.start();

  // Second pass: publish in event-time order (paced with --speed), then finish at the end offsets.
  const progress = setInterval(() => o.onProgress?.(processor.stats().events, total), 250);
  let publication: PacedPublication;
  try {
    publication = await startPacedPublisher({ bus: o.bus, topic: t.quotes, partition: 0, records: inputRecords(o.bus, o.topicPrefix, o.input), speed: o.speed }).done;
    await processor.finishWhenReached(await o.bus.endOffsets(t.quotes));
    await processor.done;
  } finally {
    clearInterval(progress);
    await processor.stop();
  }
  if (processor.error) throw processor.error;
  const durationMs = Date.now() - started;
  const events = processor.stats().events;
  // what `ccm runs list` shows of the run: stamped with the end of the replay (when it was made)
  await o.sink.write([{ measurement: MEASUREMENT.runInfo, tags: { [TAG.run]: o.run }, fields: { [FIELD.events]: events, [FIELD.alerts]: alerts.length, [FIELD.durationMs]: durationMs }, ts: Date.now() }]);
  o.onProgress?.(events, total);
  log.info({ events, alerts: alerts.length, durationMs }, 'replay done');
  const { published, firstTs, lastTs } = publication;
  return { run: o.run, events, inputRecords: published, alerts, lastValuations, durationMs, eventsPerSecond: durationMs > 0 ? (events * 1000) / durationMs : events, firstTs, lastTs, emitIntervalMs: params.emitIntervalMs, firstContagion };
}

async function bus_has(bus: Bus, topic: string): Promise<boolean> {
  return (await bus.listTopics()).includes(topic);
}
