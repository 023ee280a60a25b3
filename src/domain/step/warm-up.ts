import type { DomainParams } from '../params.ts';
import type { SheetVersion } from '../sheet/sheet.ts';
import type { Valuation } from '../valuation/valuation-types.ts';
import { indexRuleFor } from '../market/market-index.ts';
import type { ProcessorState } from './step-state.ts';

/** The warm-up of an instrument (docs/valuation.md "The start of the alert machine"): when it ends, and whether an entity's machine may start. */

/** The moment an instrument's warm-up ends: staleAfterMs after the start of the run (Infinity before it). */
export function warmUpEndMs(state: ProcessorState, instrument: string, params: DomainParams): number {
  if (state.startMs === null) return Infinity;
  const idx = state.index.instruments.get(instrument);
  return state.startMs + (idx?.rule ?? indexRuleFor(params, instrument)).staleAfterMs;
}

/** True once the instrument's warm-up is over at `atMs` (strictly after its end, as staleness counts). */
export const warmedUp = (state: ProcessorState, instrument: string, atMs: number, params: DomainParams): boolean => atMs > warmUpEndMs(state, instrument, params);

/**
 * Whether an entity's alert machine may start: every index its sheet needs (`missing` of the
 * valuation) and the resale index of every model it holds have a value, or their warm-up is over.
 */
export function marketReady(state: ProcessorState, sheet: SheetVersion, valuation: Valuation, atMs: number, params: DomainParams): boolean {
  const missing = valuation.missing ?? [];
  for (let i = 0; i < missing.length; i++) if (!warmedUp(state, missing[i], atMs, params)) return false;
  const fleet = valuation.fleet;
  for (let i = 0; i < fleet.length; i++) {
    if (fleet[i].valuedBy === 'model' && sheet.fleet[i].count > 0 && !warmedUp(state, `resale:${fleet[i].model}`, atMs, params)) return false;
  }
  return true;
}

/** The earliest warm-up end of the instruments entities are exposed to, not yet over. */
export function scheduleWarmUps(state: ProcessorState, params: DomainParams): void {
  let next = Infinity;
  for (const instrument of state.exposedBy.keys()) {
    if (state.warmedUp.has(instrument)) continue;
    const end = warmUpEndMs(state, instrument, params);
    if (end < next) next = end;
  }
  state.nextWarmUpMs = next;
}
