import type { Market } from '../market/market.ts';
import type { DomainParams } from '../params.ts';
import type { SheetVersion } from '../sheet/sheet.ts';
import type { FacilityValuation, FleetItemValuation, StressFacility, StressResult, Valuation } from './valuation-types.ts';
import { dateMs, wholeMonthsBetween } from '../calendar.ts';
import { Assessment, indexOf } from './assessment.ts';
import { planOf } from './sheet-plan.ts';
import { isoOf, monthsFrom, scheduleKey, scheduleOf } from './debt-schedule.ts';
import { assess } from './fast-assess.ts';
import { assessStress } from './fast-assess-stress.ts';
import { collateralLifeMonthsLeft, dscrStatusOf, entityRatio, facilityLtv, facilityStatus, ratio } from './fast-figures.ts';

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

export { MS_PER_REVENUE_MONTH } from './assessment.ts';
export { PLEDGE_FLEET, PLEDGE_LOT, PLEDGE_WHOLE, planOf, type Curves, type FacilityPlan, type ItemPlan, type Schedule, type SheetPlan } from './sheet-plan.ts';
export { debtTermsAt, type DebtTerms } from './debt-schedule.ts';

const baseScratch = new Assessment();
/** Per facility of the sheet being valued: outstanding now and in twelve months, secured (scratch, like Assessment). */
let scratchOutstanding = new Float64Array(8);
let scratchOut12 = new Float64Array(8);
let scratchSecured = new Uint8Array(8);
const tenorScratch: number[] = [];
const lifeScratch: Array<number | null> = [];
const stressScratch = new Assessment();

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
