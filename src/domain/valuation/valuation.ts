import type { Market } from '../market/market.ts';
import type { DomainParams, Scenario } from '../params.ts';
import type { Covenants, Facility, FleetItem, SheetVersion } from '../sheet/sheet.ts';
import type { DscrStatus, FacilityStatus, FacilityValuation, FleetItemValuation, LtvStatus, StressFacility, StressResult, Valuation } from './valuation-types.ts';
import { UNKNOWN } from './valuation-types.ts';
import { addMonths, dateMs, DAYS_PER_REVENUE_MONTH, HOURS_PER_REVENUE_MONTH, MS_PER_DAY, MS_PER_YEAR, wholeMonths } from '../calendar.ts';
import { isOlderGpuGeneration, newestGpuGeneration } from './stress.ts';

/**
 * The valuation of one balance sheet against one market snapshot at one instant: the formulas of
 * shared/DOMAIN.md ("Formulas", "Entity totals", "Missing data", "Stress scenarios"), which are the
 * contract, plus the lender fields of docs/valuation.md (cure amount, tenor against collateral life).
 *
 * This is the REFERENCE valuation: the formulas written out plainly, nothing cached between calls.
 * `ccm value` uses it, the processor runs on it when `params.revaluation` is `reference`, and every
 * faster path is tested against it: `valueEntityFast` (fast-valuation.ts, the same numbers bit for
 * bit) and the incremental step (docs/valuation.md "Incremental revaluation").
 *
 * Pure and deterministic: time comes in as `atMs`. A few small typed arrays per call, no Date
 * objects, no closures in loops.
 */

const MS_PER_REVENUE_MONTH = DAYS_PER_REVENUE_MONTH * MS_PER_DAY;

/** The params of the domain-wide defaults (src/domain/defaults.ts, where they live). */
export { defaultDomainParams } from '../defaults.ts';

/** An index value, or undefined when the market lacks it (a missing index is absent, never 0). */
const indexOf = (rec: Readonly<Record<string, number>>, key: string): number | undefined => {
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
const ratio = (a: number, b: number): number | null => {
  const r = a / b;
  return Number.isFinite(r) ? r : null;
};

const monthsOf = (f: Facility): number => (f.amortization.kind === 'straight_line' ? f.amortization.months : 0);

/** LTV status from the thresholds (no hysteresis here: that is the alert state machine's job). */
export function ltvStatusOf(ltv: number, c: Covenants): LtvStatus {
  if (c.ltvLiquidation !== undefined && ltv >= c.ltvLiquidation) return 'liquidation';
  if (c.ltvMarginCall !== undefined && ltv >= c.ltvMarginCall) return 'margin_call';
  if (c.ltvWarn !== undefined && ltv >= c.ltvWarn) return 'warn';
  return 'ok';
}

/** A parsed pledge: a fleet item (index), all of an asset, or a lot of an asset. */
const PLEDGE_FLEET = 0;
const PLEDGE_WHOLE = 1;
const PLEDGE_LOT = 2;
const ASSETS = ['BTC', 'ETH'] as const;

/** One pass over the sheet at a (possibly shocked) market: what valuation and stress both need. */
interface Assessment {
  readonly itemMv: Float64Array;
  readonly itemLv: Float64Array;
  readonly itemHaircut: Float64Array;
  readonly itemByModel: Uint8Array;
  readonly cryptoValue: number | null;
  readonly unpledgedCrypto: number | null;
  /** Per facility: its share of collateral MV / LV / MV in twelve months; null when an index is missing. */
  readonly facCv: Array<number | null>;
  readonly facLv: Array<number | null>;
  readonly facCv12: Array<number | null>;
  readonly collateralValue: number | null;
  readonly liquidationValue: number | null;
  readonly noi12: number | null;
  /** Spot rental revenue of the twelve months (B of the break-even, DOMAIN.md). */
  readonly spotRevenue12: number;
}

/** The decline factors `(1 - g) ^ ((m - 0.5) / 12)` of months m = 1..12, computed once per valuation. */
interface Curves {
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

interface Terms {
  readonly outstanding: Float64Array;
  readonly secured: Uint8Array;
}

function depreciationOf(item: FleetItem, params: DomainParams): number {
  return item.depreciation ?? params.catalog.models.get(item.model)?.depreciation ?? params.defaultDepreciation;
}

function assess(
  sheet: SheetVersion,
  market: Market,
  t: number,
  params: DomainParams,
  terms: Terms,
  sc: Scenario | null,
  newestGen: number,
  curves: Curves,
  missing: string[] | null,
  resaleFactor: ReadonlyMap<string, number> | null = null,
): Assessment {
  const fleet = sheet.fleet;
  const nItems = fleet.length;
  const itemMv = new Float64Array(nItems);
  const itemLv = new Float64Array(nItems);
  const itemHaircut = new Float64Array(nItems);
  const itemByModel = new Uint8Array(nItems);
  const catalog = params.catalog;
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
    const model = item.model;
    const cat = catalog.models.get(model);
    const isGpu = item.class === 'gpu';
    const shocked = sc !== null && (!isGpu || sc.olderGenerationsOnly !== true || isOlderGpuGeneration(cat, newestGen));
    // a fire sale's price impact on the model (contagion.ts), on market- and model-valued items alike
    const resaleShock = (!shocked ? 1 : isGpu ? 1 + sc.gpuResale : 1 + sc.asicResale) * (resaleFactor?.get(model) ?? 1);
    const resale = indexOf(market.resale, model);
    let mv: number;
    if (resale !== undefined) {
      mv = item.count * resale * resaleShock;
    } else {
      // DOMAIN.md: with no resale index, depreciate the cost; age 0 if acquired in the future.
      const years = Math.max(0, (t - dateMs(item.acquiredAt)) / MS_PER_YEAR);
      mv = item.count * item.costPerUnit * Math.pow(1 - depreciationOf(item, params), years) * resaleShock;
      itemByModel[i] = 1;
    }
    // The haircut counts the entity's whole holding of the model: splitting a fleet into items
    // does not shrink it (DOMAIN.md "Liquidation value").
    let modelCount = 0;
    for (let j = 0; j < nItems; j++) if (fleet[j].model === model) modelCount += fleet[j].count;
    const liq = item.liquidity ?? cat?.liquidity ?? params.defaultLiquidity;
    const h = Math.min(liq.hmax, liq.h0 + (liq.k * modelCount) / liq.depthPerMonth);
    itemMv[i] = mv;
    itemHaircut[i] = h;
    itemLv[i] = mv * (1 - h);

    // ---- forward twelve months of this item (DOMAIN.md "Forward twelve months")
    if (item.count === 0) continue;
    if (isGpu) {
      const r0 = indexOf(market.rental, model);
      const rentalShock = shocked ? 1 + sc.rental : 1;
      const c = item.contracted;
      const untilMs = c === undefined ? 0 : dateMs(c.until);
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
        noi = null;
        if (missing !== null) {
          const id = `rental:${model}`;
          if (!missing.includes(id)) missing.push(id);
        }
        continue;
      }
      spot += spotItem;
      if (noi !== null) noi += revenue + spotItem - 12 * hoursPerMonth * item.opexPerUnitHour;
    } else {
      const hp = market.hashprice;
      if (hp === null) {
        noi = null;
        if (missing !== null && !missing.includes('hashprice')) missing.push('hashprice');
        continue;
      }
      const hashrateTh = item.hashrateTh ?? cat?.hashrateTh ?? 0;
      const daysPerMonth = item.count * DAYS_PER_REVENUE_MONTH;
      let margin = 0;
      for (let m = 1; m <= 12; m++) {
        const hm = hp * hashShock * curves.hashprice[m - 1];
        // A miner switches off machines that lose money: the month's margin is at least 0.
        margin += Math.max(0, daysPerMonth * (hashrateTh * hm - item.opexPerUnitDay));
      }
      if (noi !== null) noi += margin;
    }
  }

  // ---- collateral (DOMAIN.md "Collateral of a facility"): pledges of facilities with outstanding
  // principal; an item pledged to several is shared pari passu by outstanding.
  const facilities = sheet.facilities;
  const nFac = facilities.length;
  const itemPledgedOut = new Float64Array(nItems);
  let wholeOutBtc = 0;
  let wholeOutEth = 0;
  let lotsBtc = 0;
  let lotsEth = 0;
  for (let f = 0; f < nFac; f++) {
    const out = terms.outstanding[f];
    if (out <= 0 || terms.secured[f] === 0) continue;
    const pledges = facilities[f].collateral;
    for (let p = 0; p < pledges.length; p++) {
      const kind = pledgeKind(pledges[p]);
      if (kind === PLEDGE_FLEET) {
        const i = fleetIndexOf(fleet, pledges[p]);
        if (i >= 0) itemPledgedOut[i] += out;
      } else {
        const isBtc = pledges[p].charCodeAt(9) === 66; // 'holdings:B...'
        if (kind === PLEDGE_WHOLE) {
          if (isBtc) wholeOutBtc += out;
          else wholeOutEth += out;
        } else if (isBtc) lotsBtc += lotUnits(pledges[p]);
        else lotsEth += lotUnits(pledges[p]);
      }
    }
  }

  const facCv: Array<number | null> = new Array<number | null>(nFac);
  const facLv: Array<number | null> = new Array<number | null>(nFac);
  const facCv12: Array<number | null> = new Array<number | null>(nFac);
  const cryptoLvFactor = 1 - params.cryptoHaircut;
  for (let f = 0; f < nFac; f++) {
    const out = terms.outstanding[f];
    if (out <= 0 || terms.secured[f] === 0) {
      facCv[f] = 0;
      facLv[f] = 0;
      facCv12[f] = 0;
      continue;
    }
    let cv: number | null = 0;
    let lv = 0;
    let cv12 = 0;
    const pledges = facilities[f].collateral;
    for (let p = 0; p < pledges.length; p++) {
      const pledge = pledges[p];
      const kind = pledgeKind(pledge);
      if (kind === PLEDGE_FLEET) {
        const i = fleetIndexOf(fleet, pledge);
        if (i < 0) continue; // refused by validation; nothing to value
        const share = out / itemPledgedOut[i];
        if (cv !== null) cv += itemMv[i] * share;
        lv += itemLv[i] * share;
        cv12 += itemMv[i] * share * (1 - depreciationOf(fleet[i], params));
        continue;
      }
      const isBtc = pledge.charCodeAt(9) === 66;
      const price = isBtc ? pBtc : pEth;
      if (price === undefined) {
        cv = null;
        continue;
      }
      const units = kind === PLEDGE_WHOLE ? ((isBtc ? heldBtc : heldEth) * out) / (isBtc ? wholeOutBtc : wholeOutEth) : lotUnits(pledge);
      const value = units * price;
      if (cv !== null) cv += value;
      lv += value * cryptoLvFactor;
      cv12 += value; // crypto is held flat over the twelve months
    }
    facCv[f] = cv;
    facLv[f] = cv === null ? null : lv;
    facCv12[f] = cv === null ? null : cv12;
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

  return {
    itemMv,
    itemLv,
    itemHaircut,
    itemByModel,
    cryptoValue,
    unpledgedCrypto,
    facCv,
    facLv,
    facCv12,
    collateralValue,
    liquidationValue: collateralValue === null ? null : liquidationValue,
    noi12: noi,
    spotRevenue12: spot,
  };
}

function pledgeKind(p: string): number {
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

/**
 * Values one sheet version against a market at `atMs` (DOMAIN.md). Stress scenarios
 * (`params.scenarios`) run unless `options.stress` is false.
 */
export interface ValueOptions {
  /** Stress scenarios (default on). */
  readonly stress?: boolean;
  /** Per model, a factor on its unit value (a fire sale's `1 - impact`, DOMAIN.md "Fire-sale contagion"). */
  readonly resaleFactor?: ReadonlyMap<string, number>;
}

export function valueEntity(sheet: SheetVersion, market: Market, atMs: number, params: DomainParams, options?: ValueOptions): Valuation {
  const t = atMs;
  const facilities = sheet.facilities;
  const nFac = facilities.length;
  const outstanding = new Float64Array(nFac);
  const secured = new Uint8Array(nFac);
  const t12 = addMonths(t, 12);

  let totalDebt = 0;
  let securedDebt = 0;
  let debtService12 = 0;
  let maturities12 = 0;
  let maxDscrMin: number | null = null;
  const out12 = new Float64Array(nFac);
  for (let f = 0; f < nFac; f++) {
    const fac = facilities[f];
    const n = monthsOf(fac);
    const startMs = dateMs(fac.start);
    const maturityMs = dateMs(fac.maturity);
    const out = outstandingAt(fac.principal, n, startMs, maturityMs, t);
    outstanding[f] = out;
    secured[f] = fac.collateral.length > 0 ? 1 : 0;
    out12[f] = outstandingAt(fac.principal, n, startMs, maturityMs, t12);
    totalDebt += out;
    if (secured[f] === 1) securedDebt += out;
    if (out > 0 && fac.covenants.dscrMin !== undefined && (maxDscrMin === null || fac.covenants.dscrMin > maxDscrMin)) maxDscrMin = fac.covenants.dscrMin;

    // Interest on the outstanding at each of the twelve monthly dates from t.
    let owedMonths = 0;
    for (let k = 0; k < 12; k++) owedMonths += outstandingAt(fac.principal, n, startMs, maturityMs, k === 0 ? t : addMonths(t, k));
    debtService12 += (owedMonths * fac.rate) / 12;
    if (maturityMs <= startMs) continue;
    // Scheduled instalments on anniversaries j of start with t < date <= min(t + 12 months, maturity).
    if (n > 0) {
      const endMs = t12 < maturityMs ? t12 : maturityMs;
      if (endMs > t && endMs >= startMs) {
        const jLo = wholeMonths(startMs, t) + 1;
        const jHi = Math.min(n, wholeMonths(startMs, endMs));
        if (jHi >= jLo) debtService12 += ((jHi - jLo + 1) * fac.principal) / n;
      }
    }
    // What is still owed at a maturity inside the window, after that day's instalment.
    if (maturityMs > t && maturityMs <= t12) {
      maturities12 += n === 0 ? fac.principal : fac.principal * Math.max(0, 1 - Math.min(n, wholeMonths(startMs, maturityMs)) / n);
    }
  }
  const terms: Terms = { outstanding, secured };
  const missing: string[] = [];
  const needsGen = params.scenarios.some((s) => s.olderGenerationsOnly === true);
  const newestGen = needsGen ? newestGpuGeneration(params.catalog) : -1;
  const curves = curvesOf(sheet, params);
  const a = assess(sheet, market, t, params, terms, null, newestGen, curves, missing, options?.resaleFactor ?? null);

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
    const cv = a.facCv[f];
    const lv = a.facLv[f];
    const ltv = facilityLtv(out, isSecured, cv);
    const forcedSaleLtv = facilityLtv(out, isSecured, lv);
    const c = fac.covenants;
    let ltvIn12m: number | null = null;
    if (isSecured) {
      const cv12 = a.facCv12[f];
      if (out12[f] === 0) ltvIn12m = 0;
      else if (out > 0 && cv12 !== null && cv12 > 0) ltvIn12m = ratio(out12[f], cv12);
    }
    const restore = fac.ltvRestore ?? c.ltvWarn ?? c.ltvMarginCall;
    const cureRaw = ltv === null || restore === undefined ? null : ratio(out, restore);
    const cure = cureRaw === null ? null : Math.max(0, cureRaw - (cv ?? 0));
    const tenorMonthsLeft = wholeMonths(t, dateMs(fac.maturity));
    const lifeLeft = collateralLifeMonthsLeft(sheet, fac, t, params);
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
      const s = assess(sheet, market, t, params, terms, sc, newestGen, curves, null, options?.resaleFactor ?? null);
      const sf: StressFacility[] = new Array<StressFacility>(nFac);
      for (let f = 0; f < nFac; f++) {
        const isSecured = secured[f] === 1;
        const ltv = facilityLtv(outstanding[f], isSecured, s.facCv[f]);
        sf[f] = { id: facilities[f].id, ltv, status: facilityStatus(outstanding[f], isSecured, s.facCv[f], ltv, facilities[f].covenants) };
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
    at: new Date(t).toISOString(),
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

/** Each facility's outstanding principal at `atMs`, in sheet order (the valuation's own numbers). */
export function facilityOutstanding(sheet: SheetVersion, atMs: number): number[] {
  return sheet.facilities.map((fac) => outstandingAt(fac.principal, monthsOf(fac), dateMs(fac.start), dateMs(fac.maturity), atMs));
}

/**
 * Instrument ids whose index can change this sheet's valuation: the coins it holds, the resale index
 * of every fleet model (present or not: its arrival replaces the model value), the rental index of
 * every GPU model and the hashprice when it has ASICs. Used to revalue only the exposed entities.
 */
export function exposureOf(sheet: SheetVersion, _params: DomainParams): ReadonlySet<string> {
  const ids = new Set<string>();
  for (const asset of ASSETS) if (sheet.holdings[asset] > 0) ids.add(asset);
  for (const item of sheet.fleet) {
    ids.add(`resale:${item.model}`);
    if (item.class === 'gpu') ids.add(`rental:${item.model}`);
    else ids.add('hashprice');
  }
  return ids;
}
