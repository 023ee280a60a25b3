import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { serviceEnv, uniquePrefix, SERVICES_SCRIPT } from '../support/services.ts';
import { fold, influxSink, kafkaBus, quietLogger } from '../support/pipeline.ts';
import { committedCount, compareWithFold, prepareStream, publishQuotes, sleep, spawnProcess, waitHealthy, type Child, type Comparison, type Stream, tearDown } from './harness.ts';
import { Ingestor } from '../../src/ingest/ingestor.ts';
import type { Emit, QuoteSource } from '../../src/ingest/quote-source.ts';
import type { Quote } from '../../src/domain/market/quote.ts';
import type { KafkaBus } from '../../src/bus/kafka-bus.ts';
import type { InfluxSink } from '../../src/sink/influx-sink.ts';

/**
 * Issue "The stream processor on Kafka", item 5c: Kafka of the fault instance is stopped and
 * started again while an Ingestor (a paced fake source of a generated stream) publishes and
 * `ccm process` consumes. Both recover: every generated quote reaches the topic, and the run
 * writes exactly the fold of what the topic holds: every series of every measurement, and the
 * alert events.
 *
 * The quotes topic has ONE partition here. Live, with several partitions, a partition that is
 * momentarily caught up stops holding the watermark back, so its next quote can arrive behind
 * newer quotes of another partition and is applied late, at the processor's clock: correct live
 * behaviour, but an arrival order no sorted fold reproduces. One partition makes the order on the
 * topic the order of application, so the comparison can be exact across the Kafka restart; it
 * also checks that the producer's retries across the restart kept the stream's order (a
 * reordered retry would show up as late quotes and differing windows).
 */
const QUOTES = 10_000;
const ENTITIES = 40;
const PER_TICK = 100; // quotes every 100 ms: 10 s of stream
const env = serviceEnv('fault');
const services = (...args: string[]) => execFileSync('bash', [SERVICES_SCRIPT, ...args, '--instance', 'fault'], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });

/** Emits the stream in slices every 100 ms, in event-time order; `now` follows the stream. */
class PacedSource implements QuoteSource {
  readonly name = 'paced';
  private timer: NodeJS.Timeout | null = null;
  private next = 0;
  now = 0;
  done: Promise<void>;
  private resolveDone: () => void = () => undefined;
  constructor(private readonly quotes: readonly Quote[]) {
    this.done = new Promise((r) => (this.resolveDone = r));
  }
  async start(emit: Emit): Promise<void> {
    this.timer = setInterval(() => {
      for (const q of this.quotes.slice(this.next, this.next + PER_TICK)) {
        this.now = q.ts;
        emit({ kind: 'quote', quote: q, raw: q });
      }
      this.next += PER_TICK;
      if (this.next >= this.quotes.length) {
        if (this.timer) clearInterval(this.timer);
        this.resolveDone();
      }
    }, 100);
  }
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
  }
}

describe('a Kafka restart while ingest publishes and the processor consumes', () => {
  let bus: KafkaBus;
  let sink: InfluxSink;
  let s: Stream;
  let child: Child;
  let result: Comparison;
  let exitCode: number | null = null;
  let kafkaStopped = false;
  let ingested = new Set<string>();
  let failedPublishes = -1;
  let committed = -1;
  const key = (q: { instrument: string; source: string; ts: number }) => `${q.instrument}|${q.source}|${q.ts}`;

  beforeAll(async () => {
    bus = kafkaBus(env);
    sink = influxSink(env);
    await sink.ensure();
    s = await prepareStream({ bus, env, prefix: uniquePrefix('kafka-restart'), entities: ENTITIES, quotes: QUOTES, seed: 17, quotePartitions: 1 });
    child = await spawnProcess({ dir: s.dir, env: s.env, args: ['--config', s.configPath, '--run', s.run, '--no-ticks'] });
    await waitHealthy(child);
    const source = new PacedSource(s.quotes);
    const ingestBus = kafkaBus(env);
    const ingestor = new Ingestor({ bus: ingestBus, topics: { quotes: s.topics.quotes, deadletter: s.topics.deadletter }, sources: [source], bounds: {}, clockSkewMs: 60_000, maxQuoteAgeMs: 3_600_000, clock: () => source.now, logger: quietLogger() });
    await ingestor.start();
    // Kafka stops once the processor has committed part of the stream (not after a guessed delay)
    for (let i = 0; i < 600 && (await committedCount(bus, `${s.prefix}g.quotes.p0`, s.topics.quotes)) < 1000; i++) await sleep(50);
    services('stop', 'kafka');
    kafkaStopped = true;
    await sleep(5000);
    services('start', 'kafka');
    kafkaStopped = false;
    await source.done;
    await ingestor.stop();
    failedPublishes = ingestor.failedPublishes;
    await ingestBus.close();
    // the reads after the restart go through a new client (fresh metadata and connections)
    await bus.close();
    bus = kafkaBus(env);
    console.log('kafka restart: ingest done; reading the topic');
    const records = await bus.readToEnd(s.topics.quotes);
    ingested = new Set(records.map((r) => key(JSON.parse(r.value?.toString('utf8') ?? '{}') as Quote)));
    const group = `${s.prefix}g.quotes.p0`;
    for (let i = 0; i < 1200 && (await committedCount(bus, group, s.topics.quotes)) < records.length; i++) await sleep(100);
    committed = await committedCount(bus, group, s.topics.quotes);
    console.log('kafka restart: processed; stopping the processor');
    child.proc.kill('SIGTERM');
    exitCode = (await child.exited).code;
    console.log(`kafka restart: processor exited ${exitCode}; comparing`);
    // Nothing lost, nothing duplicated, nothing reordered: every measurement and the alerts equal
    // the fold over the topic (the window still open at SIGTERM is not flushed by a live run).
    result = await compareWithFold(bus, env, s, records, fold(s.params, s.entities, records, { flush: false }));
    console.log(`kafka restart: ${records.length} records on the topic for ${QUOTES} quotes, ${failedPublishes} failed publishes, ${result.expectedPoints} points compared, ${result.expectedAlerts.length} alerts`);
  }, 400_000);

  afterAll(async () => {
    if (kafkaStopped) services('start', 'kafka');
    await tearDown({ children: [child], sink, bus, run: s?.run });
  });

  it('gets every generated quote onto the topic (the producer retried across the restart)', () => {
    expect(failedPublishes).toBe(0);
    expect(s.quotes.filter((q) => !ingested.has(key(q)))).toEqual([]);
  });

  it('processes the whole topic after the restart and exits 0 on SIGTERM', () => {
    expect(exitCode).toBe(0);
  });

  it('loses no quote: the whole topic is committed and the run writes exactly the fold, every measurement', () => {
    expect(committed).toBe(QUOTES);
    // more than one point per quote: windows (index, valuation, facility, ...) are compared too
    expect(result.expectedPoints).toBeGreaterThan(QUOTES);
    expect(result.missing.slice(0, 5)).toEqual([]);
    expect(result.extra.slice(0, 5)).toEqual([]);
    expect(result.differing.slice(0, 5)).toEqual([]);
  });

  it('publishes the alert sequence of the fold, none lost across the restart', () => {
    expect(result.expectedAlerts.length).toBeGreaterThan(0);
    expect(result.publishedAlerts).toEqual(result.expectedAlerts);
  });
});

/**
 * Issue 13 point 4: the same restart with FOUR quote partitions, the stream on the topic before the
 * processor starts (so the order of application is the merger's, exact across partitions), Kafka
 * stopped for 10 s once a quarter of it is committed. The consumer of every partition resumes at
 * its committed offset and the run equals the fold: nothing lost, nothing applied twice.
 */
describe('a Kafka restart while the processor consumes four partitions', () => {
  const N = 30_000;
  let bus: KafkaBus;
  let sink: InfluxSink;
  let s: Stream;
  let child: Child;
  let result: Comparison;
  let exitCode: number | null = null;
  let kafkaStopped = false;
  let committedAtStop = 0;
  let committed = 0;

  beforeAll(async () => {
    bus = kafkaBus(env);
    sink = influxSink(env);
    await sink.ensure();
    s = await prepareStream({ bus, env, prefix: uniquePrefix('kafka-restart-4p'), entities: ENTITIES, quotes: N, seed: 23, quotePartitions: 4 });
    await publishQuotes(bus, s.topics.quotes, s.quotes);
    child = await spawnProcess({ dir: s.dir, env: s.env, args: ['--config', s.configPath, '--run', s.run, '--no-ticks'] });
    await waitHealthy(child);
    const group = `${s.prefix}g.quotes.p0`;
    for (let i = 0; i < 1200 && (committedAtStop = await committedCount(bus, group, s.topics.quotes)) < N / 4; i++) await sleep(50);
    services('stop', 'kafka');
    kafkaStopped = true;
    await sleep(10_000);
    services('start', 'kafka');
    kafkaStopped = false;
    await bus.close();
    bus = kafkaBus(env);
    for (let i = 0; i < 2400 && child.proc.exitCode === null && (committed = await committedCount(bus, group, s.topics.quotes)) < N; i++) await sleep(100);
    child.proc.kill('SIGTERM');
    exitCode = (await child.exited).code;
    const records = await bus.readToEnd(s.topics.quotes);
    result = await compareWithFold(bus, env, s, records, fold(s.params, s.entities, records, { flush: false }));
    console.log(`kafka restart, 4 partitions: stopped at ${committedAtStop} committed of ${N}; ${committed} committed at the end; ${result.expectedPoints} points, ${result.expectedAlerts.length} alerts compared; exit ${exitCode}`);
  }, 400_000);

  afterAll(async () => {
    if (kafkaStopped) services('start', 'kafka');
    await tearDown({ children: [child], sink, bus, run: s?.run });
  });

  it('was stopped in the middle of the stream, and the processor came through it', () => {
    expect(committedAtStop).toBeGreaterThanOrEqual(N / 4);
    expect(committedAtStop).toBeLessThan(N);
    expect(committed).toBe(N);
    expect(exitCode).toBe(0);
  });

  it('writes exactly the fold over the four partitions, every measurement and the alerts', () => {
    expect(result.expectedPoints).toBeGreaterThan(N);
    expect(result.missing.slice(0, 5)).toEqual([]);
    expect(result.extra.slice(0, 5)).toEqual([]);
    expect(result.differing.slice(0, 5)).toEqual([]);
    expect(result.publishedAlerts).toEqual(result.expectedAlerts);
  });
});
