import type { FacilityStatus } from './valuation-types.ts';
import { UNKNOWN } from './valuation-types.ts';
import { ltvStatusOf } from './valuation.ts';
import type { CompiledEntity, CompiledNoi } from './compiled-types.ts';

/** The compiled form (compiled.ts) evaluated: noi12 at some prices, the covenants' figures at scaled resale indexes. */

/** noi12 of the compiled form at some prices (aligned with `inputs`). */
export function noiAt(noi: CompiledNoi, prices: Float64Array): number {
  let v = noi.constant;
  for (const r of noi.rental) v += r.coef * prices[r.input];
  for (const h of noi.hash) for (let m = 0; m < 12; m++) v += Math.max(0, h.alpha[m] * prices[h.input] - h.beta);
  return v;
}

export interface CompiledFacilityValue {
  readonly id: string;
  readonly outstanding: number;
  readonly collateralValue: number | null;
  readonly liquidationValue: number | null;
  readonly ltv: number | null;
  /** The plain threshold status (no hysteresis), as `valueEntity` reports it. */
  readonly status: FacilityStatus;
}

export interface CompiledValue {
  readonly facilities: readonly CompiledFacilityValue[];
  /** Each pledged item once and the pledged coins; null when a pledged coin has no price. */
  readonly collateralValue: number | null;
  readonly ltv: number | null;
  readonly noi12: number | null;
  readonly dscr: number | null;
}

/**
 * Values the compiled form at its compile-time market, with each model's resale index (and the
 * model value of its items without one, as a stress shock does) scaled by `resaleFactor` (model ->
 * factor, 1 when absent): e.g. the market after seized units of a model are sold (DOMAIN.md
 * "Fire-sale contagion"). Without factors, the facilities' collateral values, LTVs and statuses
 * are `valueEntity`'s own doubles at the same instant and market.
 */
export function valueCompiled(c: CompiledEntity, resaleFactor?: ReadonlyMap<string, number>): CompiledValue {
  const itemMv = c.items.map((item) => {
    const factor = resaleFactor?.get(item.model);
    if (item.resaleInput < 0) return factor === undefined ? item.modelValueAt : item.modelValueAt * factor;
    // (count x price) x factor: the reference valuation's order of operations, so the doubles agree
    const mv = item.count * c.prices[item.resaleInput];
    return factor === undefined ? mv : mv * factor;
  });
  const coinPrice = (input: number): number | null => {
    const p = input < 0 ? Number.NaN : c.prices[input];
    return Number.isNaN(p) ? null : p;
  };
  const lvFactor = 1 - c.cryptoHaircut;
  const facilities = c.facilities.map((f): CompiledFacilityValue => {
    let cv: number | null = 0;
    let lv = 0;
    for (const p of f.pledges) {
      if (p.kind === 'item') {
        if (cv !== null) cv += itemMv[p.item] * p.share;
        lv += itemMv[p.item] * (1 - c.items[p.item].haircut) * p.share;
        continue;
      }
      const price = coinPrice(p.input);
      if (price === null) {
        cv = null;
        continue;
      }
      const value = p.units * price;
      if (cv !== null) cv += value;
      lv += value * lvFactor;
    }
    const owes = f.outstanding > 0 && f.secured;
    const collateralValue = !owes ? 0 : cv;
    const liquidationValue = !owes ? 0 : cv === null ? null : lv;
    const ltv = !f.secured ? null : f.outstanding === 0 ? 0 : ratio(f.outstanding, collateralValue);
    const status: FacilityStatus = !owes ? 'ok' : collateralValue === null ? UNKNOWN : ltv === null ? 'liquidation' : ltvStatusOf(ltv, f.covenants);
    return { id: f.id, outstanding: f.outstanding, collateralValue, liquidationValue, ltv, status };
  });
  let collateralValue: number | null = 0;
  for (let i = 0; i < c.items.length; i++) if (c.items[i].pledged) collateralValue += itemMv[i];
  for (const coin of c.coins) {
    if (coin.pledged <= 0) continue;
    const price = coinPrice(coin.input);
    if (price === null) collateralValue = null;
    else if (collateralValue !== null) collateralValue += coin.pledged * price;
  }
  const ltv = c.securedDebt === 0 ? 0 : ratio(c.securedDebt, collateralValue);
  const noi12 = c.noi === null ? null : noiAt(c.noi, c.prices);
  const dscr = noi12 === null || c.debtService12 === 0 ? null : ratio(noi12, c.debtService12);
  return { facilities, collateralValue, ltv, noi12, dscr };
}

/** a / b, or null when b is null or 0 or the quotient is not finite (as the valuation reports ratios). */
function ratio(a: number, b: number | null): number | null {
  if (b === null || b === 0) return null;
  const r = a / b;
  return Number.isFinite(r) ? r : null;
}
