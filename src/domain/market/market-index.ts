import type { Market } from './market.ts';
import type { DomainParams, IndexRule } from '../params.ts';
import { parseInstrument } from './instruments.ts';
import { FALLBACK_INDEX_RULE } from '../defaults.ts';

/**
 * The market index per instrument (shared/DOMAIN.md "Market state"):
 * - the latest quote of each source is kept;
 * - a source is fresh while `clock - ts <= staleAfterMs` (age against the processor clock);
 * - outlier guard: a fresh quote further (relative, `|p - m| / m`) from the median `m` of the OTHER
 *   fresh sources than `maxDeviation` is left out, when at least two others remain. Rejection is
 *   worst-first and repeated: with a median of two others, checking every source against the
 *   rest at once would throw out the good ones beside one bad one (100, 100, 200: the 100s are 33%
 *   from the mean of 100 and 200). Rejecting the single worst offender, then re-checking what is
 *   left, keeps the two 100s;
 * - index = median of the rest (mean of the two middle values for an even count);
 * - fewer than `minSources` fresh (kept) sources: the index keeps its last value, marked stale.
 *
 * The state is mutable for speed (the processor's step owns it); every function is deterministic:
 * sources are visited in sorted order, never in Map insertion order.
 */

export { FALLBACK_INDEX_RULE };

/** The rule of an instrument: exact id first, then `kind:<kind>`, then `default`, then the fallback. */
export function indexRuleFor(params: Pick<DomainParams, 'indexRules'>, instrument: string): IndexRule {
  const rules = params.indexRules;
  const exact = rules[instrument];
  if (exact !== undefined) return exact;
  const parsed = parseInstrument(instrument);
  if (parsed !== null) {
    const byKind = rules[`kind:${parsed.kind}`];
    if (byKind !== undefined) return byKind;
  }
  return rules['default'] ?? FALLBACK_INDEX_RULE;
}

export interface SourceQuote {
  readonly price: number;
  readonly ts: number;
}

/** A quote left out by the outlier guard. */
export interface Rejection {
  readonly source: string;
  readonly price: number;
  readonly ts: number;
  /** The median of the other fresh sources it was measured against. */
  readonly median: number;
  readonly deviation: number;
}

export interface IndexComputation {
  /** The index, or the last value when stale; null when it never had one. */
  readonly value: number | null;
  /** Fresh sources used (after the outlier guard). */
  readonly sources: number;
  readonly stale: boolean;
  readonly rejected: readonly Rejection[];
  /** The fresh price of each source used, sources in sorted order. */
  readonly bySource: Readonly<Record<string, number>>;
  /** When the next fresh quote ages out (clock beyond this changes the result); Infinity if none. */
  readonly nextExpiryMs: number;
}

const median = (sorted: readonly number[]): number => {
  const n = sorted.length;
  const mid = n >> 1;
  return n % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/**
 * Computes the index of one instrument from the latest quote of each source at `clockMs`.
 * Pure: `previousValue` is what a stale index keeps.
 */
export function computeIndex(
  latestBySource: ReadonlyMap<string, SourceQuote>,
  clockMs: number,
  rule: IndexRule,
  previousValue: number | null,
): IndexComputation {
  const names = [...latestBySource.keys()].sort();
  let fresh: Array<{ source: string; q: SourceQuote }> = [];
  let nextExpiryMs = Infinity;
  for (const source of names) {
    const q = latestBySource.get(source) as SourceQuote;
    if (clockMs - q.ts <= rule.staleAfterMs) {
      fresh.push({ source, q });
      nextExpiryMs = Math.min(nextExpiryMs, q.ts + rule.staleAfterMs);
    }
  }
  const rejected: Rejection[] = [];
  // Worst-first outlier guard, while at least two others remain beside the candidate.
  while (fresh.length >= 3) {
    let worst = -1;
    let worstDeviation = rule.maxDeviation;
    let worstMedian = 0;
    for (let i = 0; i < fresh.length; i++) {
      const others: number[] = [];
      for (let j = 0; j < fresh.length; j++) if (j !== i) others.push(fresh[j].q.price);
      others.sort((a, b) => a - b);
      const m = median(others);
      const deviation = Math.abs(fresh[i].q.price - m) / m;
      // Strictly greater: ties go to the first source in sorted order (deterministic).
      if (deviation > worstDeviation) {
        worst = i;
        worstDeviation = deviation;
        worstMedian = m;
      }
    }
    if (worst < 0) break;
    const r = fresh[worst];
    rejected.push({ source: r.source, price: r.q.price, ts: r.q.ts, median: worstMedian, deviation: worstDeviation });
    fresh = fresh.filter((_, i) => i !== worst);
  }
  const bySource: Record<string, number> = {};
  for (const f of fresh) bySource[f.source] = f.q.price;
  if (fresh.length < rule.minSources || fresh.length === 0) {
    return { value: previousValue, sources: fresh.length, stale: true, rejected, bySource, nextExpiryMs };
  }
  const prices = fresh.map((f) => f.q.price).sort((a, b) => a - b);
  return { value: median(prices), sources: fresh.length, stale: false, rejected, bySource, nextExpiryMs };
}

/** The live state of one instrument's index. */
export interface InstrumentIndex {
  readonly instrument: string;
  readonly rule: IndexRule;
  readonly latestBySource: Map<string, SourceQuote>;
  value: number | null;
  sources: number;
  stale: boolean;
  bySource: Readonly<Record<string, number>>;
  nextExpiryMs: number;
  /** Per source, the ts of the last quote reported as an outlier (one report per quote). */
  readonly reportedRejections: Map<string, number>;
}

/** All indexes, plus the Market view the valuation reads (kept in step with the values). */
export interface MarketIndex {
  readonly instruments: Map<string, InstrumentIndex>;
  readonly market: {
    crypto: Record<string, number>;
    rental: Record<string, number>;
    resale: Record<string, number>;
    hashprice: number | null;
  };
}

export const emptyMarketIndex = (): MarketIndex => ({
  instruments: new Map(),
  market: { crypto: {}, rental: {}, resale: {}, hashprice: null },
});

/** The Market the valuation reads (shared, mutated in place as indexes move: copy it to keep a snapshot). */
export const marketOf = (mi: MarketIndex): Market => mi.market;

/** Result of refreshing one instrument. */
export interface IndexChange {
  readonly index: InstrumentIndex;
  /** The value, the fresh-source count or the stale flag changed. */
  readonly changed: boolean;
  readonly valueChanged: boolean;
  /** Outliers not reported before (one report per rejected quote). */
  readonly newRejections: readonly Rejection[];
}

function setMarketValue(mi: MarketIndex, instrument: string, value: number | null): void {
  const parsed = parseInstrument(instrument);
  if (parsed === null) return;
  switch (parsed.kind) {
    case 'crypto':
      if (value === null) delete mi.market.crypto[parsed.asset];
      else mi.market.crypto[parsed.asset] = value;
      return;
    case 'rental':
      if (value === null) delete mi.market.rental[parsed.model];
      else mi.market.rental[parsed.model] = value;
      return;
    case 'resale':
      if (value === null) delete mi.market.resale[parsed.model];
      else mi.market.resale[parsed.model] = value;
      return;
    case 'hashprice':
      mi.market.hashprice = value;
      return;
    default: {
      const never: never = parsed;
      return never;
    }
  }
}

function instrumentIndex(mi: MarketIndex, instrument: string, params: Pick<DomainParams, 'indexRules'>): InstrumentIndex {
  let idx = mi.instruments.get(instrument);
  if (idx === undefined) {
    idx = {
      instrument,
      rule: indexRuleFor(params, instrument),
      latestBySource: new Map(),
      value: null,
      sources: 0,
      stale: true,
      bySource: {},
      nextExpiryMs: Infinity,
      reportedRejections: new Map(),
    };
    mi.instruments.set(instrument, idx);
  }
  return idx;
}

/** Recomputes one instrument's index at `clockMs` and reports what changed. Mutates `mi`. */
export function refreshIndex(mi: MarketIndex, idx: InstrumentIndex, clockMs: number): IndexChange {
  const c = computeIndex(idx.latestBySource, clockMs, idx.rule, idx.value);
  const valueChanged = c.value !== idx.value;
  const changed = valueChanged || c.sources !== idx.sources || c.stale !== idx.stale;
  idx.value = c.value;
  idx.sources = c.sources;
  idx.stale = c.stale;
  idx.bySource = c.bySource;
  idx.nextExpiryMs = c.nextExpiryMs;
  if (valueChanged) setMarketValue(mi, idx.instrument, c.value);
  const newRejections: Rejection[] = [];
  for (const r of c.rejected) {
    if (idx.reportedRejections.get(r.source) !== r.ts) {
      idx.reportedRejections.set(r.source, r.ts);
      newRejections.push(r);
    }
  }
  return { index: idx, changed, valueChanged, newRejections };
}

/**
 * Records a quote as the latest of its source when it is at least as new as that source's last
 * one (a late quote older than it is ignored for the index), then recomputes the index at
 * `clockMs`. Returns null when the quote was not applied.
 */
export function applyQuote(
  mi: MarketIndex,
  quote: { readonly instrument: string; readonly source: string; readonly price: number; readonly ts: number },
  clockMs: number,
  params: Pick<DomainParams, 'indexRules'>,
): IndexChange | null {
  const idx = instrumentIndex(mi, quote.instrument, params);
  const last = idx.latestBySource.get(quote.source);
  if (last !== undefined && quote.ts < last.ts) return null;
  idx.latestBySource.set(quote.source, { price: quote.price, ts: quote.ts });
  return refreshIndex(mi, idx, clockMs);
}

/** The value and fresh-source count of an instrument (null / 0 when it has no index). */
export function indexInput(mi: MarketIndex, instrument: string): { value: number | null; sources: number } {
  const idx = mi.instruments.get(instrument);
  return idx === undefined ? { value: null, sources: 0 } : { value: idx.value, sources: idx.sources };
}

/** True when the instrument has no value or its index is stale. */
export function isIndexStaleOrMissing(mi: MarketIndex, instrument: string): boolean {
  const idx = mi.instruments.get(instrument);
  return idx === undefined || idx.value === null || idx.stale;
}
