import type { Catalog } from './sheet/catalog.ts';

/**
 * Parameters of the pure core that come from config (src/config builds them once).
 * Their defaults are in defaults.ts (shared/DOMAIN.md's; docs/valuation.md for the ones it leaves open).
 */
export interface IndexRule {
  /** Max age (ms, against the processor clock) of a source's latest quote to count as fresh. */
  readonly staleAfterMs: number;
  /** Max relative distance from the median of the other fresh sources (outlier guard). */
  readonly maxDeviation: number;
  /** Fewer fresh sources than this: the index keeps its last value and is marked stale. */
  readonly minSources: number;
}

/** A stress scenario: multiplicative shocks (-0.5 = -50%) by factor. */
export interface Scenario {
  readonly name: string;
  readonly crypto: number;
  readonly rental: number;
  readonly gpuResale: number;
  readonly asicResale: number;
  readonly hashprice: number;
  /**
   * Optional: apply the rental and GPU-resale shocks only to GPU models older than the newest
   * generation in the catalog (the `next_generation` scenario).
   */
  readonly olderGenerationsOnly?: boolean;
}

/**
 * How the processor's step revalues the entities a quote touches (docs/valuation.md "Incremental
 * revaluation"): `incremental` (the default) filters them by price intervals and revalues in full
 * only those that may cross an alert line, with the fast valuation; `reference` revalues every
 * exposed entity in full with the reference valuation on every index change; `full` does the same
 * with the fast valuation (the first round's processor: what the filter alone saves, for the
 * benchmarks). All give the same outputs (test/unit/step-incremental.test.ts); the reference path
 * is there to prove it.
 */
export const REVALUATION = { incremental: 'incremental', full: 'full', reference: 'reference' } as const;
export type Revaluation = (typeof REVALUATION)[keyof typeof REVALUATION];

export interface DomainParams {
  readonly catalog: Catalog;
  readonly cryptoHaircut: number; // default 0.05
  readonly rentalDeflation: number; // default 0.30
  readonly defaultDepreciation: number; // default 0.30
  readonly defaultLiquidity: { readonly depthPerMonth: number; readonly h0: number; readonly k: number; readonly hmax: number }; // 8000, 0.10, 0.05, 0.80
  readonly hysteresis: number; // default 0.02
  readonly scenarios: readonly Scenario[];
  /** Index rules per instrument id; `default` applies to ids not listed, `kind:<crypto|rental|resale|hashprice>` to a kind. */
  readonly indexRules: Readonly<Record<string, IndexRule>>;
  readonly emitIntervalMs: number;
  /** Hours a margin call may stay uncured when a facility has no cureHours (default 72). */
  readonly defaultCureHours: number;
  /** The step's revaluation path (default `incremental`). */
  readonly revaluation?: Revaluation;
  /**
   * Which `price` outputs `step` emits (default `every`): one per quote, or with `window` the last
   * quote (by event time) of each instrument and source in each conflation window, at the window's
   * close. A replay conflates (docs/architecture.md "Output volume"); live keeps every quote.
   */
  readonly pricePoints?: PricePoints;
}

export const PRICE_POINTS = { every: 'every', window: 'window' } as const;
export type PricePoints = (typeof PRICE_POINTS)[keyof typeof PRICE_POINTS];

export { DEFAULT_SCENARIOS } from './defaults.ts';
