import type { DomainParams } from '../params.ts';
import type { Facility, SheetVersion } from '../sheet/sheet.ts';
import type { CivilInstant } from '../calendar.ts';
import { addMonths, civilInstant, dateMs, wholeMonthsBetween } from '../calendar.ts';
import type { FacilityPlan, Schedule, SheetPlan } from './sheet-plan.ts';
import { newSchedule, planOf } from './sheet-plan.ts';

/**
 * The fast valuation's debt schedule (fast-valuation.ts): each facility's schedule memoised per day
 * in its plan, the calendar of the twelve months after the last instant seen, and the debt terms
 * of the whole sheet that the compiled form builds on.
 */

/**
 * The memo key of an instant: the instant itself at a midnight; within a day after its midnight,
 * that midnight + 0.5 (one key for the whole open day; never a whole ms, so never an instant's key).
 * NaN (never equal) when the instant is not a whole ms.
 */
export const scheduleKey = (at: CivilInstant): number => (!at.exact ? Number.NaN : at.timeOfDayMs === 0 ? at.ms : at.ms - at.timeOfDayMs + 0.5);

/** Scratch schedule of facilities that are not memoable. */
const scratchSchedule = newSchedule();

/**
 * The debt schedule of one facility at `months[0]` (DOMAIN.md "Outstanding principal", "Debt service"):
 * memoised per day when the facility's dates allow it, else computed into scratch.
 */
export function scheduleOf(fac: Facility, fp: FacilityPlan, months: readonly CivilInstant[], key: number, withLife: boolean): Schedule {
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

/** `atMs` and the twelve monthly dates after it (index k: addMonths(atMs, k), k = 0..12), for the last `atMs` seen. */
let lastMonthsAt = Number.NaN;
let lastMonths: readonly CivilInstant[] = [];
let lastIsoAt = Number.NaN;
let lastIso = '';

export function monthsFrom(t: number): readonly CivilInstant[] {
  if (t === lastMonthsAt) return lastMonths;
  const months: CivilInstant[] = [civilInstant(t)];
  for (let k = 1; k <= 12; k++) months.push(civilInstant(addMonths(t, k)));
  lastMonthsAt = t;
  lastMonths = months;
  return months;
}

export function isoOf(t: number): string {
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

/** collateralLifeMonthsLeft from the planned ends of life: the smallest wholeMonths(t, end). */
function lifeMonthsLeft(ends: readonly CivilInstant[], at: CivilInstant): number | null {
  let best: number | null = null;
  for (let i = 0; i < ends.length; i++) {
    const left = wholeMonthsBetween(at, ends[i]);
    if (best === null || left < best) best = left;
  }
  return best;
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
