import type { Quote } from './quote.ts';

/**
 * Bounds on every field of a quote, checked at both edges: the ingestors' check
 * (src/ingest/check-quote.ts) and the processor's decode of the quotes topic (anyone who can write
 * to the topic can write anything). A quote past them is dead-lettered with the reason; before,
 * one that passed the schema but not InfluxDB (an event time in year 9999, a 70,000-character
 * `source`, which makes a series key longer than InfluxDB's 65,535 bytes) failed every write of
 * its chunk and stopped the partition (docs/reliability.md "Poison records").
 *
 * Absolute bounds only (pure): the window around the clock is the caller's, who has the clock.
 */
export const QUOTE_LIMITS = {
  /** Event and receipt times: from 1990 (before any instrument here traded) to 2200 (InfluxDB stores times to 2262). */
  minTsMs: Date.UTC(1990, 0, 1),
  maxTsMs: Date.UTC(2200, 0, 1),
  /** Instrument ids (`rental:<model>`) and source names are tags: short, printable. */
  maxInstrumentLength: 64,
  maxSourceLength: 64,
  maxUnknownModelLength: 128,
  /** USD per unit: ten trillion is past any coin, GPU-hour, unit or TH/s-day. */
  maxPrice: 1e13,
  maxSample: 1_000_000_000,
} as const;

/** Printable, no control characters (a newline in a tag breaks InfluxDB's line protocol). */
const PRINTABLE = /^[^\p{Cc}\p{Cs}]+$/u;

/** The first bound the quote breaks, as a dead-letter reason; null when within every bound. */
export function quoteLimitProblem(q: Quote): string | null {
  const L = QUOTE_LIMITS;
  if (q.instrument.length > L.maxInstrumentLength) return `instrument: ${q.instrument.length} characters, more than ${L.maxInstrumentLength}`;
  if (q.source.length > L.maxSourceLength) return `source: ${q.source.length} characters, more than ${L.maxSourceLength}`;
  if (!PRINTABLE.test(q.source)) return 'source: control characters';
  if (q.unknownModel !== undefined && (q.unknownModel.length > L.maxUnknownModelLength || !PRINTABLE.test(q.unknownModel))) return 'unknownModel: too long or control characters';
  if (!Number.isFinite(q.price) || q.price > L.maxPrice) return `price: ${q.price} is more than ${L.maxPrice}`;
  if (!(q.ts >= L.minTsMs && q.ts < L.maxTsMs)) return `ts: event time ${q.ts} is outside ${new Date(L.minTsMs).toISOString().slice(0, 10)} to ${new Date(L.maxTsMs).toISOString().slice(0, 10)}`;
  if (!(q.receivedAt >= L.minTsMs && q.receivedAt < L.maxTsMs)) return `receivedAt: ${q.receivedAt} is outside ${new Date(L.minTsMs).toISOString().slice(0, 10)} to ${new Date(L.maxTsMs).toISOString().slice(0, 10)}`;
  if (q.sample !== undefined && q.sample > L.maxSample) return `sample: ${q.sample} is more than ${L.maxSample}`;
  return null;
}
