import { describe, expect, it } from 'vitest';
import { applyQuote, computeIndex, emptyMarketIndex, indexRuleFor, refreshIndex } from '../../src/domain/market/market-index.ts';
import type { SourceQuote } from '../../src/domain/market/market-index.ts';
import { eventId, fnv1a64 } from '../../src/domain/event-id.ts';

const rule = { staleAfterMs: 1_000, maxDeviation: 0.1, minSources: 1 };
const quotes = (entries: Array<[string, number, number]>): Map<string, SourceQuote> =>
  new Map(entries.map(([s, price, ts]) => [s, { price, ts }]));

describe('computeIndex', () => {
  it('takes the median of the fresh sources, the mean of the two middle values for an even count', () => {
    expect(computeIndex(quotes([['a', 100, 0], ['b', 104, 0], ['c', 102, 0]]), 0, rule, null).value).toBe(102);
    expect(computeIndex(quotes([['a', 100, 0], ['b', 104, 0]]), 0, rule, null).value).toBe(102);
  });

  it('leaves out a source older than staleAfter, measured against the clock', () => {
    const c = computeIndex(quotes([['a', 100, 0], ['b', 200, 500]]), 1_001, rule, null);
    expect(c.value).toBe(200);
    expect(c.sources).toBe(1);
    expect(c.bySource).toEqual({ b: 200 });
    expect(c.nextExpiryMs).toBe(1_500);
  });

  it('keeps the last value and marks the index stale with fewer fresh sources than minSources', () => {
    const c = computeIndex(quotes([['a', 100, 0]]), 5_000, rule, 99);
    expect(c).toMatchObject({ value: 99, stale: true, sources: 0 });
    const two = computeIndex(quotes([['a', 100, 5_000]]), 5_000, { ...rule, minSources: 2 }, 99);
    expect(two).toMatchObject({ value: 99, stale: true, sources: 1 });
  });

  it('rejects an outlier against the median of the other fresh sources and keeps the good ones beside it', () => {
    const c = computeIndex(quotes([['a', 100, 0], ['b', 100, 0], ['c', 200, 0]]), 0, rule, null);
    expect(c.value).toBe(100);
    expect(c.sources).toBe(2);
    expect(c.rejected.map((r) => r.source)).toEqual(['c']);
    expect(c.rejected[0].median).toBe(100);
  });

  it('does not reject with fewer than two other fresh sources', () => {
    const c = computeIndex(quotes([['a', 100, 0], ['b', 300, 0]]), 0, rule, null);
    expect(c.rejected).toEqual([]);
    expect(c.value).toBe(200);
  });

  it('rejects several outliers worst first while two others remain', () => {
    const c = computeIndex(quotes([['a', 100, 0], ['b', 101, 0], ['c', 99, 0], ['d', 150, 0], ['e', 30, 0]]), 0, rule, null);
    expect(c.rejected.map((r) => r.source).sort()).toEqual(['d', 'e']);
    expect(c.value).toBe(100);
  });
});

describe('indexRuleFor', () => {
  const r = (staleAfterMs: number) => ({ staleAfterMs, maxDeviation: 0.1, minSources: 1 });
  const params = { indexRules: { BTC: r(1), 'kind:rental': r(2), default: r(3) } };
  it('prefers the exact id, then the kind, then default', () => {
    expect(indexRuleFor(params, 'BTC').staleAfterMs).toBe(1);
    expect(indexRuleFor(params, 'rental:H100-SXM').staleAfterMs).toBe(2);
    expect(indexRuleFor(params, 'ETH').staleAfterMs).toBe(3);
  });
});

describe('applyQuote', () => {
  const params = { indexRules: { default: rule } };
  it('keeps the market view in step with index values', () => {
    const mi = emptyMarketIndex();
    applyQuote(mi, { instrument: 'rental:H100-SXM', source: 'x', price: 2.1, ts: 0 }, 0, params);
    applyQuote(mi, { instrument: 'BTC', source: 'x', price: 100_000, ts: 0 }, 0, params);
    applyQuote(mi, { instrument: 'hashprice', source: 'x', price: 0.05, ts: 0 }, 0, params);
    expect(mi.market).toEqual({ crypto: { BTC: 100_000 }, rental: { 'H100-SXM': 2.1 }, resale: {}, hashprice: 0.05 });
  });

  it('ignores a quote older than the last one of the same source', () => {
    const mi = emptyMarketIndex();
    applyQuote(mi, { instrument: 'BTC', source: 'x', price: 100, ts: 10 }, 10, params);
    expect(applyQuote(mi, { instrument: 'BTC', source: 'x', price: 50, ts: 5 }, 10, params)).toBeNull();
    expect(mi.market.crypto.BTC).toBe(100);
  });

  it('reports an outlier quote once however often the index is recomputed', () => {
    const mi = emptyMarketIndex();
    applyQuote(mi, { instrument: 'BTC', source: 'a', price: 100, ts: 0 }, 0, params);
    applyQuote(mi, { instrument: 'BTC', source: 'b', price: 100, ts: 0 }, 0, params);
    const c = applyQuote(mi, { instrument: 'BTC', source: 'c', price: 300, ts: 0 }, 0, params);
    expect(c?.newRejections.map((r) => r.source)).toEqual(['c']);
    const again = refreshIndex(mi, mi.instruments.get('BTC')!, 1);
    expect(again.newRejections).toEqual([]);
  });
});

describe('eventId', () => {
  it('is FNV-1a 64 over UTF-8 (published test vectors)', () => {
    expect(fnv1a64('')).toBe('cbf29ce484222325');
    expect(fnv1a64('a')).toBe('af63dc4c8601ec8c');
    expect(fnv1a64('foobar')).toBe('85944171f73967e8');
  });

  it('hashes multi-byte characters as their UTF-8 bytes', () => {
    const viaBytes = (s: string): string => {
      let h = 0xcbf29ce484222325n;
      for (const b of new TextEncoder().encode(s)) h = ((h ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn;
      return h.toString(16).padStart(16, '0');
    };
    for (const s of ['é', '€', 'naïve-𝔘', 'ok']) expect(fnv1a64(s)).toBe(viaBytes(s));
  });

  it('tells apart parts that a plain join would confuse', () => {
    expect(eventId('a|b', 'c')).not.toBe(eventId('a', 'b|c'));
    expect(eventId(null)).not.toBe(eventId('null'));
    expect(eventId(1)).not.toBe(eventId('1'));
  });
});
