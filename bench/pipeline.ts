import type { Point } from '../src/sink/sink.ts';
import type { DomainParams } from '../src/domain/params.ts';
import { topicNames } from '../src/bus/topics.ts';
import { defaultDomainParams } from '../src/domain/valuation/valuation.ts';
import { Processor } from '../src/processor/processor.ts';
import { flush, initialState, step } from '../src/domain/step/step.ts';
import type { Entity } from '../src/domain/sheet/sheet.ts';
import type { Quote } from '../src/domain/market/quote.ts';
import { generateBook, generateQuotes, loadCatalog } from './book.ts';
import {
  benchLogger,
  consumerPerformance,
  createTopics,
  deleteTopics,
  endMachine,
  newBus,
  newSink,
  ObservedSink,
  perSecond,
  publishInput,
  rawInflux,
  rawKafkajs,
  round2,
  serviceEnv,
  servicesMachine,
  timedBus,
  uniqueName,
  type RawRate,
  type ServiceEnv,
  type ServicesMachine,
} from './support/harness.ts';

/**
 * The `pipeline` section: quotes per second through the processor runtime (the Processor that
 * `ccm process` runs, in this process) from the real Kafka into the real InfluxDB, for books of
 * 100, 1,000 and 10,000 entities; and, side by side on the same topic and the same N, the raw
 * limits it is compared with: kafkajs with an empty handler, Kafka's ConsumerPerformance, and
 * line-protocol writes to InfluxDB of the very points the pipeline wrote.
 *
 * Input: `generateBook({ entities, seed })` and `generateQuotes` over the book's instruments,
 * 3 sources each, one quote every `cadenceMs` (CADENCE_MS) of event time, published
 * beforehand to a 3-partition quotes topic; the processor runs until the end (`untilEnd`), closing
 * every window. Time runs from the processor's start returning (entities read, quote group
 * subscribed) to its end: group join, merge, step, InfluxDB writes, output topics and commits.
 */
export interface PipelineOptions {
  readonly entityCounts?: readonly number[];
  /** Quotes per run (default 3,000). */
  readonly quotes?: number;
  /** Event-time step between quotes (default CADENCE_MS). */
  readonly cadenceMs?: number;
  readonly seed?: number;
  /** The book size whose topic the raw limits are measured on (default 1,000, else the middle count). */
  readonly rawAt?: number;
  readonly env?: ServiceEnv;
  readonly log?: (line: string) => void;
}

export interface PipelineRun {
  readonly entities: number;
  readonly quotes: number;
  /** Processor start until the entities were read and the quote subscription made. */
  readonly startMs: number;
  readonly ms: number;
  readonly quotesPerSecond: number;
  readonly points: number;
  readonly pointsPerSecond: number;
  /** Of `ms`: awaiting InfluxDB writes, awaiting output-topic publishes, awaiting offset commits (the rest is step, merge and consume). */
  readonly sinkWriteMs: number;
  readonly publishMs: number;
  readonly commitMs: number;
  /** CPU time of this process during `ms` (user + system), ms: below `ms`, the rest is waiting. */
  readonly cpuMs: number;
  /**
   * The domain's own ceiling on the same book and quotes: `step` folded in memory over the quotes
   * in event-time order, then `flush` (the same revaluations, windows and alerts, no Kafka, no
   * InfluxDB, no JSON), measured in this process right after the run.
   */
  readonly fold: { readonly ms: number; readonly quotesPerSecond: number; readonly outputs: number };
  /** quotesPerSecond / fold.quotesPerSecond: the share of the domain's rate the runtime keeps. */
  readonly pipelineToFold: number;
  /**
   * The bound this run is compared with (issue 12 point 5), each in quotes/s, measured right after
   * it on the same topic and points: raw kafkajs reading the same quotes; raw InfluxDB writing the
   * very points the pipeline wrote, divided by the points per quote; the fold. `bound` is the
   * smallest, `limitedBy` names it.
   */
  readonly bound: { readonly kafkajs: number; readonly influx: number; readonly fold: number; readonly bound: number; readonly limitedBy: 'kafkajs' | 'influx' | 'fold'; readonly influxPointsPerSecond: number };
  /** quotesPerSecond / bound.bound (target 0.7 at 1,000 and 10,000 entities). */
  readonly pipelineToBound: number;
}

export interface PipelineResult {
  readonly input: { readonly seed: number; readonly quotes: number; readonly cadenceMs: number; readonly sourcesPerInstrument: number; readonly quotePartitions: number; readonly sessionTimeoutMs: number; readonly book: 'generateBook (bench/book.ts)' };
  readonly runs: readonly PipelineRun[];
  readonly raw: {
    readonly atEntities: number;
    readonly kafkajs: RawRate & { readonly firstToLastMs: number };
    readonly consumerPerformance: RawRate & { readonly fetchPerSecond: number; readonly rebalanceMs: number };
    readonly influx: RawRate & { readonly batches: number };
  };
  /** Measured side by side in this run: pipeline quotes/s over raw messages/s; pipeline points/s over raw points/s. */
  readonly ratios: { readonly pipelineToRawKafkajs: number; readonly pipelineToConsumerPerformance: number; readonly pipelineToRawInflux: number; readonly pipelineToFold: number; readonly foldToRawKafkajs: number };
  /** Per book size: pipeline quotes/s over the smallest of its raw bounds (runs[].bound). */
  readonly pipelineToBound: Readonly<Record<string, number>>;
  readonly target: { readonly pipelineToBound: 0.7; readonly met: boolean };
  readonly machine: ServicesMachine;
}

export const T0 = Date.UTC(2025, 9, 1);
export const SOURCES_PER_INSTRUMENT = 3;
/**
 * Event time between consecutive quotes of the seeded stream, all instruments together: 100 ms,
 * 10 quotes a second, 600 per 60-s window (26 instruments x 3 sources, crypto four times as
 * often). Each window close revalues every entity with stress, so the cadence sets how much
 * window-close work each quote carries.
 */
export const CADENCE_MS = 100;
const QUOTE_PARTITIONS = 3;
export const SESSION_TIMEOUT_MS = 300_000;

export const benchParams = (): DomainParams => defaultDomainParams(loadCatalog());

/** `step` folded over the book and the quotes in memory (event-time order, then flush): the domain's ceiling. */
export function foldRate(params: DomainParams, entities: readonly Entity[], quotes: readonly Quote[]): PipelineRun['fold'] {
  const sorted = [...quotes].sort((a, b) => a.ts - b.ts);
  let state = initialState(params);
  for (const e of entities) state = step(state, { kind: 'entity', id: e.id, entity: e, ts: 0 }, params).state;
  let outputs = 0;
  const t0 = performance.now();
  for (const quote of sorted) {
    const r = step(state, { kind: 'quote', quote }, params);
    state = r.state;
    outputs += r.outputs.length;
  }
  outputs += flush(state, params).outputs.length;
  const ms = performance.now() - t0;
  return { ms: Math.round(ms), quotesPerSecond: perSecond(sorted.length, ms), outputs };
}

export async function runPipeline(opts: PipelineOptions = {}): Promise<PipelineResult> {
  const env = opts.env ?? serviceEnv('default');
  const log = opts.log ?? (() => undefined);
  const counts = opts.entityCounts ?? [100, 1_000, 10_000];
  const quotesN = opts.quotes ?? 3_000;
  const cadenceMs = opts.cadenceMs ?? CADENCE_MS;
  const seed = opts.seed ?? 42;
  const rawAt = opts.rawAt ?? (counts.includes(1_000) ? 1_000 : counts[Math.floor(counts.length / 2)]);
  const machine = servicesMachine();
  const params = benchParams();
  const logger = benchLogger();
  const bus = newBus(env, logger, SESSION_TIMEOUT_MS);
  const runs: PipelineRun[] = [];
  let raw: PipelineResult['raw'] | null = null;
  try {
    for (const n of counts) {
      const name = uniqueName(`pipeline-${n}`);
      const prefix = `${name}.`;
      const book = generateBook({ entities: n, seed });
      const quotes = generateQuotes({ seed, count: quotesN, startTs: T0, cadenceMs, instruments: book.instruments, sourcesPerInstrument: SOURCES_PER_INSTRUMENT });
      const kept: Point[] = [];
      const keep = true;
      const sink = new ObservedSink(newSink(env, logger), keep
          ? (pts) => {
              // a loop, not push(...pts): a batch can exceed the argument limit
              for (const p of pts) kept.push(p);
            }
          : undefined);
      try {
        await sink.ensure();
        await createTopics(bus, prefix, QUOTE_PARTITIONS);
        await publishInput(bus, prefix, book.entities, quotes);
        const t = topicNames(prefix);
        const timed = timedBus(bus);
        const processor = new Processor({
          bus: timed.bus,
          sink,
          logger,
          params,
          topics: { quotes: t.quotes, entities: t.entities, valuations: t.valuations, alerts: t.alerts, alertState: t.alertState, deadletter: t.deadletter },
          run: name,
          groupId: name,
          instanceId: 'p0',
          lookbackMs: 2 * 24 * 3600_000,
          maxLatenessMs: 2000,
          startFrom: 'earliest',
          untilEnd: true,
          // Processor.drain steps up to 2,000 quotes without yielding; at 10,000 entities that
          // blocks heartbeats longer than a 6-30 s session and the member is evicted
          // (docs/performance.md "Pipeline"). A long session lets the measurement finish.
          sessionTimeoutMs: SESSION_TIMEOUT_MS,
        });
        const t0 = performance.now();
        await processor.start();
        const tReady = performance.now();
        const cpu0 = process.cpuUsage();
        const [sink0, pub0, com0] = [sink.writeMs, timed.publishMs(), timed.commitMs()];
        await processor.done;
        const t1 = performance.now();
        const cpu = process.cpuUsage(cpu0);
        await processor.stop();
        if (processor.error) throw processor.error;
        const ms = t1 - tReady;
        const fold = foldRate(params, book.entities, quotes);
        const pipelineQps = perSecond(processor.stats().events, ms);
        // the raw bounds on this run's own topic and points
        const kafkajsBound = await rawKafkajs(env, t.quotes, quotesN);
        const influxBound = await rawInflux(env, kept, `${name}-raw`);
        await sink.deleteRun(`${name}-raw`);
        const pointsPerQuote = sink.points / Math.max(1, processor.stats().events);
        const influxQps = Math.round(influxBound.perSecond / Math.max(pointsPerQuote, 1e-9));
        const candidates = { kafkajs: kafkajsBound.perSecond, influx: influxQps, fold: fold.quotesPerSecond } as const;
        const limitedBy = (Object.keys(candidates) as Array<keyof typeof candidates>).reduce((a, b) => (candidates[b] < candidates[a] ? b : a));
        const run: PipelineRun = {
          entities: n,
          quotes: processor.stats().events,
          startMs: Math.round(tReady - t0),
          ms: Math.round(ms),
          quotesPerSecond: perSecond(processor.stats().events, ms),
          points: sink.points,
          pointsPerSecond: perSecond(sink.points, ms),
          sinkWriteMs: Math.round(sink.writeMs - sink0),
          publishMs: Math.round(timed.publishMs() - pub0),
          commitMs: Math.round(timed.commitMs() - com0),
          cpuMs: Math.round((cpu.user + cpu.system) / 1000),
          fold,
          pipelineToFold: round2(pipelineQps / fold.quotesPerSecond),
          bound: { ...candidates, bound: candidates[limitedBy], limitedBy, influxPointsPerSecond: influxBound.perSecond },
          pipelineToBound: round2(pipelineQps / candidates[limitedBy]),
        };
        runs.push(run);
        log(`pipeline: ${n} entities: ${run.quotesPerSecond} quotes/s (${run.quotes} quotes, ${run.points} points in ${run.ms} ms: sink ${run.sinkWriteMs} ms, publish ${run.publishMs} ms, commit ${run.commitMs} ms, cpu ${run.cpuMs} ms); the fold in memory: ${fold.quotesPerSecond} quotes/s; bound ${run.bound.bound} quotes/s (${run.bound.limitedBy}; kafkajs ${run.bound.kafkajs}, influx ${run.bound.influx}, fold ${run.bound.fold}): pipelineToBound ${run.pipelineToBound}`);
        if (n === rawAt) {
          const { csv: _csv, ...cp } = await consumerPerformance(env, t.quotes, quotesN);
          log(`pipeline: ConsumerPerformance ${cp.perSecond} messages/s`);
          raw = { atEntities: n, kafkajs: kafkajsBound, consumerPerformance: cp, influx: influxBound };
        }
      } finally {
        await sink.deleteRun(name).catch(() => undefined);
        await sink.close();
        await deleteTopics(bus, prefix).catch(() => undefined);
      }
    }
  } finally {
    await bus.close();
  }
  if (raw === null) throw new Error(`pipeline: rawAt ${rawAt} is not one of the entity counts ${counts.join(', ')}`);
  const at = runs.find((r) => r.entities === raw?.atEntities) as PipelineRun;
  const pipelineToRawKafkajs = round2(at.quotesPerSecond / raw.kafkajs.perSecond);
  const pipelineToBound = Object.fromEntries(runs.map((r) => [String(r.entities), r.pipelineToBound]));
  return {
    input: { seed, quotes: quotesN, cadenceMs, sourcesPerInstrument: SOURCES_PER_INSTRUMENT, quotePartitions: QUOTE_PARTITIONS, sessionTimeoutMs: SESSION_TIMEOUT_MS, book: 'generateBook (bench/book.ts)' },
    runs,
    raw,
    ratios: {
      pipelineToRawKafkajs,
      pipelineToConsumerPerformance: round2(at.quotesPerSecond / raw.consumerPerformance.perSecond),
      pipelineToRawInflux: round2(at.pointsPerSecond / raw.influx.perSecond),
      pipelineToFold: at.pipelineToFold,
      foldToRawKafkajs: round2(at.fold.quotesPerSecond / raw.kafkajs.perSecond),
    },
    pipelineToBound,
    target: { pipelineToBound: 0.7, met: runs.filter((r) => r.entities >= 1_000).every((r) => r.pipelineToBound >= 0.7) },
    machine: endMachine(machine),
  };
}
