import { describe, expect, it } from 'vitest';
import { MemoryBus } from '../../src/bus/memory-bus.ts';
import { Ingestor } from '../../src/ingest/ingestor.ts';
import type { Emit, QuoteSource } from '../../src/ingest/quote-source.ts';
import type { Quote } from '../../src/domain/market/quote.ts';
import { toFeedPoints } from '../../src/ingest/to-feed-points.ts';
import { FEED_METRIC_NAMES } from '../../src/ingest/feed-metrics.ts';
import { createLogger } from '../../src/logger.ts';

const NOW = Date.parse('2026-11-24T12:00:00Z');
const TOPICS = { quotes: 't.quotes', deadletter: 't.deadletter' };

/** A source driven by the test: it emits what it is told to. */
class ScriptedSource implements QuoteSource {
  emit: Emit = () => undefined;
  stopped = false;
  constructor(readonly name: string, readonly acceptsOldQuotes = false) {}
  async start(emit: Emit): Promise<void> {
    this.emit = emit;
  }
  async stop(): Promise<void> {
    this.stopped = true;
  }
}

const quote = (over: Partial<Quote> = {}): Quote => ({ v: 1, instrument: 'BTC', price: 86_000, source: 'binance', ts: NOW - 1000, tsSource: 'source', receivedAt: NOW, ...over });

async function setup(sources: QuoteSource[], clock = () => NOW) {
  const bus = new MemoryBus();
  await bus.ensureTopics([
    { topic: TOPICS.quotes, partitions: 3 },
    { topic: TOPICS.deadletter, partitions: 1 },
  ]);
  const lines: string[] = [];
  const logger = createLogger({ level: 'info', stream: { write: (s: string) => void lines.push(s) } });
  const ing = new Ingestor({ bus, topics: TOPICS, sources, bounds: { BTC: { min: 1000, max: 10_000_000 } }, clockSkewMs: 5000, maxQuoteAgeMs: 86_400_000, clock, logger });
  await ing.start();
  const read = async (topic: string) => (await bus.readToEnd(topic)).map((r) => ({ key: r.key, ts: r.ts, value: JSON.parse(String(r.value)) as Record<string, unknown> }));
  return { bus, ing, read, lines };
}

describe('Ingestor', () => {
  it('publishes a checked quote keyed by instrument with the event time as record time', async () => {
    const s = new ScriptedSource('binance');
    const { ing, read } = await setup([s]);
    s.emit({ kind: 'quote', quote: quote(), raw: { symbol: 'BTC/USDT' } });
    await ing.flush();
    expect(await read(TOPICS.quotes)).toEqual([{ key: 'BTC', ts: NOW - 1000, value: quote() }]);
    expect(ing.metrics.snapshot()).toEqual([{ source: 'binance', quotes: 1, rejects: 0, reconnects: 0, dropped: 0, lastTickAgeS: 0 }]);
  });

  it('dead-letters quotes failing the edge check and source rejects, keyed by source, and counts them', async () => {
    const s = new ScriptedSource('vast');
    const { ing, read } = await setup([s]);
    s.emit({ kind: 'quote', quote: quote({ source: 'vast', price: 5 }), raw: { p: 5 } });
    s.emit({ kind: 'quote', quote: quote({ source: 'vast', ts: NOW + 60_000 }), raw: { p: 1 } });
    s.emit({ kind: 'reject', reason: 'vast: HTTP 429', raw: { status: 429 } });
    await ing.flush();
    const dl = await read(TOPICS.deadletter);
    expect(dl.map((d) => d.key)).toEqual(['vast', 'vast', 'vast']);
    expect(dl[0].value).toMatchObject({ source: 'vast', ts: NOW, reason: expect.stringContaining('outside bounds'), raw: { quote: { price: 5 }, raw: { p: 5 } } });
    expect(dl[1].value.reason).toContain('future-dated');
    expect(dl[2].value).toEqual({ raw: { status: 429 }, reason: 'vast: HTTP 429', source: 'vast', ts: NOW });
    expect(await read(TOPICS.quotes)).toEqual([]);
    expect(ing.metrics.snapshot()[0]).toMatchObject({ quotes: 0, rejects: 3 });
  });

  it('skips the staleness check for sources that deliver old quotes (files, auctions)', async () => {
    const live = new ScriptedSource('kraken');
    const files = new ScriptedSource('brokers', true);
    const { ing, read } = await setup([live, files]);
    const old = NOW - 30 * 86_400_000;
    live.emit({ kind: 'quote', quote: quote({ source: 'kraken', ts: old }), raw: null });
    files.emit({ kind: 'quote', quote: quote({ source: 'brokers', instrument: 'resale:H100-SXM', price: 20_000, ts: old }), raw: null });
    await ing.flush();
    expect((await read(TOPICS.quotes)).map((r) => r.key)).toEqual(['resale:H100-SXM']);
    expect((await read(TOPICS.deadletter))[0].value.reason).toContain('stale');
  });

  it('logs one warning per outage naming the source and the reason, and counts reconnects', async () => {
    const s = new ScriptedSource('coinbase');
    const { ing, lines } = await setup([s]);
    s.emit({ kind: 'down', reason: 'ENOTFOUND api.coinbase.com' });
    s.emit({ kind: 'reconnect', reason: 'retry' });
    s.emit({ kind: 'down', reason: 'ENOTFOUND api.coinbase.com' });
    s.emit({ kind: 'reconnect', reason: 'retry' });
    s.emit({ kind: 'up' });
    s.emit({ kind: 'down', reason: 'ECONNRESET' });
    const warnings = lines.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.level === 40);
    expect(warnings.map((w) => w.msg)).toEqual(['source coinbase unreachable: ENOTFOUND api.coinbase.com', 'source coinbase unreachable: ECONNRESET']);
    expect(ing.metrics.snapshot()[0].reconnects).toBe(2);
  });

  it('serves Prometheus counters per source and turns the snapshot into feed points', async () => {
    let now = NOW;
    const s = new ScriptedSource('kraken');
    const { ing } = await setup([s, new ScriptedSource('runpod')], () => now);
    s.emit({ kind: 'quote', quote: quote({ source: 'kraken' }), raw: null });
    s.emit({ kind: 'reconnect', reason: 'x' });
    now += 12_000;
    const text = await ing.metrics.registry.metrics();
    expect(text).toContain(`${FEED_METRIC_NAMES.quotes}{source="kraken"} 1`);
    expect(text).toContain(`${FEED_METRIC_NAMES.quotes}{source="runpod"} 0`);
    expect(text).toContain(`${FEED_METRIC_NAMES.reconnects}{source="kraken"} 1`);
    expect(text).toContain(`${FEED_METRIC_NAMES.lastTickAge}{source="kraken"} 12`);
    expect(toFeedPoints(ing.metrics.snapshot(now), now)).toEqual([
      { measurement: 'feed', tags: { source: 'kraken', run: 'live' }, fields: { quotes: 1, rejects: 0, reconnects: 1, dropped: 0, last_tick_age_s: 12 }, ts: now },
      { measurement: 'feed', tags: { source: 'runpod', run: 'live' }, fields: { quotes: 0, rejects: 0, reconnects: 0, dropped: 0 }, ts: now },
    ]);
  });

  it('tracks the latest BTC prices per source for the hashprice derivation', async () => {
    const a = new ScriptedSource('a');
    const b = new ScriptedSource('b');
    const c = new ScriptedSource('c');
    const { ing } = await setup([a, b, c]);
    a.emit({ kind: 'quote', quote: quote({ source: 'a', price: 86_000 }), raw: null });
    b.emit({ kind: 'quote', quote: quote({ source: 'b', price: 86_100 }), raw: null });
    c.emit({ kind: 'quote', quote: quote({ source: 'c', price: 90_000, ts: NOW - 3_600_000 }), raw: null });
    expect(ing.latest.median('BTC', NOW, 900_000)).toBe(86_050);
    expect(ing.latest.median('ETH', NOW, 900_000)).toBeNull();
  });

  it('stops every source and publishes what was queued', async () => {
    const s = new ScriptedSource('binance');
    const { ing, read } = await setup([s]);
    s.emit({ kind: 'quote', quote: quote(), raw: null });
    await ing.stop();
    expect(s.stopped).toBe(true);
    expect(await read(TOPICS.quotes)).toHaveLength(1);
  });
});
