import type { Catalog, CatalogModel } from '../sheet/catalog.ts';
import type { Scenario } from '../params.ts';
import { DEFAULT_SCENARIOS } from '../params.ts';

/**
 * Stress scenarios (shared/DOMAIN.md "Stress scenarios"): multiplicative shocks of today's indexes,
 * after which the sheet is revalued (src/domain/valuation/valuation.ts runs them). Model-valued fleet items
 * take the resale shock of their class.
 *
 * `next_generation` (docs/valuation.md): a new GPU generation ships; rental -20% and resale -30%
 * hit only GPU models whose catalog generation is below the newest GPU generation in the catalog.
 * A model absent from the catalog counts as older: an unknown part is not the new flagship.
 */

/** The newest GPU generation in the catalog; -1 when it lists no GPU. */
export function newestGpuGeneration(catalog: Catalog): number {
  let newest = -1;
  for (const m of catalog.models.values()) if (m.class === 'gpu' && m.generation > newest) newest = m.generation;
  return newest;
}

/** True when a GPU model (its catalog entry, or undefined when unknown) is older than `newest`. */
export const isOlderGpuGeneration = (model: CatalogModel | undefined, newest: number): boolean =>
  model === undefined || model.generation < newest;

/** A scenario with every shock 0: revaluing under it gives the base valuation. */
export const ZERO_SCENARIO: Scenario = { name: 'none', crypto: 0, rental: 0, gpuResale: 0, asicResale: 0, hashprice: 0 };

/** Picks scenarios by name from a list (default DEFAULT_SCENARIOS); unknown names are returned separately. */
export function selectScenarios(
  names: readonly string[],
  from: readonly Scenario[] = DEFAULT_SCENARIOS,
): { scenarios: Scenario[]; unknown: string[] } {
  const scenarios: Scenario[] = [];
  const unknown: string[] = [];
  for (const n of names) {
    const s = from.find((x) => x.name === n);
    if (s === undefined) unknown.push(n);
    else scenarios.push(s);
  }
  return { scenarios, unknown };
}
