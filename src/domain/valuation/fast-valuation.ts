import type { Catalog, CatalogModel } from '../sheet/catalog.ts';
import type { Market } from '../market/market.ts';
import type { DomainParams, Scenario } from '../params.ts';
import type { Covenants, Facility, FleetItem, SheetVersion } from '../sheet/sheet.ts';
import type { DscrStatus, FacilityStatus, FacilityValuation, FleetItemValuation, StressFacility, StressResult, Valuation } from './valuation-types.ts';
import { UNKNOWN } from './valuation-types.ts';
import { ltvStatusOf } from './valuation.ts';
import type { CivilInstant } from '../calendar.ts';
import { addMonths, civilInstant, dateMs, DAYS_PER_REVENUE_MONTH, HOURS_PER_REVENUE_MONTH, MS_PER_DAY, MS_PER_YEAR, parseDateMs, wholeMonths, wholeMonthsBetween } from '../calendar.ts';
import { isOlderGpuGeneration, newestGpuGeneration } from './stress.ts';

/**
 * `valueEntityFast`: the reference valuation (valuation.ts, `valueEntity`) computed fast, for the
 * processor's incremental path: the same formulas in the same order of operations, so the same
 * doubles bit for bit (test/unit/valuation-reference.test.ts; bench/valuation-profile.ts --check),
 * and the internals the compiled form (compiled.ts) builds on.
 *
 * Fast because (docs/performance.md "Valuation hot path"):
 * - what depends only on the sheet version and the params (parsed dates, catalog entries, haircuts,
 *   parsed pledges, decline curves) is worked out once per sheet object, a `SheetPlan` kept in a
 *   WeakMap keyed by the sheet;
 * - each facility's debt schedule (outstanding, interest, instalments, tenor, collateral life) is
 *   memoised per day in its plan: with midnight dates it cannot change within a day;
 * - the calendar of the twelve months after `atMs` and its ISO string are kept for the last
 *   `atMs` (the processor revalues every exposed entity at the same instant);
 * - the per-item and per-facility arrays of a pass are module scratch, reused from call to call
 *   (nothing of them escapes a call: the result is built from them before it returns);
 * - a stress scenario that leaves an item's forward factor at 1 takes the base pass's result.
 * All of it is memoisation of pure functions: sheet versions and params are immutable once built
 * (a change is a new version, never an edit in place), so a kept value is the value the code
 * would compute again, the same double.
 */

export const MS_PER_REVENUE_MONTH = DAYS_PER_REVENUE_MONTH * MS_PER_DAY;

/** An index value, or undefined when the market lacks it (a missing index is absent, never 0). */
const indexOf = (rec: Readonly<Record<string, number>>, key: string): number | undefined => {
  const v = rec[key];
  return typeof v === 'number' ? v : undefined;
};

/**
 * a / b, or null when the quotient is not a finite number: a ratio over a vanishing denominator
 * is reported as unknown, never as Infinity or NaN (the valuation output never holds either).
 */
const ratio = (a: number, b: number): number | null => {
  const r = a / b;
  return Number.isFinite(r) ? r : null;
};

const monthsOf = (f: Facility): number => (f.amortization.kind === 'straight_line' ? f.amortization.months : 0);

/** A parsed pledge: a fleet item (index), all of an asset, or a lot of an asset. */
export const PLEDGE_FLEET = 0;
export const PLEDGE_WHOLE = 1;
export const PLEDGE_LOT = 2;

/**
 * One pass over the sheet at a (possibly shocked) market: what valuation and stress both need.
 * Scratch space, reused from call to call (two of them: the base valuation's and the stress
 * scenarios'): allocating these small arrays on every revaluation cost more than filling them.
 * `valueEntity` copies out what it reports before it returns, so nothing of it escapes a call.
 */
class Assessment {
  itemMv = new Float64Array(8);
  itemLv = new Float64Array(8);
  itemHaircut = new Float64Array(8);
  itemByModel = new Uint8Array(8);
  itemPledgedOut = new Float64Array(8);
  /** Per item, the forward twelve months: FWD_NONE (count 0), FWD_VALUE, or FWD_MISSING (an index is missing). */
  itemFwd = new Uint8Array(8);
  /** Per item with FWD_VALUE: what it adds to noi12 and to the spot revenue. */
  itemNoi = new Float64Array(8);
  itemSpot = new Float64Array(8);
  /** Per facility: its share of collateral MV / LV / MV in twelve months; facNull = 1 when an index is missing (all three null). */
  facCv = new Float64Array(4);
  facLv = new Float64Array(4);
  facCv12 = new Float64Array(4);
  facNull = new Uint8Array(4);
  cryptoValue: number | null = null;
  /** Outstanding of the facilities pledging all of a coin, and the units of its lots (BTC, ETH). */
  wholeOutBtc = 0;
  wholeOutEth = 0;
  lotsBtc = 0;
  lotsEth = 0;
  unpledgedCrypto: number | null = null;
  collateralValue: number | null = null;
  liquidationValue: number | null = null;
  noi12: number | null = null;
  /** Spot rental revenue of the twelve months (B of the break-even, DOMAIN.md). */
  spotRevenue12 = 0;

  /** Makes room for a sheet; zeroes what the pass accumulates into. */
  reset(nItems: number, nFac: number): void {
    if (this.itemMv.length < nItems) {
      const n = Math.max(nItems, this.itemMv.length * 2);
      this.itemMv = new Float64Array(n);
      this.itemLv = new Float64Array(n);
      this.itemHaircut = new Float64Array(n);
      this.itemByModel = new Uint8Array(n);
      this.itemPledgedOut = new Float64Array(n);
      this.itemFwd = new Uint8Array(n);
      this.itemNoi = new Float64Array(n);
      this.itemSpot = new Float64Array(n);
    }
    if (this.facCv.length < nFac) {
      const n = Math.max(nFac, this.facCv.length * 2);
      this.facCv = new Float64Array(n);
      this.facLv = new Float64Array(n);
      this.facCv12 = new Float64Array(n);
      this.facNull = new Uint8Array(n);
    }
    this.itemByModel.fill(0, 0, nItems);
    this.itemPledgedOut.fill(0, 0, nItems);
  }
}

const FWD_NONE = 0;
const FWD_VALUE = 1;
const FWD_MISSING = 2;

const baseScratch = new Assessment();
/** Per facility of the sheet being valued: outstanding now and in twelve months, secured (scratch, like Assessment). */
let scratchOutstanding = new Float64Array(8);
let scratchOut12 = new Float64Array(8);
let scratchSecured = new Uint8Array(8);
const tenorScratch: number[] = [];
const lifeScratch: Array<number | null> = [];
const stressScratch = new Assessment();

/** The decline factors `(1 - g) ^ ((m - 0.5) / 12)` of months m = 1..12, computed once per valuation. */
export interface Curves {
  readonly rental: Float64Array;
  readonly hashprice: Float64Array;
}

function curvesOf(sheet: SheetVersion, params: DomainParams): Curves {
  const rental = new Float64Array(12);
  const hashprice = new Float64Array(12);
  const g = sheet.rentalDeflation ?? params.rentalDeflation;
  for (let m = 1; m <= 12; m++) {
    rental[m - 1] = Math.pow(1 - g, (m - 0.5) / 12);
    hashprice[m - 1] = Math.pow(1 - sheet.hashpriceDecline, (m - 0.5) / 12);
  }
  return { rental, hashprice };
}

function depreciationOf(item: FleetItem, params: DomainParams): number {
  return item.depreciation ?? params.catalog.models.get(item.model)?.depreciation ?? params.defaultDepreciation;
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

const newSchedule = (): Schedule => ({
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

/**
 * The memo key of an instant: the instant itself at a midnight; within a day after its midnight,
 * that midnight + 0.5 (one key for the whole open day; never a whole ms, so never an instant's key).
 * NaN (never equal) when the instant is not a whole ms.
 */
const scheduleKey = (at: CivilInstant): number => (!at.exact ? Number.NaN : at.timeOfDayMs === 0 ? at.ms : at.ms - at.timeOfDayMs + 0.5);

const isMidnight = (c: CivilInstant): boolean => c.exact && c.timeOfDayMs === 0;

/** Scratch schedule of facilities that are not memoable. */
const scratchSchedule = newSchedule();

/**
 * The debt schedule of one facility at `months[0]` (DOMAIN.md "Outstanding principal", "Debt service"):
 * memoised per day when the facility's dates allow it, else computed into scratch.
 */
function scheduleOf(fac: Facility, fp: FacilityPlan, months: readonly CivilInstant[], key: number, withLife: boolean): Schedule {
  if (fp.memoable && fp.memo.key === key) return fp.memo;
  const s = fp.memoable ? fp.memo : scratchSchedule;
  s.key = Number.NaN; // invalid until every field is written
  const at = months[0];
  const at12 = months[12];
  const t = at.ms;
  const t12 = at12.ms;
  const n = fp.n;
  const startMs = fp.startMs;
  const maturityMs = fp.maturityMs;
  s.outstanding = outstandingOf(fac.principal, fp, at);
  s.outstanding12 = outstandingOf(fac.principal, fp, at12);
  // Interest on the outstanding at each of the twelve monthly dates from t.
  let owedMonths = 0;
  for (let k = 0; k < 12; k++) owedMonths += outstandingOf(fac.principal, fp, months[k]);
  s.interest = (owedMonths * fac.rate) / 12;
  s.hasInstalments = false;
  s.hasMaturity = false;
  if (maturityMs > startMs) {
    // Scheduled instalments on anniversaries j of start with t < date <= min(t + 12 months, maturity).
    if (n > 0) {
      const end = t12 < maturityMs ? at12 : fp.maturity;
      const endMs = end.ms;
      if (endMs > t && endMs >= startMs) {
        const jLo = wholeMonthsBetween(fp.start, at) + 1;
        const jHi = Math.min(n, wholeMonthsBetween(fp.start, end));
        if (jHi >= jLo) {
          s.hasInstalments = true;
          s.instalments = ((jHi - jLo + 1) * fac.principal) / n;
        }
      }
    }
    // What is still owed at a maturity inside the window, after that day's instalment.
    if (maturityMs > t && maturityMs <= t12) {
      s.hasMaturity = true;
      s.maturity = n === 0 ? fac.principal : fac.principal * Math.max(0, 1 - Math.min(n, fp.monthsToMaturity) / n);
    }
  }
  if (withLife) {
    s.tenorMonthsLeft = wholeMonthsBetween(at, fp.maturity);
    s.collateralLifeMonthsLeft = lifeMonthsLeft(fp.lifeEnds ?? [], at);
  }
  s.key = fp.memoable ? key : Number.NaN;
  return s;
}

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
  return { params, items, facilities, curves: curvesOf(sheet, params) };
}

/** `atMs` and the twelve monthly dates after it (index k: addMonths(atMs, k), k = 0..12), for the last `atMs` seen. */
let lastMonthsAt = Number.NaN;
let lastMonths: readonly CivilInstant[] = [];
let lastIsoAt = Number.NaN;
let lastIso = '';

function monthsFrom(t: number): readonly CivilInstant[] {
  if (t === lastMonthsAt) return lastMonths;
  const months: CivilInstant[] = [civilInstant(t)];
  for (let k = 1; k <= 12; k++) months.push(civilInstant(addMonths(t, k)));
  lastMonthsAt = t;
  lastMonths = months;
  return months;
}

function isoOf(t: number): string {
  if (t === lastIsoAt) return lastIso;
  const iso = new Date(t).toISOString();
  lastIsoAt = t;
  lastIso = iso;
  return iso;
}

/** outstandingAt of a planned facility at a planned instant: the same formula, the same double. */
function outstandingOf(principal: number, fp: FacilityPlan, at: CivilInstant): number {
  const tMs = at.ms;
  if (tMs < fp.startMs || tMs >= fp.maturityMs) return 0;
  if (fp.n === 0) return principal;
  return principal * Math.max(0, 1 - wholeMonthsBetween(fp.start, at) / fp.n);
}

function assess(
  sheet: SheetVersion,
  market: Market,
  t: number,
  params: DomainParams,
  plan: SheetPlan,
  outstanding: Float64Array,
  secured: Uint8Array,
  sc: Scenario | null,
  missing: string[] | null,
  into: Assessment,
  base: Assessment | null,
): void {
  const fleet = sheet.fleet;
  const nItems = fleet.length;
  const facPlans = plan.facilities;
  const nFac = facPlans.length;
  into.reset(nItems, nFac);
  const itemMv = into.itemMv;
  const itemLv = into.itemLv;
  const itemHaircut = into.itemHaircut;
  const itemByModel = into.itemByModel;
  const itemFwd = into.itemFwd;
  const itemNoi = into.itemNoi;
  const itemSpot = into.itemSpot;
  const itemPlans = plan.items;
  const curves = plan.curves;
  const cryptoShock = sc === null ? 1 : 1 + sc.crypto;
  const hashShock = sc === null ? 1 : 1 + sc.hashprice;

  // ---- crypto
  let cryptoValue: number | null = 0;
  const priceBtc = indexOf(market.crypto, 'BTC');
  const priceEth = indexOf(market.crypto, 'ETH');
  const pBtc = priceBtc === undefined ? undefined : priceBtc * cryptoShock;
  const pEth = priceEth === undefined ? undefined : priceEth * cryptoShock;
  const heldBtc = sheet.holdings.BTC;
  const heldEth = sheet.holdings.ETH;
  if (heldBtc > 0) {
    if (pBtc === undefined) {
      cryptoValue = null;
      if (missing !== null && !missing.includes('BTC')) missing.push('BTC');
    } else cryptoValue += heldBtc * pBtc;
  }
  if (heldEth > 0) {
    if (pEth === undefined) {
      cryptoValue = null;
      if (missing !== null && !missing.includes('ETH')) missing.push('ETH');
    } else if (cryptoValue !== null) cryptoValue += heldEth * pEth;
  }

  // ---- fleet market and liquidation values
  let noi: number | null = -sheet.fixedCostsPerYear;
  let spot = 0;
  for (let i = 0; i < nItems; i++) {
    const item = fleet[i];
    const ip = itemPlans[i];
    const model = item.model;
    const isGpu = item.class === 'gpu';
    const shocked = sc !== null && (!isGpu || sc.olderGenerationsOnly !== true || ip.olderGeneration);
    const resaleShock = !shocked ? 1 : isGpu ? 1 + sc.gpuResale : 1 + sc.asicResale;
    const resale = indexOf(market.resale, model);
    let mv: number;
    if (resale !== undefined) {
      mv = item.count * resale * resaleShock;
    } else {
      // DOMAIN.md: with no resale index, depreciate the cost; age 0 if acquired in the future.
      const acquiredMs = Number.isNaN(ip.acquiredMs) ? dateMs(item.acquiredAt) : ip.acquiredMs;
      const years = Math.max(0, (t - acquiredMs) / MS_PER_YEAR);
      mv = item.count * item.costPerUnit * Math.pow(1 - ip.depreciation, years) * resaleShock;
      itemByModel[i] = 1;
    }
    // The haircut counts the entity's whole holding of the model: splitting a fleet into items
    // does not shrink it (DOMAIN.md "Liquidation value"); worked out once in the plan.
    const h = ip.haircut;
    itemMv[i] = mv;
    itemHaircut[i] = h;
    itemLv[i] = mv * (1 - h);

    // ---- forward twelve months of this item (DOMAIN.md "Forward twelve months")
    itemFwd[i] = FWD_NONE;
    if (item.count === 0) continue;
    // A scenario that leaves this item's forward factor at exactly 1 computes, operation for
    // operation, what the base valuation did: take its result (the same doubles).
    const fwdShock = isGpu ? (shocked ? 1 + sc.rental : 1) : hashShock;
    if (base !== null && fwdShock === 1 && base.itemFwd[i] !== FWD_NONE) {
      if (base.itemFwd[i] === FWD_MISSING) {
        itemFwd[i] = FWD_MISSING;
        noi = null;
        continue;
      }
      itemFwd[i] = FWD_VALUE;
      itemNoi[i] = base.itemNoi[i];
      itemSpot[i] = base.itemSpot[i];
      if (isGpu) spot += base.itemSpot[i];
      if (noi !== null) noi += base.itemNoi[i];
      continue;
    }
    if (isGpu) {
      const r0 = indexOf(market.rental, model);
      const rentalShock = fwdShock;
      const c = item.contracted;
      const untilMs = c === undefined ? 0 : Number.isNaN(ip.untilMs) ? dateMs(c.until) : ip.untilMs;
      const hoursPerMonth = item.count * HOURS_PER_REVENUE_MONTH;
      let revenue = 0;
      let spotItem = 0;
      let needsSpot = false;
      for (let m = 1; m <= 12; m++) {
        const tm = t + (m - 0.5) * MS_PER_REVENUE_MONTH;
        const cm = c !== undefined && tm < untilMs ? c.share : 0;
        if (cm < 1) needsSpot = true;
        if (c !== undefined) revenue += hoursPerMonth * cm * c.ratePerHour;
        if (cm < 1 && r0 !== undefined) {
          const s = r0 * rentalShock * curves.rental[m - 1];
          spotItem += hoursPerMonth * (1 - cm) * item.utilization * s;
        }
      }
      if (needsSpot && r0 === undefined) {
        itemFwd[i] = FWD_MISSING;
        noi = null;
        if (missing !== null) {
          const id = `rental:${model}`;
          if (!missing.includes(id)) missing.push(id);
        }
        continue;
      }
      const add = revenue + spotItem - 12 * hoursPerMonth * item.opexPerUnitHour;
      itemFwd[i] = FWD_VALUE;
      itemNoi[i] = add;
      itemSpot[i] = spotItem;
      spot += spotItem;
      if (noi !== null) noi += add;
    } else {
      const hp = market.hashprice;
      if (hp === null) {
        itemFwd[i] = FWD_MISSING;
        noi = null;
        if (missing !== null && !missing.includes('hashprice')) missing.push('hashprice');
        continue;
      }
      const hashrateTh = ip.hashrateTh;
      const daysPerMonth = item.count * DAYS_PER_REVENUE_MONTH;
      let margin = 0;
      for (let m = 1; m <= 12; m++) {
        const hm = hp * hashShock * curves.hashprice[m - 1];
        // A miner switches off machines that lose money: the month's margin is at least 0.
        margin += Math.max(0, daysPerMonth * (hashrateTh * hm - item.opexPerUnitDay));
      }
      itemFwd[i] = FWD_VALUE;
      itemNoi[i] = margin;
      itemSpot[i] = 0;
      if (noi !== null) noi += margin;
    }
  }

  // ---- collateral (DOMAIN.md "Collateral of a facility"): pledges of facilities with outstanding
  // principal; an item pledged to several is shared pari passu by outstanding.
  const itemPledgedOut = into.itemPledgedOut;
  let wholeOutBtc = 0;
  let wholeOutEth = 0;
  let lotsBtc = 0;
  let lotsEth = 0;
  for (let f = 0; f < nFac; f++) {
    const out = outstanding[f];
    if (out <= 0 || secured[f] === 0) continue;
    const fp = facPlans[f];
    const kinds = fp.pledgeKind;
    for (let p = 0; p < kinds.length; p++) {
      const kind = kinds[p];
      if (kind === PLEDGE_FLEET) {
        const i = fp.pledgeItem[p];
        if (i >= 0) itemPledgedOut[i] += out;
      } else {
        const isBtc = fp.pledgeBtc[p] === 1;
        if (kind === PLEDGE_WHOLE) {
          if (isBtc) wholeOutBtc += out;
          else wholeOutEth += out;
        } else if (isBtc) lotsBtc += fp.pledgeUnits[p];
        else lotsEth += fp.pledgeUnits[p];
      }
    }
  }

  const facCv = into.facCv;
  const facLv = into.facLv;
  const facCv12 = into.facCv12;
  const facNull = into.facNull;
  const cryptoLvFactor = 1 - params.cryptoHaircut;
  for (let f = 0; f < nFac; f++) {
    const out = outstanding[f];
    facNull[f] = 0;
    if (out <= 0 || secured[f] === 0) {
      facCv[f] = 0;
      facLv[f] = 0;
      facCv12[f] = 0;
      continue;
    }
    let cv: number | null = 0;
    let lv = 0;
    let cv12 = 0;
    const fp = facPlans[f];
    const kinds = fp.pledgeKind;
    for (let p = 0; p < kinds.length; p++) {
      const kind = kinds[p];
      if (kind === PLEDGE_FLEET) {
        const i = fp.pledgeItem[p];
        if (i < 0) continue; // refused by validation; nothing to value
        const share = out / itemPledgedOut[i];
        if (cv !== null) cv += itemMv[i] * share;
        lv += itemLv[i] * share;
        cv12 += itemMv[i] * share * (1 - itemPlans[i].depreciation);
        continue;
      }
      const isBtc = fp.pledgeBtc[p] === 1;
      const price = isBtc ? pBtc : pEth;
      if (price === undefined) {
        cv = null;
        continue;
      }
      const units = kind === PLEDGE_WHOLE ? ((isBtc ? heldBtc : heldEth) * out) / (isBtc ? wholeOutBtc : wholeOutEth) : fp.pledgeUnits[p];
      const value = units * price;
      if (cv !== null) cv += value;
      lv += value * cryptoLvFactor;
      cv12 += value; // crypto is held flat over the twelve months
    }
    if (cv === null) facNull[f] = 1;
    else {
      facCv[f] = cv;
      facLv[f] = lv;
      facCv12[f] = cv12;
    }
  }

  // ---- entity collateral: each pledged item once
  let collateralValue: number | null = 0;
  let liquidationValue = 0;
  for (let i = 0; i < nItems; i++) {
    if (itemPledgedOut[i] > 0) {
      collateralValue += itemMv[i];
      liquidationValue += itemLv[i];
    }
  }
  let unpledgedCrypto: number | null = 0;
  for (let a = 0; a < 2; a++) {
    const held = a === 0 ? heldBtc : heldEth;
    const price = a === 0 ? pBtc : pEth;
    const wholeOut = a === 0 ? wholeOutBtc : wholeOutEth;
    const pledgedUnits = wholeOut > 0 ? held : Math.min(held, a === 0 ? lotsBtc : lotsEth);
    if (pledgedUnits > 0) {
      if (price === undefined) collateralValue = null;
      else if (collateralValue !== null) {
        collateralValue += pledgedUnits * price;
        liquidationValue += pledgedUnits * price * cryptoLvFactor;
      }
    }
    const free = held - pledgedUnits;
    if (free > 0) {
      if (price === undefined) unpledgedCrypto = null;
      else if (unpledgedCrypto !== null) unpledgedCrypto += free * price;
    }
  }

  into.cryptoValue = cryptoValue;
  into.wholeOutBtc = wholeOutBtc;
  into.wholeOutEth = wholeOutEth;
  into.lotsBtc = lotsBtc;
  into.lotsEth = lotsEth;
  into.unpledgedCrypto = unpledgedCrypto;
  into.collateralValue = collateralValue;
  into.liquidationValue = collateralValue === null ? null : liquidationValue;
  into.noi12 = noi;
  into.spotRevenue12 = spot;
}

/**
 * What a stress scenario reports of a pass (facility collateral values, the entity's collateral
 * value, noi12) and nothing else: `assess` with a scenario, minus the figures stress does not
 * report (liquidation values, haircuts, values in twelve months, unpledged coins) and with the
 * pledge shares of the base pass (they depend on outstanding principals only). Every reported
 * figure is computed by the same operations in the same order as `assess`: the same doubles.
 */
function assessStress(
  sheet: SheetVersion,
  market: Market,
  t: number,
  plan: SheetPlan,
  outstanding: Float64Array,
  secured: Uint8Array,
  sc: Scenario,
  base: Assessment,
  into: Assessment,
): void {
  const fleet = sheet.fleet;
  const nItems = fleet.length;
  const facPlans = plan.facilities;
  const nFac = facPlans.length;
  into.reset(nItems, nFac);
  const itemMv = into.itemMv;
  const itemPlans = plan.items;
  const curves = plan.curves;
  const cryptoShock = 1 + sc.crypto;
  const hashShock = 1 + sc.hashprice;
  const priceBtc = indexOf(market.crypto, 'BTC');
  const priceEth = indexOf(market.crypto, 'ETH');
  const pBtc = priceBtc === undefined ? undefined : priceBtc * cryptoShock;
  const pEth = priceEth === undefined ? undefined : priceEth * cryptoShock;

  let noi: number | null = -sheet.fixedCostsPerYear;
  for (let i = 0; i < nItems; i++) {
    const item = fleet[i];
    const ip = itemPlans[i];
    const isGpu = item.class === 'gpu';
    const shocked = !isGpu || sc.olderGenerationsOnly !== true || ip.olderGeneration;
    const resaleShock = !shocked ? 1 : isGpu ? 1 + sc.gpuResale : 1 + sc.asicResale;
    const resale = indexOf(market.resale, item.model);
    if (resale !== undefined) itemMv[i] = item.count * resale * resaleShock;
    else {
      const acquiredMs = Number.isNaN(ip.acquiredMs) ? dateMs(item.acquiredAt) : ip.acquiredMs;
      const years = Math.max(0, (t - acquiredMs) / MS_PER_YEAR);
      itemMv[i] = item.count * item.costPerUnit * Math.pow(1 - ip.depreciation, years) * resaleShock;
    }
    if (item.count === 0) continue;
    const fwdShock = isGpu ? (shocked ? 1 + sc.rental : 1) : hashShock;
    if (fwdShock === 1 && base.itemFwd[i] !== FWD_NONE) {
      if (base.itemFwd[i] === FWD_MISSING) noi = null;
      else if (noi !== null) noi += base.itemNoi[i];
      continue;
    }
    if (isGpu) {
      const r0 = indexOf(market.rental, item.model);
      const c = item.contracted;
      const untilMs = c === undefined ? 0 : Number.isNaN(ip.untilMs) ? dateMs(c.until) : ip.untilMs;
      const hoursPerMonth = item.count * HOURS_PER_REVENUE_MONTH;
      let revenue = 0;
      let spotItem = 0;
      let needsSpot = false;
      for (let m = 1; m <= 12; m++) {
        const tm = t + (m - 0.5) * MS_PER_REVENUE_MONTH;
        const cm = c !== undefined && tm < untilMs ? c.share : 0;
        if (cm < 1) needsSpot = true;
        if (c !== undefined) revenue += hoursPerMonth * cm * c.ratePerHour;
        if (cm < 1 && r0 !== undefined) {
          const s = r0 * fwdShock * curves.rental[m - 1];
          spotItem += hoursPerMonth * (1 - cm) * item.utilization * s;
        }
      }
      if (needsSpot && r0 === undefined) {
        noi = null;
        continue;
      }
      if (noi !== null) noi += revenue + spotItem - 12 * hoursPerMonth * item.opexPerUnitHour;
    } else {
      const hp = market.hashprice;
      if (hp === null) {
        noi = null;
        continue;
      }
      const hashrateTh = ip.hashrateTh;
      const daysPerMonth = item.count * DAYS_PER_REVENUE_MONTH;
      let margin = 0;
      for (let m = 1; m <= 12; m++) {
        const hm = hp * hashShock * curves.hashprice[m - 1];
        margin += Math.max(0, daysPerMonth * (hashrateTh * hm - item.opexPerUnitDay));
      }
      if (noi !== null) noi += margin;
    }
  }

  const itemPledgedOut = base.itemPledgedOut;
  const heldBtc = sheet.holdings.BTC;
  const heldEth = sheet.holdings.ETH;
  const facCv = into.facCv;
  const facNull = into.facNull;
  for (let f = 0; f < nFac; f++) {
    const out = outstanding[f];
    facNull[f] = 0;
    if (out <= 0 || secured[f] === 0) {
      facCv[f] = 0;
      continue;
    }
    let cv: number | null = 0;
    const fp = facPlans[f];
    const kinds = fp.pledgeKind;
    for (let p = 0; p < kinds.length; p++) {
      const kind = kinds[p];
      if (kind === PLEDGE_FLEET) {
        const i = fp.pledgeItem[p];
        if (i < 0) continue;
        const share = out / itemPledgedOut[i];
        if (cv !== null) cv += itemMv[i] * share;
        continue;
      }
      const isBtc = fp.pledgeBtc[p] === 1;
      const price = isBtc ? pBtc : pEth;
      if (price === undefined) {
        cv = null;
        continue;
      }
      const units = kind === PLEDGE_WHOLE ? ((isBtc ? heldBtc : heldEth) * out) / (isBtc ? base.wholeOutBtc : base.wholeOutEth) : fp.pledgeUnits[p];
      const value = units * price;
      if (cv !== null) cv += value;
    }
    if (cv === null) facNull[f] = 1;
    else facCv[f] = cv;
  }

  let collateralValue: number | null = 0;
  for (let i = 0; i < nItems; i++) if (itemPledgedOut[i] > 0) collateralValue += itemMv[i];
  for (let a = 0; a < 2; a++) {
    const held = a === 0 ? heldBtc : heldEth;
    const price = a === 0 ? pBtc : pEth;
    const wholeOut = a === 0 ? base.wholeOutBtc : base.wholeOutEth;
    const pledgedUnits = wholeOut > 0 ? held : Math.min(held, a === 0 ? base.lotsBtc : base.lotsEth);
    if (pledgedUnits > 0) {
      if (price === undefined) collateralValue = null;
      else if (collateralValue !== null) collateralValue += pledgedUnits * price;
    }
  }
  into.collateralValue = collateralValue;
  into.noi12 = noi;
}

function kindOfPledge(p: string): number {
  if (p.charCodeAt(0) === 102) return PLEDGE_FLEET; // 'fleet:'
  return p.length > 12 ? PLEDGE_LOT : PLEDGE_WHOLE; // 'holdings:BTC' is 12 characters
}

function fleetIndexOf(fleet: readonly FleetItem[], pledge: string): number {
  for (let i = 0; i < fleet.length; i++) {
    const id = fleet[i].id;
    if (pledge.length === id.length + 6 && pledge.endsWith(id)) return i;
  }
  return -1;
}

const lotUnits = (p: string): number => Number(p.slice(13));

/** Facility ltv and status from its collateral (DOMAIN.md "Per facility"). */
function facilityLtv(out: number, secured: boolean, cv: number | null): number | null {
  if (!secured) return null;
  if (out === 0) return 0;
  if (cv === null || cv === 0) return null;
  return ratio(out, cv);
}

function facilityStatus(out: number, secured: boolean, cv: number | null, ltv: number | null, c: Covenants): FacilityStatus {
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
function dscrStatusOf(dscr: number | null, noi12: number | null, debtService12: number, dscrMin: number | null): DscrStatus {
  if (dscrMin === null || debtService12 === 0) return 'ok';
  if (noi12 === null) return UNKNOWN;
  return dscr !== null && dscr < dscrMin ? 'breach' : 'ok';
}

function entityRatio(securedDebt: number, value: number | null): number | null {
  if (securedDebt === 0) return 0;
  if (value === null || value === 0) return null;
  return ratio(securedDebt, value);
}

/** Months of economic life left in the pledged fleet: life runs from acquisition, capped by the model's life from release. */
function collateralLifeMonthsLeft(sheet: SheetVersion, f: Facility, t: number, params: DomainParams): number | null {
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

/** collateralLifeMonthsLeft from the planned ends of life: the smallest wholeMonths(t, end). */
function lifeMonthsLeft(ends: readonly CivilInstant[], at: CivilInstant): number | null {
  let best: number | null = null;
  for (let i = 0; i < ends.length; i++) {
    const left = wholeMonthsBetween(at, ends[i]);
    if (best === null || left < best) best = left;
  }
  return best;
}

/**
 * `valueEntity` (valuation.ts), fast: the same result, bit for bit. Stress scenarios
 * (`params.scenarios`) run unless `options.stress` is false.
 */
export function valueEntityFast(sheet: SheetVersion, market: Market, atMs: number, params: DomainParams, options?: { stress?: boolean }): Valuation {
  const t = atMs;
  const plan = planOf(sheet, params);
  const months = monthsFrom(t);
  const at = months[0];
  const key = scheduleKey(at);
  const facilities = sheet.facilities;
  const nFac = facilities.length;
  if (scratchOutstanding.length < nFac) {
    scratchOutstanding = new Float64Array(Math.max(nFac, scratchOutstanding.length * 2));
    scratchOut12 = new Float64Array(scratchOutstanding.length);
    scratchSecured = new Uint8Array(scratchOutstanding.length);
  }
  const outstanding = scratchOutstanding;
  const secured = scratchSecured;
  const out12 = scratchOut12;

  let totalDebt = 0;
  let securedDebt = 0;
  let debtService12 = 0;
  let maturities12 = 0;
  let maxDscrMin: number | null = null;
  for (let f = 0; f < nFac; f++) {
    const fac = facilities[f];
    const fp = plan.facilities[f];
    if (!fp.datesValid) {
      // Refused by validation; throws the MonitorError it always threw.
      dateMs(fac.start);
      dateMs(fac.maturity);
    }
    const sc = scheduleOf(fac, fp, months, key, fp.lifeEnds !== null);
    const out = sc.outstanding;
    outstanding[f] = out;
    secured[f] = fp.secured ? 1 : 0;
    out12[f] = sc.outstanding12;
    totalDebt += out;
    if (secured[f] === 1) securedDebt += out;
    if (out > 0 && fac.covenants.dscrMin !== undefined && (maxDscrMin === null || fac.covenants.dscrMin > maxDscrMin)) maxDscrMin = fac.covenants.dscrMin;
    debtService12 += sc.interest;
    if (sc.hasInstalments) debtService12 += sc.instalments;
    if (sc.hasMaturity) maturities12 += sc.maturity;
    if (!fp.memoable) {
      // Scratch: keep what the output needs before the next facility overwrites it.
      tenorScratch[f] = sc.tenorMonthsLeft;
      lifeScratch[f] = sc.collateralLifeMonthsLeft;
    }
  }
  const missing: string[] = [];
  const a = baseScratch;
  assess(sheet, market, t, params, plan, outstanding, secured, null, missing, a, null);

  // ---- fleet
  const fleet = sheet.fleet;
  const fleetOut: FleetItemValuation[] = new Array<FleetItemValuation>(fleet.length);
  let fleetValue = 0;
  for (let i = 0; i < fleet.length; i++) {
    fleetValue += a.itemMv[i];
    fleetOut[i] = {
      id: fleet[i].id,
      model: fleet[i].model,
      marketValue: a.itemMv[i],
      liquidationValue: a.itemLv[i],
      haircut: a.itemHaircut[i],
      valuedBy: a.itemByModel[i] === 1 ? 'model' : 'market',
    };
  }

  // ---- facilities
  const facOut: FacilityValuation[] = new Array<FacilityValuation>(nFac);
  for (let f = 0; f < nFac; f++) {
    const fac = facilities[f];
    const out = outstanding[f];
    const isSecured = secured[f] === 1;
    const cvNull = a.facNull[f] === 1;
    const cv = cvNull ? null : a.facCv[f];
    const lv = cvNull ? null : a.facLv[f];
    const ltv = facilityLtv(out, isSecured, cv);
    const forcedSaleLtv = facilityLtv(out, isSecured, lv);
    const c = fac.covenants;
    let ltvIn12m: number | null = null;
    if (isSecured) {
      const cv12 = cvNull ? null : a.facCv12[f];
      if (out12[f] === 0) ltvIn12m = 0;
      else if (out > 0 && cv12 !== null && cv12 > 0) ltvIn12m = ratio(out12[f], cv12);
    }
    const restore = fac.ltvRestore ?? c.ltvWarn ?? c.ltvMarginCall;
    const cureRaw = ltv === null || restore === undefined ? null : ratio(out, restore);
    const cure = cureRaw === null ? null : Math.max(0, cureRaw - (cv ?? 0));
    const fp = plan.facilities[f];
    const tenorMonthsLeft = fp.lifeEnds === null ? wholeMonthsBetween(at, fp.maturity) : fp.memoable ? fp.memo.tenorMonthsLeft : tenorScratch[f];
    const lifeLeft = fp.lifeEnds === null ? collateralLifeMonthsLeft(sheet, fac, t, params) : fp.memoable ? fp.memo.collateralLifeMonthsLeft : lifeScratch[f];
    facOut[f] = {
      id: fac.id,
      outstanding: out,
      collateralValue: cv,
      liquidationValue: lv,
      ltv,
      forcedSaleLtv,
      headroom: ltv === null || c.ltvMarginCall === undefined ? null : 1 - ltv / c.ltvMarginCall,
      ltvIn12m,
      status: facilityStatus(out, isSecured, cv, ltv, c),
      lender: fac.lender ?? null,
      cureAmountUsd: cure,
      tenorMonthsLeft,
      collateralLifeMonthsLeft: lifeLeft,
      debtOutlivesCollateral: lifeLeft !== null && tenorMonthsLeft > lifeLeft,
      dataMissing: isSecured && out > 0 && cv === null,
    };
  }

  // ---- entity totals
  const cash = sheet.cash;
  const cryptoValue = a.cryptoValue;
  const grossAssets = cryptoValue === null ? null : cash + cryptoValue + fleetValue;
  const noi12 = a.noi12;
  const dscr = noi12 === null || debtService12 === 0 ? null : ratio(noi12, debtService12);
  const due = debtService12 + maturities12;
  const liquidityCoverage =
    noi12 === null || a.unpledgedCrypto === null || due === 0 ? null : ratio(Math.max(0, cash + a.unpledgedCrypto * (1 - params.cryptoHaircut) + noi12), due);
  const runwayDenominator = noi12 === null ? 0 : due - noi12;
  const runwayMonths = runwayDenominator > 0 ? ratio(12 * cash, runwayDenominator) : null;
  const netLeverage = noi12 === null || noi12 <= 0 || cryptoValue === null ? null : ratio(totalDebt - cash - cryptoValue, noi12);

  // Break-even rental: noi12 = A + B f with B the spot revenue (DOMAIN.md), quoted in today's index
  // of the GPU item with the largest count.
  let breakevenRentalRate: number | null = null;
  let breakevenRentalRateAtCovenant: number | null = null;
  const B = a.spotRevenue12;
  if (noi12 !== null && B !== 0 && debtService12 !== 0) {
    let ref = -1;
    for (let i = 0; i < fleet.length; i++) if (fleet[i].class === 'gpu' && (ref < 0 || fleet[i].count > fleet[ref].count)) ref = i;
    const refRate = ref < 0 ? undefined : indexOf(market.rental, fleet[ref].model);
    if (refRate !== undefined) {
      const A = noi12 - B;
      const f1 = ratio(debtService12 - A, B);
      breakevenRentalRate = f1 === null ? null : Math.max(0, f1) * refRate;
      const fc = maxDscrMin === null ? null : ratio(maxDscrMin * debtService12 - A, B);
      if (fc !== null) breakevenRentalRateAtCovenant = Math.max(0, fc) * refRate;
    }
  }

  // ---- stress
  const stress: StressResult[] = [];
  if (options?.stress ?? true) {
    for (const sc of params.scenarios) {
      const s = stressScratch;
      assessStress(sheet, market, t, plan, outstanding, secured, sc, a, s);
      const sf: StressFacility[] = new Array<StressFacility>(nFac);
      for (let f = 0; f < nFac; f++) {
        const isSecured = secured[f] === 1;
        const cv = s.facNull[f] === 1 ? null : s.facCv[f];
        const ltv = facilityLtv(outstanding[f], isSecured, cv);
        sf[f] = { id: facilities[f].id, ltv, status: facilityStatus(outstanding[f], isSecured, cv, ltv, facilities[f].covenants) };
      }
      stress.push({
        scenario: sc.name,
        ltv: entityRatio(securedDebt, s.collateralValue),
        dscr: s.noi12 === null || debtService12 === 0 ? null : ratio(s.noi12, debtService12),
        facilities: sf,
      });
    }
  }

  return {
    entity: sheet.id,
    at: isoOf(t),
    cryptoValue,
    fleetValue,
    cash,
    grossAssets,
    totalDebt,
    securedDebt,
    collateralValue: a.collateralValue,
    liquidationValue: a.liquidationValue,
    equity: grossAssets === null ? null : grossAssets - totalDebt,
    ltv: entityRatio(securedDebt, a.collateralValue),
    forcedSaleLtv: entityRatio(securedDebt, a.liquidationValue),
    noi12,
    debtService12,
    maturities12,
    dscr,
    dscrStatus: dscrStatusOf(dscr, noi12, debtService12, maxDscrMin),
    liquidityCoverage,
    runwayMonths,
    netLeverage,
    breakevenRentalRate,
    breakevenRentalRateAtCovenant,
    fleet: fleetOut,
    facilities: facOut,
    stress,
    missing,
  };
}

/** What the debt schedule gives at one instant for the whole sheet (debtTermsAt). */
export interface DebtTerms {
  readonly plan: SheetPlan;
  /** Per facility, in sheet order. */
  readonly outstanding: Float64Array;
  readonly debtService12: number;
  /** The largest dscrMin of facilities with outstanding principal (null without one). */
  readonly maxDscrMin: number | null;
  /**
   * Every facility's dates are midnights: the terms are the same for every instant of the day
   * after the instant's midnight (the instant alone when it is a midnight).
   */
  readonly memoable: boolean;
}

/**
 * The debt terms of `valueEntityFast` at `atMs` (the same doubles: the same schedule, summed in the
 * same order), for the compiled form (compiled.ts) and the processor's exposure outputs. Throws as
 * the valuation does for dates that do not parse (refused by validation).
 */
export function debtTermsAt(sheet: SheetVersion, params: DomainParams, atMs: number): DebtTerms {
  const plan = planOf(sheet, params);
  const months = monthsFrom(atMs);
  const key = scheduleKey(months[0]);
  const facilities = sheet.facilities;
  const outstanding = new Float64Array(facilities.length);
  let debtService12 = 0;
  let maxDscrMin: number | null = null;
  let memoable = true;
  for (let f = 0; f < facilities.length; f++) {
    const fac = facilities[f];
    const fp = plan.facilities[f];
    if (!fp.datesValid) {
      dateMs(fac.start);
      dateMs(fac.maturity);
    }
    memoable &&= fp.memoable;
    const sc = scheduleOf(fac, fp, months, key, fp.lifeEnds !== null);
    const out = sc.outstanding;
    outstanding[f] = out;
    if (out > 0 && fac.covenants.dscrMin !== undefined && (maxDscrMin === null || fac.covenants.dscrMin > maxDscrMin)) maxDscrMin = fac.covenants.dscrMin;
    debtService12 += sc.interest;
    if (sc.hasInstalments) debtService12 += sc.instalments;
  }
  return { plan, outstanding, debtService12, maxDscrMin, memoable };
}
