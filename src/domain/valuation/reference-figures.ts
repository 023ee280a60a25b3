import type { DomainParams } from '../params.ts';
import type { Covenants, Facility, FleetItem, SheetVersion } from '../sheet/sheet.ts';
import type { DscrStatus, FacilityStatus, LtvStatus } from './valuation-types.ts';
import { UNKNOWN } from './valuation-types.ts';
import { addMonths, dateMs, wholeMonths } from '../calendar.ts';

/**
 * The small formulas of the reference valuation (valuation.ts): outstanding principal, ratios and
 * statuses, parsed pledges, decline curves and depreciation.
 */

/** An index value, or undefined when the market lacks it (a missing index is absent, never 0). */
export const indexOf = (rec: Readonly<Record<string, number>>, key: string): number | undefined => {
  const v = rec[key];
  return typeof v === 'number' ? v : undefined;
};

/** Outstanding principal at `tMs` (DOMAIN.md "Outstanding principal"); `n` = 0 for a bullet. */
export function outstandingAt(principal: number, n: number, startMs: number, maturityMs: number, tMs: number): number {
  if (tMs < startMs || tMs >= maturityMs) return 0;
  if (n === 0) return principal;
  return principal * Math.max(0, 1 - wholeMonths(startMs, tMs) / n);
}

/**
 * a / b, or null when the quotient is not a finite number: a ratio over a vanishing denominator
 * is reported as unknown, never as Infinity or NaN (the valuation output never holds either).
 */
export const ratio = (a: number, b: number): number | null => {
  const r = a / b;
  return Number.isFinite(r) ? r : null;
};

export const monthsOf = (f: Facility): number => (f.amortization.kind === 'straight_line' ? f.amortization.months : 0);

/** LTV status from the thresholds (no hysteresis here: that is the alert state machine's job). */
export function ltvStatusOf(ltv: number, c: Covenants): LtvStatus {
  if (c.ltvLiquidation !== undefined && ltv >= c.ltvLiquidation) return 'liquidation';
  if (c.ltvMarginCall !== undefined && ltv >= c.ltvMarginCall) return 'margin_call';
  if (c.ltvWarn !== undefined && ltv >= c.ltvWarn) return 'warn';
  return 'ok';
}

/** A parsed pledge: a fleet item (index), all of an asset, or a lot of an asset. */
export const PLEDGE_FLEET = 0;
export const PLEDGE_WHOLE = 1;
export const PLEDGE_LOT = 2;

/** The decline factors `(1 - g) ^ ((m - 0.5) / 12)` of months m = 1..12, computed once per valuation. */
export interface Curves {
  readonly rental: Float64Array;
  readonly hashprice: Float64Array;
}

export function curvesOf(sheet: SheetVersion, params: DomainParams): Curves {
  const rental = new Float64Array(12);
  const hashprice = new Float64Array(12);
  const g = sheet.rentalDeflation ?? params.rentalDeflation;
  for (let m = 1; m <= 12; m++) {
    rental[m - 1] = Math.pow(1 - g, (m - 0.5) / 12);
    hashprice[m - 1] = Math.pow(1 - sheet.hashpriceDecline, (m - 0.5) / 12);
  }
  return { rental, hashprice };
}

export function depreciationOf(item: FleetItem, params: DomainParams): number {
  return item.depreciation ?? params.catalog.models.get(item.model)?.depreciation ?? params.defaultDepreciation;
}

export function pledgeKind(p: string): number {
  if (p.charCodeAt(0) === 102) return PLEDGE_FLEET; // 'fleet:'
  return p.length > 12 ? PLEDGE_LOT : PLEDGE_WHOLE; // 'holdings:BTC' is 12 characters
}

export function fleetIndexOf(fleet: readonly FleetItem[], pledge: string): number {
  for (let i = 0; i < fleet.length; i++) {
    const id = fleet[i].id;
    if (pledge.length === id.length + 6 && pledge.endsWith(id)) return i;
  }
  return -1;
}

export const lotUnits = (p: string): number => Number(p.slice(13));

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
    if (pledgeKind(pledges[p]) !== PLEDGE_FLEET) continue;
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
