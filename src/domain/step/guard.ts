import type { Covenants } from '../sheet/sheet.ts';
import type { CompiledEntity } from '../valuation/compiled.ts';
import { noiAt } from '../valuation/compiled.ts';
import { LTV_LEVEL } from '../alerts/alerts.ts';

/**
 * The incremental step's filter (docs/valuation.md "Incremental revaluation"): after a full
 * evaluation of an entity, a price interval per instrument it is exposed to, such that no alert
 * line can be crossed while every price stays inside its interval, the clock stays before
 * `untilMs` and no index goes stale. An index change then costs, per exposed entity, a check of
 * the new price against its interval; only an entity leaving its interval is evaluated in full.
 *
 * The intervals form a box: every constraint (a facility's next line up, the line its hysteresis
 * lets it recover below, the DSCR covenant either way) is linear and monotone in each price (the
 * compiled form, valuation/compiled.ts), so it holds on the whole box when it holds at the corner
 * where all its prices are at their worst. Each constraint's slack, as a relative move of its
 * prices, bounds the move of every price it involves: `lo = p (1 - down)`, `hi = p (1 + up)`,
 * `down` and `up` the smallest over the constraints involving the price. noi12's hashprice part,
 * `max(0, alpha h - beta)` per month, moves by at most `alpha h` times the relative move of h.
 *
 * Every bound keeps a margin of MARGIN relative to its scale: the valuation's rounding (a few ulps
 * of its terms) can never carry a value the filter let through across a line. An interval is never
 * wider than MAX_MOVE either side: prices stay positive inside it (a collateral value never reaches
 * 0 inside, so "worthless collateral" needs no constraint of its own).
 */

/** The filter of one entity; the arrays are aligned with the slot's exposure (step.ts). */
export interface Guard {
  readonly atMs: number;
  /** Exclusive; equal to atMs: valid at atMs only. */
  readonly untilMs: number;
  /** The price bounds per exposed instrument (inclusive). An instrument without a price has an empty interval. */
  readonly lo: Float64Array;
  readonly hi: Float64Array;
}

/** The statuses the alert machine holds after the evaluation the guard follows. */
export interface GuardStatuses {
  /** The LTV status of a facility; undefined when unknown (no guard then). */
  ltv(facility: string): string | undefined;
  /** The DSCR status; undefined when unknown. */
  readonly dscr: string | undefined;
}

/** Relative safety margin of every bound (the valuation's rounding is some 1e-15 of its terms). */
export const MARGIN = 1e-9;
/** The largest relative move an interval allows either side. */
export const MAX_MOVE = 0.5;

/** The LTV lines of a facility by level 1..3 (warn, margin call, liquidation). */
const lineOf = (c: Covenants, level: number): number | undefined => (level === 1 ? c.ltvWarn : level === 2 ? c.ltvMarginCall : level === 3 ? c.ltvLiquidation : undefined);

/**
 * The guard after an evaluation, or null when the filter cannot vouch for the next move (a status
 * unknown, a value within the margin of a line). `exposure` is the slot's sorted list of
 * instruments (a superset of the form's inputs: other versions' instruments get unbounded
 * intervals); `untilMs` caps the form's own horizon (the next sheet version).
 */
export function guardOf(c: CompiledEntity, statuses: GuardStatuses, hysteresis: number, exposure: readonly string[], untilMs: number): Guard | null {
  const n = c.inputs.length;
  const down = new Float64Array(n).fill(MAX_MOVE);
  const up = new Float64Array(n).fill(MAX_MOVE);
  const prices = c.prices;

  // ---- facilities: collateral value = A + const, A the priced part (>= 0 coefficients)
  for (const f of c.facilities) {
    if (f.pledges.length === 0) continue; // unsecured or owes nothing: its status cannot move before untilMs
    const status = statuses.ltv(f.id);
    if (status === undefined) return null;
    const level = LTV_LEVEL[status as keyof typeof LTV_LEVEL];
    if (level === undefined) return null;
    let priced = 0;
    let constLo = 0;
    let constHi = 0;
    for (const p of f.pledges) {
      if (p.kind === 'item') {
        const item = c.items[p.item];
        if (item.resaleInput >= 0) priced += item.count * prices[item.resaleInput] * p.share;
        else {
          constLo += item.modelValueUntil * p.share;
          constHi += item.modelValueAt * p.share;
        }
      } else {
        const price = p.input < 0 ? Number.NaN : prices[p.input];
        if (Number.isNaN(price)) return null;
        priced += p.units * price;
      }
    }
    const out = f.outstanding;
    const scale = priced + constHi;
    // worsening: ltv must stay below the next line up: value > out / line
    let next: number | undefined;
    for (let l = level + 1; l <= 3 && next === undefined; l++) next = lineOf(f.covenants, l);
    if (next !== undefined) {
      const slack = priced + constLo - out / next - MARGIN * scale;
      if (!(slack > 0)) return null;
      if (priced > 0) tighten(down, f, c, slack / priced);
    }
    // recovering: ltv must stay at or above the lowest line at or above the status, less the band
    if (level > 0) {
      let held: number | undefined;
      for (let l = level; l <= 3 && held === undefined; l++) held = lineOf(f.covenants, l);
      if (held === undefined) return null;
      const floor = held - hysteresis;
      if (floor > 0) {
        const slack = out / floor - (priced + constHi) - MARGIN * (scale + out / floor);
        if (!(slack > 0)) return null;
        if (priced > 0) tighten(up, f, c, slack / priced);
      }
    }
  }

  // ---- DSCR: noi12 against dscrMin x debtService12 (both constant until untilMs)
  const dscrMin = c.dscrMin;
  if (dscrMin === null || c.debtService12 === 0) {
    if (dscrMin === null && statuses.dscr !== undefined && statuses.dscr !== 'ok') return null;
  } else {
    const noi = c.noi;
    const status = statuses.dscr;
    if (noi === null || status === undefined) return null;
    const noi0 = noiAt(noi, prices);
    let moving = 0;
    for (const r of noi.rental) moving += r.coef * prices[r.input];
    for (const h of noi.hash) for (let m = 0; m < 12; m++) moving += h.alpha[m] * prices[h.input];
    const ds = c.debtService12;
    const margin = MARGIN * (noi.magnitude + dscrMin * ds + (dscrMin + hysteresis) * ds);
    const slack = status === 'ok' ? noi0 - dscrMin * ds - margin : (dscrMin + hysteresis) * ds - margin - noi0;
    if (!(slack > 0)) return null;
    if (moving > 0) {
      const move = slack / moving;
      const bound = status === 'ok' ? down : up;
      for (const r of noi.rental) bound[r.input] = Math.min(bound[r.input], move);
      for (const h of noi.hash) bound[h.input] = Math.min(bound[h.input], move);
    }
  }

  // ---- the intervals, aligned with the slot's exposure
  const lo = new Float64Array(exposure.length);
  const hi = new Float64Array(exposure.length);
  for (let k = 0; k < exposure.length; k++) {
    const input = c.inputs.indexOf(exposure[k]);
    if (input < 0) {
      // not read by this version: any price
      lo[k] = -Infinity;
      hi[k] = Infinity;
      continue;
    }
    const p = prices[input];
    if (Number.isNaN(p)) {
      // no price yet: its first one changes the form (a model value replaced, a term appearing)
      lo[k] = Infinity;
      hi[k] = -Infinity;
      continue;
    }
    lo[k] = p * (1 - down[input]);
    hi[k] = p * (1 + up[input]);
  }
  return { atMs: c.atMs, untilMs: Math.min(c.untilMs, untilMs), lo, hi };
}

/** Bounds the relative move of every price a facility's collateral reads. */
function tighten(bound: Float64Array, f: CompiledEntity['facilities'][number], c: CompiledEntity, move: number): void {
  for (const p of f.pledges) {
    const input = p.kind === 'item' ? c.items[p.item].resaleInput : p.input;
    if (input >= 0 && move < bound[input]) bound[input] = move;
  }
}
