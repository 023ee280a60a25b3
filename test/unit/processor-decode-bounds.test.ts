import { describe, expect, it } from 'vitest';
import type { ConsumedRecord } from '../../src/bus/bus.ts';
import { DEAD_LETTER_RAW_CHARS, deadLetterRaw, deadLetterSource, decodeQuote } from '../../src/processor/decode.ts';

const NOW = Date.UTC(2026, 11, 3, 9);
const quote = (over: Record<string, unknown> = {}) => ({ v: 1, instrument: 'BTC', price: 86_000, source: 'binance', ts: NOW - 1000, tsSource: 'source', receivedAt: NOW, ...over });
const rec = (value: unknown, key = 'BTC'): ConsumedRecord => ({ topic: 'q', partition: 0, offset: '7', key, value: Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)), ts: NOW });

describe('decodeQuote bounds (docs/reliability.md "Poison records")', () => {
  it('dead-letters quotes that pass the schema but not InfluxDB: year 9999, a 70,000-character source', () => {
    expect(decodeQuote(rec(quote({ ts: Date.UTC(9999, 0, 1) })))).toMatchObject({ ok: false, reason: expect.stringMatching(/^bounds: ts: event time/) });
    expect(decodeQuote(rec(quote({ source: 'x'.repeat(70_000) })))).toEqual({ ok: false, reason: 'bounds: source: 70000 characters, more than 64' });
    expect(decodeQuote(rec(quote({ price: 1e200 })))).toMatchObject({ ok: false, reason: expect.stringContaining('bounds: price') });
    expect(decodeQuote(rec(quote()))).toMatchObject({ ok: true });
  });

  it('live, refuses an event time further ahead of the clock than allowed, and replays only by the absolute bounds', () => {
    const ahead = rec(quote({ ts: NOW + 3_600_000 }));
    expect(decodeQuote(ahead, { nowMs: NOW, maxAheadMs: 60_000 })).toMatchObject({ ok: false, reason: expect.stringContaining('ms ahead of the clock (allowance 60000 ms)') });
    expect(decodeQuote(ahead)).toMatchObject({ ok: true });
    expect(decodeQuote(rec(quote({ ts: NOW + 30_000 })), { nowMs: NOW, maxAheadMs: 60_000 })).toMatchObject({ ok: true });
  });

  it('names a mismatched key without repeating a huge one', () => {
    const d = decodeQuote(rec(quote(), 'k'.repeat(70_000)));
    expect(d.ok).toBe(false);
    expect(!d.ok && d.reason.length).toBeLessThan(200);
  });
});

describe('dead letters stay writable', () => {
  it('keep at most 64 KiB of a record, saying how long it was', () => {
    expect(deadLetterRaw(Buffer.from('short'))).toEqual({ raw: 'short' });
    const big = deadLetterRaw(Buffer.from('y'.repeat(900_000)));
    expect(big.raw?.length).toBe(DEAD_LETTER_RAW_CHARS);
    expect(big.rawChars).toBe(900_000);
    expect(deadLetterRaw(null)).toEqual({ raw: null });
  });

  it('are keyed by a short printable source, else by invalid', () => {
    expect(deadLetterSource('binance', 'unknown')).toBe('binance');
    expect(deadLetterSource('x'.repeat(70_000), 'unknown')).toBe('invalid');
    expect(deadLetterSource('a\nb', 'unknown')).toBe('invalid');
    expect(deadLetterSource(42, 'unknown')).toBe('unknown');
  });
});
