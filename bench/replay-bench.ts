import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeStreamFile, type StreamRecord } from '../src/bus/stream-file.ts';
import { deleteRun, replay } from '../src/replay/replay.ts';
import type { Quote } from '../src/domain/market/quote.ts';
import { generateBook, generateQuotes } from './book.ts';
import { benchParams, CADENCE_MS, SOURCES_PER_INSTRUMENT, T0 } from './pipeline.ts';
import type { Point } from '../src/sink/sink.ts';
import { benchLogger, createTopics, deleteTopics, endMachine, newBus, newSink, ObservedSink, publishQuotes, rawInflux, rawKafkajs, round2, serviceEnv, servicesMachine, uniqueName, type ServiceEnv, type ServicesMachine } from './support/harness.ts';

/**
 * The `replay` section (issue 12 point 5): `replay()` (what `ccm replay --max` runs, with its
 * default conflation window: the input's span over 500, docs/architecture.md "Output volume") over
 * a stream file of `events` generated quotes (generateQuotes, CADENCE_MS of event time apart, 3
 * sources per instrument) against a book of 1,000 entities, through the real Kafka (the run's own
 * one-partition topic) and InfluxDB, as fast as possible. Then, side by side, the raw work it cannot
 * do without: producing the same events to a one-partition topic (KafkaBus.publish, batches of
 * 5,000) and consuming them with kafkajs, and writing its points to InfluxDB as line protocol (the
 * first RAW_INFLUX_SAMPLE of its points; their rate times the number it wrote). Targets: under 120 s
 * for 1,000,000 events, at most 1.5 times the raw time. A run with fewer events records the
 * extrapolated time of the full 1,000,000 at the measured rate.
 */
export interface ReplayBenchOptions {
  readonly events?: number;
  readonly entities?: number;
  readonly cadenceMs?: number;
  readonly seed?: number;
  readonly env?: ServiceEnv;
  readonly log?: (line: string) => void;
}

export interface ReplayBenchResult {
  readonly input: { readonly events: number; readonly entities: number; readonly cadenceMs: number; readonly seed: number; readonly sourcesPerInstrument: number };
  /** Writing the gzip stream file (not part of the replay's time). */
  readonly fileMs: number;
  /** replay(): its own durationMs (processor start to the end of input, windows closed). */
  readonly replayMs: number;
  readonly events: number;
  readonly eventsPerSecond: number;
  readonly alerts: number;
  /** At the measured rate, what 1,000,000 events would take (equal to replayMs / 1000 when events = 1,000,000). */
  readonly secondsFor1M: number;
  /** The replay's conflation window (default: following the input's span). */
  readonly emitIntervalMs: number;
  readonly points: number;
  /** The raw work of the same events and points: produce, consume (kafkajs), InfluxDB (estimated from a sample of the replay's own points). */
  readonly raw: { readonly produceMs: number; readonly consumeMs: number; readonly influxMs: number; readonly influxPointsPerSecond: number; readonly influxSample: number; readonly totalMs: number };
  /** replayMs / raw.totalMs (target at most 1.5). */
  readonly replayToRaw: number;
  readonly target: { readonly events: 1_000_000; readonly seconds: 120; readonly replayToRaw: 1.5; readonly measuredAtFullSize: boolean; readonly met: boolean };
  readonly machine: ServicesMachine;
}

export const FULL_REPLAY_EVENTS = 1_000_000;
/** Points of the replay kept to measure InfluxDB's raw rate on them. */
export const RAW_INFLUX_SAMPLE = 300_000;

export async function runReplayBench(opts: ReplayBenchOptions = {}): Promise<ReplayBenchResult> {
  const env = opts.env ?? serviceEnv('default');
  const log = opts.log ?? (() => undefined);
  const events = opts.events ?? FULL_REPLAY_EVENTS;
  const entities = opts.entities ?? 1_000;
  const cadenceMs = opts.cadenceMs ?? CADENCE_MS;
  const seed = opts.seed ?? 42;
  const machine = servicesMachine();
  const logger = benchLogger();
  const name = uniqueName('replay');
  const prefix = `${name}.`;
  const bus = newBus(env, logger);
  const sample: Point[] = [];
  const sink = new ObservedSink(newSink(env, logger), (pts) => {
    for (const p of pts) if (sample.length < RAW_INFLUX_SAMPLE) sample.push(p);
  });
  const dir = mkdtempSync(join(tmpdir(), 'ccm-bench-replay-'));
  try {
    const book = generateBook({ entities, seed });
    const quotes = generateQuotes({ seed, count: events, startTs: T0, cadenceMs, instruments: book.instruments, sourcesPerInstrument: SOURCES_PER_INSTRUMENT });
    const file = join(dir, 'quotes.ndjson.gz');
    const tf = performance.now();
    await writeStreamFile(
      file,
      quotes.map((q: Quote): StreamRecord => ({ topic: 'quotes', key: q.instrument, ts: q.ts, value: q })),
    );
    const fileMs = Math.round(performance.now() - tf);
    log(`replay: ${events} events in ${file} (${fileMs} ms); replaying against ${entities} entities`);
    await sink.ensure();
    let lastLog = 0;
    const summary = await replay({
      bus,
      sink,
      logger,
      params: benchParams(),
      topicPrefix: prefix,
      groupId: name,
      lookbackMs: 2 * 24 * 3600_000,
      maxLatenessMs: 2000,
      run: name,
      input: { files: [file] },
      entities: book.entities,
      sessionTimeoutMs: 6000,
      onProgress: (done, total) => {
        if (Date.now() - lastLog < 10_000) return;
        lastLog = Date.now();
        log(`replay: ${done}/${total}`);
      },
    });
    const eventsPerSecond = Math.round(summary.eventsPerSecond);
    log(`replay: ${summary.events} events in ${summary.durationMs} ms: ${eventsPerSecond} events/s, ${sink.points} points, window ${summary.emitIntervalMs} ms`);
    const secondsFor1M = round2(eventsPerSecond > 0 ? FULL_REPLAY_EVENTS / eventsPerSecond : Infinity);
    // the raw work side by side: produce and consume the same events, write a sample of its points
    const rawPrefix = `${name}-raw.`;
    await createTopics(bus, rawPrefix, 1);
    const rawTopic = `${rawPrefix}quotes`;
    const tp = performance.now();
    await publishQuotes(bus, rawTopic, quotes);
    const produceMs = Math.round(performance.now() - tp);
    const consumed = await rawKafkajs(env, rawTopic, quotes.length);
    await deleteTopics(bus, rawPrefix).catch(() => undefined);
    const influx = await rawInflux(env, sample, `${name}-raw`);
    await sink.deleteRun(`${name}-raw`);
    const influxMs = Math.round((sink.points / Math.max(1, influx.perSecond)) * 1000);
    const totalMs = produceMs + consumed.ms + influxMs;
    const replayToRaw = round2(summary.durationMs / totalMs);
    log(`replay: raw produce ${produceMs} ms, consume ${consumed.ms} ms, InfluxDB ${influxMs} ms (${influx.perSecond} points/s): replay/raw ${replayToRaw}`);
    return {
      input: { events, entities, cadenceMs, seed, sourcesPerInstrument: SOURCES_PER_INSTRUMENT },
      fileMs,
      replayMs: summary.durationMs,
      events: summary.events,
      eventsPerSecond,
      alerts: summary.alerts.length,
      secondsFor1M,
      emitIntervalMs: summary.emitIntervalMs,
      points: sink.points,
      raw: { produceMs, consumeMs: consumed.ms, influxMs, influxPointsPerSecond: influx.perSecond, influxSample: sample.length, totalMs },
      replayToRaw,
      target: {
        events: FULL_REPLAY_EVENTS,
        seconds: 120,
        replayToRaw: 1.5,
        measuredAtFullSize: summary.events >= FULL_REPLAY_EVENTS,
        met: summary.events >= FULL_REPLAY_EVENTS && summary.durationMs < 120_000 && replayToRaw <= 1.5,
      },
      machine: endMachine(machine),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await deleteRun(bus, sink, prefix, name).catch(() => undefined);
    await deleteTopics(bus, prefix).catch(() => undefined);
    await sink.close();
    await bus.close();
  }
}
