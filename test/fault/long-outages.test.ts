import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serviceEnv, uniquePrefix, SERVICES_SCRIPT } from '../support/services.ts';
import { fold, influxSink, kafkaBus, quietLogger } from '../support/pipeline.ts';
import { committedCount, compareWithFold, prepareStream, rssMiB, sleep, spawnProcess, waitHealthy, type Child, type Comparison, type Stream, tearDown } from './harness.ts';
import { Ingestor } from '../../src/ingest/ingestor.ts';
import type { Emit, QuoteSource } from '../../src/ingest/quote-source.ts';
import type { Quote } from '../../src/domain/market/quote.ts';
import type { KafkaBus } from '../../src/bus/kafka-bus.ts';
import type { InfluxSink } from '../../src/sink/influx-sink.ts';

/**
 * The long outages of issue 13 (docs/reliability.md "Long outages"), in one run so that the fault
 * project pays for five minutes twice over only once: an Ingestor feeds a steady stream (100
 * quotes/s) to a one-partition quotes topic on the fault instance and `ccm process --no-ticks`
 * consumes it, while
 *
 *   t = 10 s              InfluxDB stops   (for OUTAGE_S, 300 s)
 *   t = 10 + OUTAGE/2     Kafka stops      (for OUTAGE_S)
 *   t = 10 + OUTAGE       InfluxDB starts
 *   t = 10 + 1.5 OUTAGE   Kafka starts
 *
 * Shown: the ingestor keeps every quote of the Kafka outage in its spool (memory, then disk) and
 * each reaches the topic once, in order (point 3); the processor's memory stays bounded through
 * the InfluxDB outage, and its run equals the fold of the topic afterwards: nothing lost or doubled
 * by either outage (point 4). CCM_FAULT_OUTAGE_S shortens the outages for a local run.
 */
const OUTAGE_MS = Number(process.env.CCM_FAULT_OUTAGE_S ?? 300) * 1000;
const RATE_PER_S = 100;
const START_MS = 10_000;
const STREAM_MS = START_MS + 1.5 * OUTAGE_MS + 20_000;
const QUOTES = Math.round((STREAM_MS / 1000) * RATE_PER_S);
const ENTITIES = 40;
const env = serviceEnv('fault');
const services = (...args: string[]) => execFileSync('bash', [SERVICES_SCRIPT, ...args, '--instance', 'fault'], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });

/** Emits the stream at RATE_PER_S, in slices every 100 ms, in event-time order; `now` follows the stream. */
class SteadySource implements QuoteSource {
  readonly name = 'steady';
  private timer: NodeJS.Timeout | null = null;
  private next = 0;
  now = 0;
  readonly done: Promise<void>;
  private resolveDone: () => void = () => undefined;
  constructor(private readonly quotes: readonly Quote[]) {
    this.done = new Promise((r) => (this.resolveDone = r));
  }
  async start(emit: Emit): Promise<void> {
    const perTick = RATE_PER_S / 10;
    this.timer = setInterval(() => {
      for (const q of this.quotes.slice(this.next, this.next + perTick)) {
        this.now = q.ts;
        emit({ kind: 'quote', quote: q, raw: q });
      }
      this.next += perTick;
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

describe('long outages: InfluxDB and then Kafka away for five minutes each under a steady feed', () => {
  let bus: KafkaBus;
  let sink: InfluxSink;
  let s: Stream;
  let child: Child;
  let result: Comparison;
  let exitCode: number | null = null;
  let kafkaStopped = false;
  let influxStopped = false;
  const rssDuringInflux: number[] = [];
  const committedDuringInflux: number[] = [];
  let rssBefore = 0;
  let maxSpooled = 0;
  let maxSpoolDiskBytes = 0;
  let spoolFilesDuringKafka = 0;
  let dropped = -1;
  let onTopic: Quote[] = [];
  let committed = -1;
  const key = (q: { instrument: string; source: string; ts: number }) => `${q.instrument}|${q.source}|${q.ts}`;

  beforeAll(async () => {
    bus = kafkaBus(env);
    sink = influxSink(env);
    await sink.ensure();
    s = await prepareStream({ bus, env, prefix: uniquePrefix('long-outages'), entities: ENTITIES, quotes: QUOTES, seed: 29, quotePartitions: 1 });
    child = await spawnProcess({ dir: s.dir, env: s.env, args: ['--config', s.configPath, '--run', s.run, '--no-ticks'] });
    await waitHealthy(child);
    const pid = child.proc.pid as number;
    rssBefore = rssMiB(pid);
    const source = new SteadySource(s.quotes);
    const ingestBus = kafkaBus(env);
    const spoolDir = mkdtempSync(join(tmpdir(), 'ccm-fault-spool-'));
    // a small memory part, so the outage goes to disk as it would in a long one
    const ingestor = new Ingestor({
      bus: ingestBus,
      topics: { quotes: s.topics.quotes, deadletter: s.topics.deadletter },
      sources: [source],
      bounds: {},
      clockSkewMs: 60_000,
      maxQuoteAgeMs: 3_600_000,
      clock: () => source.now,
      logger: quietLogger(),
      spool: { dir: spoolDir, memoryRecords: 2000, maxBytes: 256 * 1024 * 1024 },
    });
    await ingestor.start();
    const t0 = Date.now();
    const at = (ms: number) => sleep(Math.max(0, t0 + ms - Date.now()));
    const sampleUntil = async (ms: number, during: () => void) => {
      while (Date.now() < t0 + ms) {
        during();
        await sleep(1000);
      }
    };
    await at(START_MS);
    services('stop', 'influx');
    influxStopped = true;
    console.log(`long outages: InfluxDB stopped at ${Math.round((Date.now() - t0) / 1000)} s`);
    const group = `${s.prefix}g.quotes.p0`;
    while (Date.now() < t0 + START_MS + OUTAGE_MS / 2) {
      rssDuringInflux.push(rssMiB(pid));
      committedDuringInflux.push(await committedCount(bus, group, s.topics.quotes));
      await sleep(1000);
    }
    services('stop', 'kafka');
    kafkaStopped = true;
    console.log(`long outages: Kafka stopped at ${Math.round((Date.now() - t0) / 1000)} s`);
    const spoolSample = () => {
      maxSpooled = Math.max(maxSpooled, ingestor.spool.size);
      maxSpoolDiskBytes = Math.max(maxSpoolDiskBytes, ingestor.spool.diskBytes);
      spoolFilesDuringKafka = Math.max(spoolFilesDuringKafka, readdirSync(spoolDir).filter((f) => f.endsWith('.ndjson')).length);
    };
    await sampleUntil(START_MS + OUTAGE_MS, () => {
      rssDuringInflux.push(rssMiB(pid));
      spoolSample();
    });
    services('start', 'influx');
    influxStopped = false;
    console.log(`long outages: InfluxDB started at ${Math.round((Date.now() - t0) / 1000)} s`);
    await sampleUntil(START_MS + 1.5 * OUTAGE_MS, spoolSample);
    services('start', 'kafka');
    kafkaStopped = false;
    console.log(`long outages: Kafka started at ${Math.round((Date.now() - t0) / 1000)} s; spool held at most ${maxSpooled} records, ${maxSpoolDiskBytes} bytes on disk`);
    await source.done;
    await ingestor.flush();
    dropped = ingestor.failedPublishes;
    await ingestor.stop();
    await ingestBus.close();
    // the reads after the restart go through a new client (fresh metadata and connections)
    await bus.close();
    bus = kafkaBus(env);
    const records = await bus.readToEnd(s.topics.quotes);
    onTopic = records.map((r) => JSON.parse(r.value?.toString('utf8') ?? '{}') as Quote);
    const deadline = Date.now() + 300_000;
    while (Date.now() < deadline && child.proc.exitCode === null && (await committedCount(bus, group, s.topics.quotes)) < records.length) await sleep(500);
    committed = await committedCount(bus, group, s.topics.quotes);
    child.proc.kill('SIGTERM');
    exitCode = (await child.exited).code;
    result = await compareWithFold(bus, env, s, records, fold(s.params, s.entities, records, { flush: false }));
    console.log(
      `long outages: ${records.length} records for ${QUOTES} quotes; processor RSS ${rssBefore.toFixed(0)} MiB before, at most ${Math.max(...rssDuringInflux).toFixed(0)} MiB during the InfluxDB outage; ${result.expectedPoints} points and ${result.expectedAlerts.length} alerts compared; exit ${exitCode}`,
    );
  }, OUTAGE_MS * 2 + 600_000);

  afterAll(async () => {
    if (kafkaStopped) services('start', 'kafka');
    if (influxStopped) services('start', 'influx');
    await tearDown({ children: [child], sink, bus, run: s?.run });
  });

  it('keeps the quotes of the Kafka outage in the spool, on disk past its memory part, dropping none', () => {
    expect(maxSpooled).toBeGreaterThan(RATE_PER_S * (OUTAGE_MS / 1000) * 0.8);
    expect(spoolFilesDuringKafka).toBeGreaterThan(0);
    expect(maxSpoolDiskBytes).toBeGreaterThan(0);
    expect(dropped).toBe(0);
  });

  it('puts every quote on the topic once, in the order they were fed', () => {
    const counts = new Map<string, number>();
    for (const q of onTopic) counts.set(key(q), (counts.get(key(q)) ?? 0) + 1);
    expect(s.quotes.filter((q) => counts.get(key(q)) !== 1).map(key).slice(0, 5)).toEqual([]);
    expect(onTopic.length).toBe(QUOTES);
    expect(onTopic.map(key)).toEqual(s.quotes.map(key));
  });

  it('commits nothing past what InfluxDB acknowledged while it is away (consumption waits)', () => {
    // after the writes in flight at the stop, the committed offsets stand still while quotes keep coming
    expect(committedDuringInflux.length).toBeGreaterThan(10);
    expect(committedDuringInflux.at(-1)).toBe(committedDuringInflux[5]);
    expect(committedDuringInflux.at(-1)).toBeLessThan(RATE_PER_S * ((START_MS + OUTAGE_MS / 2) / 1000) * 0.5);
  });

  it('keeps the processor bounded in memory while InfluxDB is away', () => {
    expect(rssDuringInflux.length).toBeGreaterThan(OUTAGE_MS / 1000 / 2);
    expect(Math.max(...rssDuringInflux) - rssBefore).toBeLessThan(150);
  });

  it('processes the whole topic once both are back, exits 0 on SIGTERM, and writes exactly the fold', () => {
    expect(committed).toBe(onTopic.length);
    expect(exitCode).toBe(0);
    expect(result.expectedPoints).toBeGreaterThan(QUOTES);
    expect(result.missing.slice(0, 5)).toEqual([]);
    expect(result.extra.slice(0, 5)).toEqual([]);
    expect(result.differing.slice(0, 5)).toEqual([]);
    expect(result.publishedAlerts).toEqual(result.expectedAlerts);
  });
});
