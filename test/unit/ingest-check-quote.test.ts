import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { checkQuote, boundsFor } from '../../src/ingest/check-quote.ts';
import type { Quote } from '../../src/domain/market/quote.ts';

const NOW = Date.parse('2026-11-24T12:00:00Z');
const q = (over: Partial<Quote> = {}): Quote => ({ v: 1, instrument: 'BTC', price: 86_000, source: 'binance', ts: NOW - 1000, tsSource: 'source', receivedAt: NOW, ...over });
const opts = { nowMs: NOW, bounds: { BTC: { min: 1000, max: 10_000_000 }, 'rental:*': { min: 0.01, max: 100 } }, clockSkewMs: 5000, maxAgeMs: 86_400_000 };

describe('checkQuote', () => {
  it('accepts a plausible recent quote', () => {
    expect(checkQuote(q(), opts)).toEqual({ ok: true });
  });

  it('rejects non-finite and non-positive prices with the reason', () => {
    expect(checkQuote(q({ price: Number.NaN }), opts)).toMatchObject({ ok: false, reason: expect.stringContaining('non-finite') });
    expect(checkQuote(q({ price: Number.POSITIVE_INFINITY }), opts)).toMatchObject({ ok: false, reason: expect.stringContaining('non-finite') });
    expect(checkQuote(q({ price: 0 }), opts)).toMatchObject({ ok: false, reason: expect.stringContaining('non-positive') });
    expect(checkQuote(q({ price: -3 }), opts)).toMatchObject({ ok: false, reason: expect.stringContaining('non-positive') });
  });

  it('rejects prices outside the bounds of the instrument or of its kind', () => {
    expect(checkQuote(q({ price: 999 }), opts)).toMatchObject({ ok: false, reason: expect.stringContaining('outside bounds') });
    expect(checkQuote(q({ instrument: 'rental:H100-SXM', price: 250 }), opts)).toMatchObject({ ok: false, reason: expect.stringContaining('rental:H100-SXM') });
    expect(checkQuote(q({ instrument: 'rental:H100-SXM', price: 2.1 }), opts)).toEqual({ ok: true });
    expect(checkQuote(q({ instrument: 'ETH', price: 1 }), opts)).toEqual({ ok: true });
  });

  it('rejects a quote dated beyond the clock-skew allowance but accepts one within it', () => {
    expect(checkQuote(q({ ts: NOW + 5000 }), opts)).toEqual({ ok: true });
    expect(checkQuote(q({ ts: NOW + 5001 }), opts)).toMatchObject({ ok: false, reason: expect.stringContaining('future-dated') });
  });

  it('rejects a stale live quote, but history skips the future and staleness checks', () => {
    const old = q({ ts: NOW - 2 * 86_400_000 });
    expect(checkQuote(old, opts)).toMatchObject({ ok: false, reason: expect.stringContaining('stale') });
    expect(checkQuote(old, { ...opts, history: true })).toEqual({ ok: true });
    expect(checkQuote(q({ ts: NOW + 86_400_000 }), { ...opts, history: true })).toEqual({ ok: true });
    expect(checkQuote(q({ price: -1 }), { ...opts, history: true })).toMatchObject({ ok: false });
  });

  it('prefers the exact instrument bounds over the kind wildcard', () => {
    const b = { 'rental:*': { min: 1, max: 2 }, 'rental:H200': { min: 3, max: 4 } };
    expect(boundsFor(b, 'rental:H200')).toEqual({ min: 3, max: 4 });
    expect(boundsFor(b, 'rental:H100-SXM')).toEqual({ min: 1, max: 2 });
    expect(boundsFor(b, 'BTC')).toBeUndefined();
  });

  it('never accepts a price that is not a positive finite number, whatever the other fields', () => {
    fc.assert(
      fc.property(fc.oneof(fc.constant(Number.NaN), fc.double({ max: 0 }), fc.constant(Number.NEGATIVE_INFINITY), fc.constant(Number.POSITIVE_INFINITY)), fc.integer({ min: 0, max: 2 * NOW }), (price, ts) => {
        expect(checkQuote(q({ price, ts }), { ...opts, history: true }).ok).toBe(false);
      }),
    );
  });
});

describe('checkQuote field bounds (docs/reliability.md "Poison records")', () => {
  it('rejects, live or history, what InfluxDB or a tag cannot take: year 9999, a 70,000-character source, control characters, absurd prices', () => {
    for (const history of [false, true]) {
      const o = { ...opts, history };
      expect(checkQuote(q({ ts: Date.UTC(9999, 0, 1) }), o)).toMatchObject({ ok: false, reason: expect.stringMatching(/^ts: event time .* is outside 1990-01-01 to 2200-01-01/) });
      expect(checkQuote(q({ source: 'x'.repeat(70_000) }), o)).toMatchObject({ ok: false, reason: 'source: 70000 characters, more than 64' });
      expect(checkQuote(q({ source: 'bin\nance' }), o)).toMatchObject({ ok: false, reason: 'source: control characters' });
      expect(checkQuote(q({ instrument: `rental:${'H'.repeat(80)}` }), o)).toMatchObject({ ok: false, reason: expect.stringContaining('instrument: 87 characters') });
      expect(checkQuote(q({ instrument: 'ETH', price: 1e300 }), o)).toMatchObject({ ok: false, reason: expect.stringContaining('price: 1e+300 is more than') });
      expect(checkQuote(q({ receivedAt: 0 }), o)).toMatchObject({ ok: false, reason: expect.stringContaining('receivedAt') });
    }
    expect(checkQuote(q({ ts: Date.UTC(2019, 0, 1) }), { ...opts, history: true })).toEqual({ ok: true });
  });
});
