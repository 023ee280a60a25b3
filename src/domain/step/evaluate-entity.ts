import type { DomainParams } from '../params.ts';
import type { SheetVersion } from '../sheet/sheet.ts';
import type { StepOutput } from './step-types.ts';
import type { LtvStatus, Valuation } from '../valuation/valuation-types.ts';
import type { Guard } from './guard.ts';
import { UNKNOWN } from '../valuation/valuation-types.ts';
import { CURE, LTV_LEVEL, nextCureDeadline, nextDscrStatus, nextLtvStatus } from '../alerts/alerts.ts';
import type { DscrAlertStatus } from '../alerts/alerts.ts';
import { compileEntity } from '../valuation/compiled.ts';
import { guardOf } from './guard.ts';
import { encodeAlertKey } from '../alerts/alert-key.ts';
import type { EntitySlot, ProcessorState, VersionInfo } from './step-state.ts';
import type { Cause } from './step-shared.ts';
import { byString, isIncremental, NO_STRESS, pushAlert, touch, valueOf, versionAt } from './step-shared.ts';
import { marketReady, warmedUp } from './warm-up.ts';

/** The alerts of one entity: its revaluation, the LTV, cure, DSCR and stale rules, and the incremental filter made after it. */

export function evaluateEntity(state: ProcessorState, slot: EntitySlot, atMs: number, params: DomainParams, out: StepOutput[], cause: Cause | undefined): void {
  const version = versionAt(slot, atMs);
  if (version === null) return; // not in force yet: nothing to value, statuses hold
  const sheet = version.sheet;
  const valuation = valueOf(sheet, state, atMs, params, NO_STRESS);
  state.revaluations.full++;
  touch(state, slot, version, atMs);
  if (!slot.started) slot.started = marketReady(state, sheet, valuation, atMs, params);
  if (slot.started) evaluateCovenants(state, slot, sheet, valuation, atMs, params, out, cause);
  const fresh = evaluateStale(state, slot, version, valuation, atMs, params, out, cause);
  slot.guard = isIncremental(params) && slot.started && fresh ? guardAfter(state, slot, version, atMs, params) : null;
}

/** The LTV rule of each facility (with the cure ladder) and the entity's DSCR rule. */
function evaluateCovenants(state: ProcessorState, slot: EntitySlot, sheet: SheetVersion, valuation: Valuation, atMs: number, params: DomainParams, out: StepOutput[], cause: Cause | undefined): void {
  const id = slot.id;
  const h = params.hysteresis;
  const facs = sheet.facilities;
  const vals = valuation.facilities;
  let dscrMin: number | null = null;
  for (let i = 0; i < facs.length; i++) {
    const fac = facs[i];
    const fv = vals[i];
    if (fv === undefined || fv.id !== fac.id) continue;
    const d = fac.covenants.dscrMin;
    if (d !== undefined && fv.outstanding > 0 && (dscrMin === null || d > dscrMin)) dscrMin = d;
    const prev = slot.ltv.get(fac.id);
    const cureHours = fac.cureHours ?? params.defaultCureHours;
    if (prev === undefined) {
      // A baseline: the first known status is where the machine starts, not a crossing.
      if (fv.status === UNKNOWN) continue;
      const deadline = nextCureDeadline('ok', fv.status, null, atMs, cureHours);
      slot.ltv.set(fac.id, { status: fv.status, since: atMs, cureDeadline: deadline });
      slot.statusSeq++;
      if (deadline !== null && deadline < state.nextCureMs) state.nextCureMs = deadline;
      state.window.alertKeys.add(encodeAlertKey(id, fac.id, 'ltv'));
      continue;
    }
    const cur = prev.status as LtvStatus;
    const worthless = fv.ltv === null && fv.outstanding > 0 && fv.status === 'liquidation' && fv.dataMissing !== true;
    const t = nextLtvStatus(cur, { ltv: fv.ltv, worthlessCollateral: worthless }, fac.covenants, h);
    if (t === null) continue;
    const deadline = nextCureDeadline(cur, t.to, prev.cureDeadline, atMs, cureHours);
    slot.ltv.set(fac.id, { status: t.to, since: atMs, cureDeadline: deadline });
    slot.statusSeq++;
    if (deadline !== null && deadline < state.nextCureMs) state.nextCureMs = deadline;
    pushAlert(state, out, { entity: id, facility: fac.id, rule: 'ltv', from: cur, to: t.to, value: fv.ltv, threshold: t.threshold, at: atMs, cause });
    const cure = slot.cure.get(fac.id);
    if (cure !== undefined && cure.status === CURE.expired && LTV_LEVEL[t.to] < LTV_LEVEL.margin_call) {
      slot.cure.set(fac.id, { status: CURE.cured, since: atMs, cureDeadline: null });
      pushAlert(state, out, { entity: id, facility: fac.id, rule: 'cure_expired', from: CURE.expired, to: CURE.cured, value: fv.ltv, threshold: t.threshold, at: atMs, cause });
    }
  }

  if (slot.dscr === null) {
    // Baseline: ok without a covenant or with nothing due; else from the DSCR once it is known.
    const known: DscrAlertStatus | null =
      dscrMin === null || valuation.debtService12 === 0 ? 'ok' : valuation.dscr === null ? null : valuation.dscr < dscrMin ? 'breach' : 'ok';
    if (known !== null) {
      slot.dscr = { status: known, since: atMs, cureDeadline: null };
      state.window.alertKeys.add(encodeAlertKey(id, null, 'dscr'));
    }
    return;
  }
  const dscrCur = slot.dscr.status as DscrAlertStatus;
  const dt = nextDscrStatus(dscrCur, valuation.dscr, dscrMin, h);
  if (dt !== null) {
    slot.dscr = { status: dt.to, since: atMs, cureDeadline: null };
    pushAlert(state, out, { entity: id, facility: null, rule: 'dscr', from: dscrCur, to: dt.to, value: valuation.dscr, threshold: dt.threshold, at: atMs, cause });
  }
}

/**
 * The stale rule: an index the valuation needs is missing (valuation.missing) or stale, past its
 * warm-up. Returns true when every instrument of the version is fresh or has no value and nothing
 * is missing (the incremental filter may then stand in for the next evaluations).
 * Allocation-free in the common case (nothing missing, nothing stale): this runs per revaluation.
 */
function evaluateStale(state: ProcessorState, slot: EntitySlot, version: VersionInfo, valuation: Valuation, atMs: number, params: DomainParams, out: StepOutput[], cause: Cause | undefined): boolean {
  const missing = valuation.missing ?? [];
  const exposure = version.exposure;
  const indexes = state.index.instruments;
  let fresh = missing.length === 0;
  let named = false;
  for (let i = 0; i < missing.length && !named; i++) if (warmedUp(state, missing[i], atMs, params)) named = true;
  for (let i = 0; i < exposure.length; i++) {
    const idx = indexes.get(exposure[i]);
    if (idx !== undefined && idx.value !== null && idx.stale) {
      fresh = false;
      if (!named && warmedUp(state, exposure[i], atMs, params)) named = true;
    }
  }
  let staleCause: Record<string, string> | null = null;
  let staleCount = 0;
  if (named) {
    const needs = new Map<string, string>();
    for (const instrument of missing) if (warmedUp(state, instrument, atMs, params)) needs.set(instrument, 'missing');
    for (const instrument of exposure) {
      const idx = indexes.get(instrument);
      if (idx !== undefined && idx.value !== null && idx.stale && !needs.has(instrument) && warmedUp(state, instrument, atMs, params)) needs.set(instrument, 'stale');
    }
    staleCause = {};
    for (const instrument of [...needs.keys()].sort(byString)) {
      staleCause[instrument] = needs.get(instrument) as string;
      staleCount++;
    }
  }
  const staleCur = slot.stale?.status ?? 'ok';
  const staleNext = staleCause === null ? 'ok' : 'stale';
  if (staleNext !== staleCur) {
    slot.stale = { status: staleNext, since: atMs, cureDeadline: null };
    pushAlert(state, out, { entity: slot.id, facility: null, rule: 'stale_data', from: staleCur, to: staleNext, value: staleCount, threshold: null, at: atMs, cause: staleCause ?? cause });
  }
  return fresh;
}

/** The incremental filter after a full evaluation (guard.ts), or null when it cannot vouch for the next move. */
function guardAfter(state: ProcessorState, slot: EntitySlot, version: VersionInfo, atMs: number, params: DomainParams): Guard | null {
  const compiled = compileEntity(version.sheet, state.index.market, atMs, params);
  return guardOf(
    compiled,
    { ltv: (facility) => slot.ltv.get(facility)?.status, dscr: slot.dscr?.status },
    params.hysteresis,
    slot.exposure,
    version.untilMs,
  );
}

/** True when the guard vouches for the entity at `clockMs` with every index of its exposure as it is now. */
export function guardHolds(state: ProcessorState, slot: EntitySlot, clockMs: number): boolean {
  const g = slot.guard;
  if (g === null || !(clockMs < g.untilMs || clockMs === g.atMs)) return false;
  const exposure = slot.exposure;
  for (let k = 0; k < exposure.length; k++) {
    const idx = state.index.instruments.get(exposure[k]);
    if (idx === undefined || idx.value === null) continue; // still no price: as when the guard was made
    if (idx.stale || !(idx.value >= g.lo[k] && idx.value <= g.hi[k])) return false;
  }
  return true;
}
