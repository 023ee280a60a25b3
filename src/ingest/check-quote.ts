import type { Quote } from '../domain/market/quote.ts';
import { quoteLimitProblem } from '../domain/market/quote-limits.ts';

/**
 * Edge checks on each quote alone (the issue "Ingestors" item 6). Cross-source checks (the outlier
 * guard) belong to the market index of the valuation core, not here. Pure: "now" is passed in.
 * History (backfill, imports) skips the window around the clock, which means nothing for old data,
 * but not the absolute bounds of every field (src/domain/market/quote-limits.ts).
 */
export interface PriceBounds {
  readonly min: number;
  readonly max: number;
}

export interface CheckQuoteOptions {
  readonly nowMs: number;
  /** Bounds by instrument id, or by `rental:*` / `resale:*` for a whole kind; the exact id wins. */
  readonly bounds: Readonly<Record<string, PriceBounds>>;
  /** How far in the future an event time may be (clocks of sources and ours differ). */
  readonly clockSkewMs: number;
  /** Older than this is stale; undefined = no staleness check. */
  readonly maxAgeMs?: number;
  /** Backfill and imports: skip the future and staleness checks. */
  readonly history?: boolean;
}

export type CheckResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** The bounds that apply to an instrument: exact id first, then `<kind>:*`. */
export function boundsFor(bounds: Readonly<Record<string, PriceBounds>>, instrument: string): PriceBounds | undefined {
  const exact = bounds[instrument];
  if (exact) return exact;
  const i = instrument.indexOf(':');
  return i > 0 ? bounds[`${instrument.slice(0, i)}:*`] : undefined;
}

export function checkQuote(q: Quote, o: CheckQuoteOptions): CheckResult {
  if (!Number.isFinite(q.price)) return { ok: false, reason: `non-finite price ${String(q.price)}` };
  if (q.price <= 0) return { ok: false, reason: `non-positive price ${q.price}` };
  if (!Number.isFinite(q.ts)) return { ok: false, reason: `non-finite event time ${String(q.ts)}` };
  // the absolute bounds hold for history too: what InfluxDB or a tag cannot take never leaves here
  const limit = quoteLimitProblem(q);
  if (limit !== null) return { ok: false, reason: limit };
  const b = boundsFor(o.bounds, q.instrument);
  if (b && (q.price < b.min || q.price > b.max)) {
    return { ok: false, reason: `price ${q.price} outside bounds [${b.min}, ${b.max}] for ${q.instrument}` };
  }
  if (o.history) return { ok: true };
  if (q.ts > o.nowMs + o.clockSkewMs) {
    return { ok: false, reason: `future-dated: ts ${new Date(q.ts).toISOString()} is ${q.ts - o.nowMs} ms ahead (allowance ${o.clockSkewMs} ms)` };
  }
  if (o.maxAgeMs !== undefined && q.ts < o.nowMs - o.maxAgeMs) {
    return { ok: false, reason: `stale: ts ${new Date(q.ts).toISOString()} is ${o.nowMs - q.ts} ms old (limit ${o.maxAgeMs} ms)` };
  }
  return { ok: true };
}
