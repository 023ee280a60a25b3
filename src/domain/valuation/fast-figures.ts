import type { DomainParams } from '../params.ts';
import type { Covenants, Facility, SheetVersion } from '../sheet/sheet.ts';
import type { DscrStatus, FacilityStatus } from './valuation-types.ts';
import { UNKNOWN } from './valuation-types.ts';
import { ltvStatusOf } from './valuation.ts';
import { addMonths, dateMs, wholeMonths } from '../calendar.ts';
import { fleetIndexOf, kindOfPledge, PLEDGE_FLEET } from './sheet-plan.ts';

/** The fast valuation's ratios and statuses of a facility and of the entity (fast-valuation.ts), as the reference computes them. */

/**
 * a / b, or null when the quotient is not a finite number: a ratio over a vanishing denominator
 * is reported as unknown, never as Infinity or NaN (the valuation output never holds either).
 */
export const ratio = (a: number, b: number): number | null => {
  const r = a / b;
  return Number.isFinite(r) ? r : null;
};

/** Facility ltv and status from its collateral (DOMAIN.md "Per facility"). */
export function facilityLtv(out: number, secured: boolean, cv: number | null): number | null {
  if (!secured) return null;
  if (out === 0) return 0;
  if (cv === null || cv === 0) return null;
  return ratio(out, cv);
}

export function facilityStatus(out: number, secured: boolean, cv: number | null, ltv: number | null, c: Covenants): FacilityStatus {
  if (!secured || out === 0) return 'ok';
  // With a missing index the status is not known: `unknown`, `dataMissing` set, and the alert
  // state machine holds the previous status. Worthless collateral (ltv null with a value of 0, or
  // so small the ratio overflows) is the worst case, never ok.
  if (cv === null) return UNKNOWN;
  return ltv === null ? 'liquidation' : ltvStatusOf(ltv, c);
}

/**
 * DOMAIN.md "Entity totals": `breach` below the largest dscrMin, else `ok`; `unknown` when a
 * covenant applies and noi12 is missing (docs/valuation.md "Unknown statuses"), `ok` when nothing
 * is due (debtService12 0) or no covenant applies.
 */
export function dscrStatusOf(dscr: number | null, noi12: number | null, debtService12: number, dscrMin: number | null): DscrStatus {
  if (dscrMin === null || debtService12 === 0) return 'ok';
  if (noi12 === null) return UNKNOWN;
  return dscr !== null && dscr < dscrMin ? 'breach' : 'ok';
}

export function entityRatio(securedDebt: number, value: number | null): number | null {
  if (securedDebt === 0) return 0;
  if (value === null || value === 0) return null;
  return ratio(securedDebt, value);
}

/** Months of economic life left in the pledged fleet: life runs from acquisition, capped by the model's life from release. */
export function collateralLifeMonthsLeft(sheet: SheetVersion, f: Facility, t: number, params: DomainParams): number | null {
  let best: number | null = null;
  const pledges = f.collateral;
  for (let p = 0; p < pledges.length; p++) {
    if (kindOfPledge(pledges[p]) !== PLEDGE_FLEET) continue;
    const i = fleetIndexOf(sheet.fleet, pledges[p]);
    if (i < 0) continue;
    const item = sheet.fleet[i];
    const cat = params.catalog.models.get(item.model);
    if (cat === undefined) continue; // unknown model: unknown life (docs/valuation.md)
    const life = cat.economicLifeMonths;
    const endMs = Math.min(addMonths(dateMs(item.acquiredAt), life), addMonths(dateMs(cat.releaseDate), life));
    const left = wholeMonths(t, endMs);
    if (best === null || left < best) best = left;
  }
  return best;
}
