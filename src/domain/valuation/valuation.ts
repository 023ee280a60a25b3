import type { Market } from '../market/market.ts';
import type { DomainParams } from '../params.ts';
import type { SheetVersion } from '../sheet/sheet.ts';
import type { FacilityValuation, FleetItemValuation, StressFacility, StressResult, Valuation } from './valuation-types.ts';
import { addMonths, dateMs, wholeMonths } from '../calendar.ts';
import { newestGpuGeneration } from './stress.ts';
import type { Terms } from './reference-assess.ts';
import { assess } from './reference-assess.ts';
import { collateralLifeMonthsLeft, curvesOf, dscrStatusOf, entityRatio, facilityLtv, facilityStatus, indexOf, monthsOf, outstandingAt, ratio } from './reference-figures.ts';

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

/** The params of the domain-wide defaults (src/domain/defaults.ts, where they live). */
export { defaultDomainParams } from '../defaults.ts';

export { ltvStatusOf, outstandingAt } from './reference-figures.ts';

const ASSETS = ['BTC', 'ETH'] as const;

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
