import { mkdtempSync, readdirSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Bus, ProduceRecord } from '../../src/bus/bus.ts';
import { MemoryBus } from '../../src/bus/memory-bus.ts';
import { ErrorCode, MonitorError, isMonitorError } from '../../src/domain/errors.ts';
import type { Quote } from '../../src/domain/market/quote.ts';
import { Ingestor, SPOOL_METRIC_NAMES } from '../../src/ingest/ingestor.ts';
import { FEED_METRIC_NAMES } from '../../src/ingest/feed-metrics.ts';
import type { Emit, QuoteSource } from '../../src/ingest/quote-source.ts';
import { Spool } from '../../src/ingest/spool.ts';
import { toFeedPoints } from '../../src/ingest/to-feed-points.ts';

const dirs: string[] = [];
const newDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'ccm-spool-test-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const NOW = Date.parse('2026-12-03T09:00:00Z');
const rec = (i: number, source = 'kraken'): ProduceRecord => ({ topic: 'q', key: 'BTC', value: { v: 1, instrument: 'BTC', price: 80_000 + i, source, ts: NOW + i, tsSource: 'source', receivedAt: NOW + i }, ts: NOW + i });
const priceOf = (r: ProduceRecord) => (r.value as { price: number }).price - 80_000;

/** Takes everything out of a spool, n at a time, as the sender does. */
function drain(s: Spool, n = 7): number[] {
  const out: number[] = [];
  for (let batch = s.peek(n); batch.length > 0; batch = s.peek(n)) {
    out.push(...batch.map(priceOf));
    s.ack(batch.length);
  }
  return out;
}

describe('Spool', () => {
  it('keeps order across memory and disk: the oldest records go to disk first and come out first', () => {
    const dir = newDir();
    const s = new Spool({ dir, memoryRecords: 10, maxBytes: 10 * 1024 * 1024, segmentBytes: 1024 });
    s.push(Array.from({ length: 100 }, (_, i) => rec(i)));
    expect(s.size).toBe(100);
    expect(readdirSync(dir).filter((f) => f.endsWith('.ndjson')).length).toBeGreaterThan(1);
    // more arrive while the oldest are being sent
    const first = s.peek(5).map(priceOf);
    s.push(Array.from({ length: 20 }, (_, i) => rec(100 + i)));
    s.ack(5);
    expect([...first, ...drain(s)]).toEqual(Array.from({ length: 120 }, (_, i) => i));
    expect(s.size).toBe(0);
    expect(readdirSync(dir).filter((f) => f.endsWith('.ndjson'))).toEqual([]);
  });

  it('drops the oldest segment when the disk is full, counts its records per source, and keeps the newest', () => {
    const dir = newDir();
    const drops = new Map<string, number>();
    const s = new Spool({ dir, memoryRecords: 10, maxBytes: 8 * 1024, segmentBytes: 1024, onDrop: (source, n) => drops.set(source, (drops.get(source) ?? 0) + n) });
    s.push(Array.from({ length: 400 }, (_, i) => rec(i, i % 2 === 0 ? 'kraken' : 'coinbase')));
    expect(s.diskBytes).toBeLessThanOrEqual(8 * 1024);
    expect(s.dropped).toBeGreaterThan(0);
    expect((drops.get('kraken') ?? 0) + (drops.get('coinbase') ?? 0)).toBe(s.dropped);
    const left = drain(s);
    expect(left.length + s.dropped).toBe(400);
    // what is left is the newest, still in order
    expect(left).toEqual(Array.from({ length: left.length }, (_, i) => 400 - left.length + i));
  });

  it('without a directory, drops the oldest records past the memory limit', () => {
    const s = new Spool({ dir: null, memoryRecords: 10, maxBytes: 0 });
    s.push(Array.from({ length: 25 }, (_, i) => rec(i)));
    expect(s.dropped).toBe(15);
    expect(drain(s)).toEqual(Array.from({ length: 10 }, (_, i) => 15 + i));
  });

  it('survives a restart: what persist() wrote, and segments left behind, come out first and in order', () => {
    const dir = newDir();
    const a = new Spool({ dir, memoryRecords: 10, maxBytes: 1024 * 1024, segmentBytes: 1024 });
    a.push(Array.from({ length: 50 }, (_, i) => rec(i)));
    a.persist();
    a.close();
    // a crash in the middle of an append leaves a cut line
    const last = readdirSync(dir).filter((f) => f.endsWith('.ndjson')).sort().at(-1) as string;
    appendFileSync(join(dir, last), '{"topic":"q","key":"BTC","val');
    const b = new Spool({ dir, memoryRecords: 10, maxBytes: 1024 * 1024, segmentBytes: 1024 });
    b.push(Array.from({ length: 5 }, (_, i) => rec(50 + i)));
    expect(drain(b)).toEqual(Array.from({ length: 55 }, (_, i) => i));
  });

  it('acknowledges records peeked from memory even when only some of them were spilled to disk meanwhile', () => {
    const dir = newDir();
    const s = new Spool({ dir, memoryRecords: 100, maxBytes: 1024 * 1024, segmentBytes: 4096 });
    s.push(Array.from({ length: 100 }, (_, i) => rec(i)));
    const inFlight = s.peek(50).map(priceOf);
    // ten more arrive: the ten oldest (in flight) go to disk, forty in flight stay in memory
    s.push(Array.from({ length: 10 }, (_, i) => rec(100 + i)));
    s.ack(inFlight.length);
    expect(s.size).toBe(60);
    expect(drain(s)).toEqual(Array.from({ length: 60 }, (_, i) => 50 + i));
  });

  it('does not remove other records when the segment being sent was dropped meanwhile', () => {
    const dir = newDir();
    const s = new Spool({ dir, memoryRecords: 1, maxBytes: 4 * 1024, segmentBytes: 512 });
    s.push(Array.from({ length: 20 }, (_, i) => rec(i)));
    const inFlight = s.peek(3).map(priceOf);
    expect(inFlight).toEqual([0, 1, 2]);
    // the outage goes on: the disk fills and the head segment (the one being sent) is dropped
    s.push(Array.from({ length: 200 }, (_, i) => rec(20 + i)));
    const before = s.size;
    s.ack(3);
    expect(s.size).toBe(before);
  });

  it('refuses a directory another live process holds', () => {
    const dir = newDir();
    writeFileSync(join(dir, 'LOCK'), String(process.ppid));
    let caught: unknown = null;
    try {
      new Spool({ dir, memoryRecords: 10, maxBytes: 1024 });
    } catch (e) {
      caught = e;
    }
    expect(isMonitorError(caught) && caught.code).toBe(ErrorCode.CONFIG_INVALID);
    expect((caught as Error).message).toContain(`is in use by process ${process.ppid}`);
    // a lock left by a process that is gone is taken over
    writeFileSync(join(dir, 'LOCK'), '999999999');
    expect(() => new Spool({ dir, memoryRecords: 10, maxBytes: 1024 }).close()).not.toThrow();
  });
});

/** A source the test drives. */
class ScriptedSource implements QuoteSource {
  emit: Emit = () => undefined;
  constructor(readonly name: string) {}
  async start(emit: Emit): Promise<void> {
    this.emit = emit;
  }
  async stop(): Promise<void> {}
}

/** A MemoryBus whose publishes fail while `down` is true, as KafkaBus's do when Kafka is away. */
class FlakyBus extends MemoryBus {
  down = false;
  failures = 0;
  /** Writes the records, then fails as if the answer was lost (a broker going away after the write). */
  loseAnswers = 0;
  override async publish(records: readonly ProduceRecord[]): Promise<void> {
    if (this.loseAnswers > 0) {
      this.loseAnswers--;
      await super.publish(records);
      throw new MonitorError('kafka publish: Request Produce timed out', { code: ErrorCode.BUS_FAILED, retriable: true });
    }
    if (this.down) {
      this.failures++;
      throw new MonitorError('kafka publish: Connection error: connect ECONNREFUSED', { code: ErrorCode.BUS_FAILED, retriable: true });
    }
    return super.publish(records);
  }
}

const quote = (i: number, source = 'kraken'): Quote => ({ v: 1, instrument: 'BTC', price: 80_000 + i, source, ts: NOW + i, tsSource: 'source', receivedAt: NOW + i });

async function until(pred: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function ingestorOn(bus: Bus, dir: string | null, memoryRecords = 50, maxBytes = 1024 * 1024) {
  await bus.ensureTopics([
    { topic: 'q', partitions: 3 },
    { topic: 'dl', partitions: 1 },
  ]);
  const src = new ScriptedSource('kraken');
  const ing = new Ingestor({
    bus,
    topics: { quotes: 'q', deadletter: 'dl' },
    sources: [src],
    bounds: {},
    clockSkewMs: 1e12,
    maxQuoteAgeMs: 1e12,
    clock: () => NOW,
    spool: { dir, memoryRecords, maxBytes, segmentBytes: 2048 },
    publishBackoff: { initialMs: 1, maxMs: 5 },
    stopDrainMs: 50,
  });
  await ing.start();
  return { ing, src };
}

const published = async (bus: Bus) => (await bus.readToEnd('q')).map((r) => (JSON.parse(String(r.value)) as Quote).price - 80_000).sort((a, b) => a - b);

describe('Ingestor while Kafka is away', () => {
  it('keeps every quote of the outage and publishes each once, in order per instrument, when Kafka is back', async () => {
    const bus = new FlakyBus();
    const { ing, src } = await ingestorOn(bus, newDir());
    for (let i = 0; i < 100; i++) src.emit({ kind: 'quote', quote: quote(i), raw: null });
    await ing.flush();
    bus.down = true;
    for (let i = 100; i < 600; i++) src.emit({ kind: 'quote', quote: quote(i), raw: null });
    await until(() => bus.failures >= 5, 'publishes failing');
    expect(ing.spool.size).toBe(500);
    expect(ing.spool.diskBytes).toBeGreaterThan(0);
    bus.down = false;
    await ing.flush();
    const all = (await bus.readToEnd('q')).map((r) => (JSON.parse(String(r.value)) as Quote).price - 80_000);
    // one partition per instrument: the topic's order is the order of the quotes
    expect(all).toEqual(Array.from({ length: 600 }, (_, i) => i));
    expect(ing.failedPublishes).toBe(0);
    expect(await ing.metrics.registry.getSingleMetricAsString(SPOOL_METRIC_NAMES.records)).toContain(`${SPOOL_METRIC_NAMES.records} 0`);
    await ing.stop();
  });

  it('does not publish twice what a failed publish had in fact written', async () => {
    const bus = new FlakyBus();
    const { ing, src } = await ingestorOn(bus, newDir());
    bus.down = true;
    for (let i = 0; i < 300; i++) src.emit({ kind: 'quote', quote: quote(i), raw: null });
    await until(() => bus.failures >= 2, 'publishes failing');
    // Kafka comes back, takes the first batch, and the answer is lost; then a second time
    bus.loseAnswers = 2;
    bus.down = false;
    await ing.flush();
    expect((await bus.readToEnd('q')).map((r) => (JSON.parse(String(r.value)) as Quote).price - 80_000)).toEqual(Array.from({ length: 300 }, (_, i) => i));
    await ing.stop();
  });

  it('writes what Kafka has not taken at the stop to disk, and the next start publishes it first', async () => {
    const bus = new FlakyBus();
    const dir = newDir();
    const first = await ingestorOn(bus, dir);
    bus.down = true;
    for (let i = 0; i < 30; i++) first.src.emit({ kind: 'quote', quote: quote(i), raw: null });
    await first.ing.stop();
    expect(await published(bus)).toEqual([]);
    bus.down = false;
    const second = await ingestorOn(bus, dir);
    for (let i = 30; i < 40; i++) second.src.emit({ kind: 'quote', quote: quote(i), raw: null });
    await second.ing.flush();
    expect((await bus.readToEnd('q')).map((r) => (JSON.parse(String(r.value)) as Quote).price - 80_000)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    await second.ing.stop();
  });

  it('drops the oldest when the spool is full and counts them per source in the metrics and the feed points', async () => {
    const bus = new FlakyBus();
    const { ing, src } = await ingestorOn(bus, newDir(), 10, 8 * 1024);
    bus.down = true;
    for (let i = 0; i < 500; i++) src.emit({ kind: 'quote', quote: quote(i), raw: null });
    await until(() => ing.failedPublishes > 0, 'a drop');
    bus.down = false;
    await ing.flush();
    const got = await published(bus);
    expect(got.length + ing.failedPublishes).toBe(500);
    expect(got.at(-1)).toBe(499);
    const snap = ing.metrics.snapshot(NOW);
    expect(snap[0]).toMatchObject({ source: 'kraken', quotes: 500, dropped: ing.failedPublishes });
    expect(toFeedPoints(snap, NOW)[0].fields).toMatchObject({ dropped: ing.failedPublishes });
    expect(await ing.metrics.registry.getSingleMetricAsString(FEED_METRIC_NAMES.dropped)).toContain(`{source="kraken"} ${ing.failedPublishes}`);
    await ing.stop();
  });
});
