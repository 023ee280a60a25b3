import type { Covenants } from '../sheet/sheet.ts';
import type { LtvStatus } from '../valuation/valuation-types.ts';
import { STATUS } from '../valuation/valuation-types.ts';

/**
 * The alert state machine (shared/DOMAIN.md "Alerts"), as pure transition functions; the
 * processor's step keeps the statuses and turns every change into exactly one alert event.
 *
 * Hysteresis is in absolute LTV points (and absolute DSCR units): with `ltvMarginCall` 0.75 and a
 * band of 0.02 a facility enters `margin_call` as soon as ltv reaches 0.75 and leaves it only
 * once ltv < 0.73. Recovery may skip levels (liquidation -> ok when ltv drops far enough in one
 * move); worsening goes straight to the level reached. A null input holds the status
 * (DOMAIN.md "Missing data").
 */

export const LTV_LEVEL = { ok: 0, warn: 1, margin_call: 2, liquidation: 3 } as const satisfies Record<LtvStatus, number>;

/** The LTV lines of a facility by level (index 1..3), undefined where the covenant is absent. */
function lines(c: Covenants): readonly [undefined, number | undefined, number | undefined, number | undefined] {
  return [undefined, c.ltvWarn, c.ltvMarginCall, c.ltvLiquidation];
}

/** The level an ltv reaches without hysteresis: the highest line it is at or above. */
export function ltvLevelReached(ltv: number, c: Covenants): number {
  const l = lines(c);
  for (let level = 3; level >= 1; level--) {
    const t = l[level];
    if (t !== undefined && ltv >= t) return level;
  }
  return 0;
}

/** The highest level whose line ltv is NOT below by more than the band: where recovery stops. */
function ltvLevelHeld(ltv: number, c: Covenants, hysteresis: number): number {
  const l = lines(c);
  for (let level = 3; level >= 1; level--) {
    const t = l[level];
    if (t !== undefined && ltv >= t - hysteresis) return level;
  }
  return 0;
}

export interface LtvInput {
  /** The facility's ltv; null when it has none (unsecured, missing index, or worthless collateral). */
  readonly ltv: number | null;
  /** True when outstanding > 0 and the collateral is worth 0: the worst case (DOMAIN.md), never held. */
  readonly worthlessCollateral: boolean;
}

export interface Transition<S extends string> {
  readonly to: S;
  /** The line crossed: the new level's line when worsening, the lowest line left when recovering. */
  readonly threshold: number | null;
}

/** The next LTV status of a facility, or null when it holds. */
export function nextLtvStatus(current: LtvStatus, input: LtvInput, c: Covenants, hysteresis: number): Transition<LtvStatus> | null {
  const cur = LTV_LEVEL[current];
  if (input.ltv === null) {
    if (!input.worthlessCollateral || cur === 3) return null;
    return { to: 'liquidation', threshold: c.ltvLiquidation ?? null };
  }
  const reached = ltvLevelReached(input.ltv, c);
  if (reached > cur) return { to: STATUS[reached], threshold: lines(c)[reached] ?? null };
  const held = ltvLevelHeld(input.ltv, c, hysteresis);
  if (held < cur) {
    // The lowest line left behind; levels without a covenant are skipped.
    const l = lines(c);
    let threshold: number | null = null;
    for (let level = held + 1; level <= cur; level++) {
      const t = l[level];
      if (t !== undefined) {
        threshold = t;
        break;
      }
    }
    return { to: STATUS[held], threshold };
  }
  return null;
}

export type DscrAlertStatus = 'ok' | 'breach';

/**
 * The next DSCR status of an entity, or null when it holds: breach as soon as dscr < dscrMin,
 * back to ok only when dscr >= dscrMin + hysteresis. `dscrMin` is the largest covenant of the
 * facilities with outstanding principal (null: no covenant, so ok). A null dscr holds.
 */
export function nextDscrStatus(current: DscrAlertStatus, dscr: number | null, dscrMin: number | null, hysteresis: number): Transition<DscrAlertStatus> | null {
  if (dscrMin === null) return current === 'ok' ? null : { to: 'ok', threshold: null };
  if (dscr === null) return null;
  if (current === 'ok') return dscr < dscrMin ? { to: 'breach', threshold: dscrMin } : null;
  return dscr >= dscrMin + hysteresis ? { to: 'ok', threshold: dscrMin } : null;
}

/**
 * The cure ladder (issue 3b). Entering margin_call or liquidation from below sets a cure deadline
 * `at + cureHours` (event time); it stays while the status is margin_call or liquidation and is
 * cleared when the facility recovers below margin_call.
 * The `cure_expired` rule has its own status: `pending` while a deadline runs (carried by the ltv
 * state as `cureDeadline`, no alert of its own: the ltv alert says it), `expired` once the clock
 * passes the deadline (clock >= deadline) with the status still >= margin_call: one alert
 * `pending -> expired`; and `cured` when a facility whose cure had expired recovers below
 * margin_call: one alert `expired -> cured`. A recovery before the deadline emits no
 * `cure_expired` alert: the ltv alert (margin_call -> warn/ok) already tells it.
 */
export const CURE = { pending: 'pending', expired: 'expired', cured: 'cured' } as const;
export type CureStatus = (typeof CURE)[keyof typeof CURE];

/** The cure deadline after a change of LTV status, given the one before (null: none). */
export function nextCureDeadline(from: LtvStatus, to: LtvStatus, deadlineMs: number | null, atMs: number, cureHours: number): number | null {
  const wasCalled = LTV_LEVEL[from] >= LTV_LEVEL.margin_call;
  const isCalled = LTV_LEVEL[to] >= LTV_LEVEL.margin_call;
  if (!isCalled) return null;
  if (!wasCalled || deadlineMs === null) return atMs + cureHours * 3_600_000;
  return deadlineMs;
}

/** The largest dscrMin of facilities with outstanding principal, or null without one (DOMAIN.md "Entity totals"). */
export function dscrThreshold(
  facilities: ReadonlyArray<{ readonly id: string; readonly covenants: Covenants }>,
  outstandingById: (id: string) => number,
): number | null {
  let m: number | null = null;
  for (const f of facilities) {
    const d = f.covenants.dscrMin;
    if (d !== undefined && outstandingById(f.id) > 0 && (m === null || d > m)) m = d;
  }
  return m;
}
