import type { Catalog } from './sheet/catalog.ts';
import type { DomainParams, IndexRule, Scenario } from './params.ts';

/**
 * Every domain-wide default, once: the values of shared/DOMAIN.md and the ones it leaves open
 * (docs/valuation.md). The config schema (src/config) takes its defaults from here and
 * config/default.yaml states the same values (a unit test holds them equal); the pure core and
 * the tools that run it without a config (`ccm value`, the benchmarks, tests) start from
 * `defaultDomainParams`.
 */

const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;

/** The scalar parameters of DomainParams. */
export const DOMAIN_DEFAULTS = {
  /** Haircut of pledged crypto (DOMAIN.md "Haircuts"). */
  cryptoHaircut: 0.05,
  /** Annual decline of spot rental (DOMAIN.md "Income"). */
  rentalDeflation: 0.3,
  /** Annual depreciation of a GPU or ASIC without a resale index and without its own or the catalog's. */
  defaultDepreciation: 0.3,
  /** Resale-market depth and haircut curve of a model outside the catalog (DOMAIN.md "Haircuts"). */
  defaultLiquidity: { depthPerMonth: 8000, h0: 0.1, k: 0.05, hmax: 0.8 },
  /** Hysteresis band of the alert machine: a status recovers only this far on the safe side. */
  hysteresis: 0.02,
  /** Hours a margin call may stay uncured when a facility has no cureHours. */
  defaultCureHours: 72,
  /** Conflation window of the processor's outputs (ARCHITECTURE.md runtime rule 4). */
  emitIntervalMs: MINUTE_MS,
} as const;

/** The shocks of the `next_generation` scenario to the GPU models older than the newest (config `domain.nextGeneration`). */
export const NEXT_GENERATION_STEPS = { resaleStep: -0.3, rentalStep: -0.2 } as const;

/** The stress scenarios of DOMAIN.md "Stress"; config adds to them or replaces one by name. */
export const DEFAULT_SCENARIOS: readonly Scenario[] = [
  { name: 'crypto_crash', crypto: -0.5, rental: 0, gpuResale: 0, asicResale: -0.5, hashprice: -0.5 },
  { name: 'compute_glut', crypto: 0, rental: -0.35, gpuResale: -0.4, asicResale: 0, hashprice: 0 },
  { name: 'double_leverage', crypto: -0.5, rental: -0.35, gpuResale: -0.4, asicResale: -0.5, hashprice: -0.5 },
  {
    name: 'next_generation',
    crypto: 0,
    rental: NEXT_GENERATION_STEPS.rentalStep,
    gpuResale: NEXT_GENERATION_STEPS.resaleStep,
    asicResale: 0,
    hashprice: 0,
    olderGenerationsOnly: true,
  },
];

/**
 * Index rules by instrument kind (DOMAIN.md "Market index"): crypto trades every second and goes
 * stale in minutes; rental and resale marketplaces are polled hourly to daily.
 */
export const DEFAULT_INDEX_RULES: Readonly<Record<string, IndexRule>> = {
  'kind:crypto': { staleAfterMs: 5 * MINUTE_MS, maxDeviation: 0.05, minSources: 1 },
  'kind:rental': { staleAfterMs: 2 * DAY_MS, maxDeviation: 0.25, minSources: 1 },
  'kind:resale': { staleAfterMs: 2 * DAY_MS, maxDeviation: 0.25, minSources: 1 },
  'kind:hashprice': { staleAfterMs: DAY_MS, maxDeviation: 0.25, minSources: 1 },
  default: { staleAfterMs: DAY_MS, maxDeviation: 0.25, minSources: 1 },
};

/** The rule of an instrument when the params have neither its id, its kind nor `default`. */
export const FALLBACK_INDEX_RULE: IndexRule = DEFAULT_INDEX_RULES.default;

/**
 * Every hourly bucket (event time) of `exposure` holds a contribution of every entity of the book:
 * the boards sum the entities' last contributions per bucket (an InfluxQL subquery cannot carry a
 * series forward into a bucket where it has no point), so the first window close of each hour
 * writes every entity held, revalued or not.
 */
export const EXPOSURE_REFRESH_MS = 3_600_000;

/** The params of the defaults above over a catalog. */
export function defaultDomainParams(catalog: Catalog): DomainParams {
  return {
    catalog,
    ...DOMAIN_DEFAULTS,
    scenarios: DEFAULT_SCENARIOS,
    indexRules: DEFAULT_INDEX_RULES,
  };
}
