import type { Catalog, CatalogModel } from '../sheet/catalog.ts';
import type { DomainParams } from '../params.ts';
import type { Facility, FleetItem, SheetVersion } from '../sheet/sheet.ts';
import type { CivilInstant } from '../calendar.ts';
import { addMonths, civilInstant, parseDateMs, wholeMonths } from '../calendar.ts';
import { isOlderGpuGeneration, newestGpuGeneration } from './stress.ts';
import { curvesOf, depreciationOf, type Curves } from './reference-figures.ts';

export type { Curves };

/**
 * The fast valuation's plan of a sheet (fast-valuation.ts): what depends only on the sheet version
 * and the params, worked out once per sheet object, and the per-day memo of each facility's debt
 * schedule that the plan carries.
 */

const monthsOf = (f: Facility): number => (f.amortization.kind === 'straight_line' ? f.amortization.months : 0);

/** A parsed pledge: a fleet item (index), all of an asset, or a lot of an asset. */
export const PLEDGE_FLEET = 0;
export const PLEDGE_WHOLE = 1;
export const PLEDGE_LOT = 2;

/**
 * The decline curves of a sheet (reference-figures.ts `curvesOf`), one object per distinct pair of
 * rates and params: nearly every sheet uses the defaults, and 10,000 plans held 20,000 arrays of
 * the same twelve numbers. Read only.
 */
const curvesByRates = new WeakMap<DomainParams, Map<string, Curves>>();
function sharedCurves(sheet: SheetVersion, params: DomainParams): Curves {
  let byRates = curvesByRates.get(params);
  if (byRates === undefined) curvesByRates.set(params, (byRates = new Map()));
  const key = `${sheet.rentalDeflation ?? params.rentalDeflation}/${sheet.hashpriceDecline}`;
  let c = byRates.get(key);
  if (c === undefined) byRates.set(key, (c = curvesOf(sheet, params)));
  return c;
}

/** What a fleet item's valuation needs that depends only on the sheet and the params. */
export interface ItemPlan {
  readonly cat: CatalogModel | undefined;
  /** NaN when the date is invalid: `dateMs` then throws where the value is used, as it always did. */
  readonly acquiredMs: number;
  /** 0 without a contract; NaN when the date is invalid. */
  readonly untilMs: number;
  readonly depreciation: number;
  /** The haircut of the entity's whole holding of the model (DOMAIN.md "Liquidation value"). */
  readonly haircut: number;
  readonly hashrateTh: number;
  /** For `olderGenerationsOnly` scenarios: older than the catalog's newest GPU generation. */
  readonly olderGeneration: boolean;
}

/** A facility's dates, schedule constants and parsed pledges. */
export interface FacilityPlan {
  readonly n: number;
  readonly startMs: number;
  readonly maturityMs: number;
  readonly datesValid: boolean;
  readonly start: CivilInstant;
  readonly maturity: CivilInstant;
  /** wholeMonths(start, maturity). */
  readonly monthsToMaturity: number;
  readonly secured: boolean;
  readonly pledgeKind: Uint8Array;
  /** Fleet index of a fleet pledge (-1 when unknown), else -1. */
  readonly pledgeItem: Int32Array;
  readonly pledgeBtc: Uint8Array;
  /** Units of a lot pledge. */
  readonly pledgeUnits: Float64Array;
  /** End of economic life of each pledged item of a known model; null when a date is invalid. */
  readonly lifeEnds: readonly CivilInstant[] | null;
  /**
   * Start, maturity and ends of life are all whole-ms midnights: then the schedule below is the
   * same for every instant of one day after its midnight (every comparison of the schedule is
   * between one of those midnights and t, or a month date of t, which keeps t's time of day), and
   * is memoised per day in `memo`.
   */
  readonly memoable: boolean;
  readonly memo: Schedule;
}

/** What the facility's dates give at one instant: the terms of the debt schedule, in the order they are summed. */
export interface Schedule {
  /** scheduleKey of the instant these values are for (NaN: none). */
  key: number;
  outstanding: number;
  outstanding12: number;
  interest: number;
  hasInstalments: boolean;
  instalments: number;
  hasMaturity: boolean;
  maturity: number;
  tenorMonthsLeft: number;
  collateralLifeMonthsLeft: number | null;
}

export const newSchedule = (): Schedule => ({
  key: Number.NaN,
  outstanding: 0,
  outstanding12: 0,
  interest: 0,
  hasInstalments: false,
  instalments: 0,
  hasMaturity: false,
  maturity: 0,
  tenorMonthsLeft: 0,
  collateralLifeMonthsLeft: null,
});

const isMidnight = (c: CivilInstant): boolean => c.exact && c.timeOfDayMs === 0;

export interface SheetPlan {
  readonly params: DomainParams;
  readonly items: readonly ItemPlan[];
  readonly facilities: readonly FacilityPlan[];
  readonly curves: Curves;
}

const plans = new WeakMap<SheetVersion, SheetPlan>();
const newestGenerations = new WeakMap<Catalog, number>();

export function planOf(sheet: SheetVersion, params: DomainParams): SheetPlan {
  const cached = plans.get(sheet);
  if (cached !== undefined && cached.params === params) return cached;
  const plan = buildPlan(sheet, params);
  plans.set(sheet, plan);
  return plan;
}

function buildPlan(sheet: SheetVersion, params: DomainParams): SheetPlan {
  const catalog = params.catalog;
  let newestGen = newestGenerations.get(catalog);
  if (newestGen === undefined) {
    newestGen = newestGpuGeneration(catalog);
    newestGenerations.set(catalog, newestGen);
  }
  const fleet = sheet.fleet;
  const items: ItemPlan[] = [];
  for (let i = 0; i < fleet.length; i++) {
    const item = fleet[i];
    const cat = catalog.models.get(item.model);
    let modelCount = 0;
    for (let j = 0; j < fleet.length; j++) if (fleet[j].model === item.model) modelCount += fleet[j].count;
    const liq = item.liquidity ?? cat?.liquidity ?? params.defaultLiquidity;
    items.push({
      cat,
      acquiredMs: parseDateMs(item.acquiredAt),
      untilMs: item.contracted === undefined ? 0 : parseDateMs(item.contracted.until),
      depreciation: depreciationOf(item, params),
      haircut: Math.min(liq.hmax, liq.h0 + (liq.k * modelCount) / liq.depthPerMonth),
      hashrateTh: item.hashrateTh ?? cat?.hashrateTh ?? 0,
      olderGeneration: isOlderGpuGeneration(cat, newestGen),
    });
  }
  const facilities: FacilityPlan[] = [];
  for (const fac of sheet.facilities) {
    const startMs = parseDateMs(fac.start);
    const maturityMs = parseDateMs(fac.maturity);
    const datesValid = !Number.isNaN(startMs) && !Number.isNaN(maturityMs);
    const pledges = fac.collateral;
    const pledgeKind = new Uint8Array(pledges.length);
    const pledgeItem = new Int32Array(pledges.length).fill(-1);
    const pledgeBtc = new Uint8Array(pledges.length);
    const pledgeUnits = new Float64Array(pledges.length);
    let lifeEnds: CivilInstant[] | null = [];
    for (let p = 0; p < pledges.length; p++) {
      const kind = pledgeKind[p] = kindOfPledge(pledges[p]);
      if (kind === PLEDGE_FLEET) {
        const i = fleetIndexOf(fleet, pledges[p]);
        pledgeItem[p] = i;
        const cat = i < 0 ? undefined : items[i].cat;
        if (cat === undefined || lifeEnds === null) continue;
        const acquired = items[i].acquiredMs;
        const release = parseDateMs(cat.releaseDate);
        if (Number.isNaN(acquired) || Number.isNaN(release)) lifeEnds = null;
        else lifeEnds.push(civilInstant(Math.min(addMonths(acquired, cat.economicLifeMonths), addMonths(release, cat.economicLifeMonths))));
        continue;
      }
      pledgeBtc[p] = pledges[p].charCodeAt(9) === 66 ? 1 : 0; // 'holdings:B...'
      if (kind === PLEDGE_LOT) pledgeUnits[p] = lotUnits(pledges[p]);
    }
    const start = civilInstant(startMs);
    const maturity = civilInstant(maturityMs);
    facilities.push({
      n: monthsOf(fac),
      startMs,
      maturityMs,
      datesValid,
      start,
      maturity,
      monthsToMaturity: datesValid ? wholeMonths(startMs, maturityMs) : Number.NaN,
      secured: pledges.length > 0,
      pledgeKind,
      pledgeItem,
      pledgeBtc,
      pledgeUnits,
      lifeEnds,
      memoable: datesValid && lifeEnds !== null && isMidnight(start) && isMidnight(maturity) && lifeEnds.every(isMidnight),
      memo: newSchedule(),
    });
  }
  return { params, items, facilities, curves: sharedCurves(sheet, params) };
}

export function kindOfPledge(p: string): number {
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

const lotUnits = (p: string): number => Number(p.slice(13));
