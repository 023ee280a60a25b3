import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeStreamFile, type StreamRecord } from '../src/bus/stream-file.ts';
import { deleteRun, replay } from '../src/replay/replay.ts';
import type { Quote } from '../src/domain/market/quote.ts';
import { generateBook, generateQuotes } from './book.ts';
import { benchParams, CADENCE_MS, SOURCES_PER_INSTRUMENT, T0 } from './pipeline.ts';
import { benchLogger, deleteTopics, endMachine, newBus, newSink, round2, serviceEnv, servicesMachine, uniqueName, type ServiceEnv, type ServicesMachine } from './support/harness.ts';

/**
 * The `replay` section (issue "Replay", item 7): `replay()` (what `ccm replay --max` runs) over a
 * stream file of `events` generated quotes (generateQuotes, CADENCE_MS of event time apart, 3 sources per
 * instrument) against a book of 1,000 entities, through the real Kafka (the run's own one-partition
 * topic) and InfluxDB, as fast as possible. The floor: 1,000,000 events in under 60 s. A run with
 * fewer events records the extrapolated time of the full 1,000,000 at the measured rate.
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
  readonly target: { readonly events: 1_000_000; readonly seconds: 60; readonly measuredAtFullSize: boolean; readonly met: boolean };
  readonly machine: ServicesMachine;
}

export const FULL_REPLAY_EVENTS = 1_000_000;

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
  const sink = newSink(env, logger);
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
    log(`replay: ${summary.events} events in ${summary.durationMs} ms: ${eventsPerSecond} events/s`);
    const secondsFor1M = round2(eventsPerSecond > 0 ? FULL_REPLAY_EVENTS / eventsPerSecond : Infinity);
    return {
      input: { events, entities, cadenceMs, seed, sourcesPerInstrument: SOURCES_PER_INSTRUMENT },
      fileMs,
      replayMs: summary.durationMs,
      events: summary.events,
      eventsPerSecond,
      alerts: summary.alerts.length,
      secondsFor1M,
      target: { events: FULL_REPLAY_EVENTS, seconds: 60, measuredAtFullSize: summary.events >= FULL_REPLAY_EVENTS, met: summary.events >= FULL_REPLAY_EVENTS && summary.durationMs < 60_000 },
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
