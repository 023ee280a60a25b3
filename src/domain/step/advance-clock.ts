import type { DomainParams } from '../params.ts';
import type { StepOutput } from './step-types.ts';
import { refreshIndex } from '../market/market-index.ts';
import { CURE } from '../alerts/alerts.ts';
import { encodeAlertKey } from '../alerts/alert-key.ts';
import { windowStartOf } from '../window.ts';
import type { EntitySlot, ProcessorState } from './step-state.ts';
import { byString, latestValuation, pushAlert } from './step-shared.ts';
import { scheduleWarmUps, warmUpEndMs } from './warm-up.ts';
import { evaluateEntity } from './evaluate-entity.ts';
import { noteIndexChange, revalueAt } from './on-index-change.ts';
import { closeWindow, closeWindowSliced } from './close-window.ts';

/** The clock moving forward (a quote or a tick): the window it leaves closed, quotes aged out, warm-ups ended, cures expired. */

/** Moves the clock forward to `ts`: closes the window it leaves, ages out quotes, ends warm-ups, expires cures. */
export function advanceClock(state: ProcessorState, ts: number, params: DomainParams, out: StepOutput[]): void {
  if (state.clockMs !== null && ts <= state.clockMs) return;
  const windowStart = windowStartOf(ts, params.emitIntervalMs);
  if (state.windowStartMs !== null && windowStart > state.windowStartMs) closeWindow(state, params, out);
  state.windowStartMs = windowStart;
  state.clockMs = ts;
  if (state.startMs === null) {
    state.startMs = ts;
    scheduleWarmUps(state, params);
  }
  // Quotes ageing out: every index first, then each affected entity once, so that a stale_data
  // alert names every index that went stale at this instant.
  let expired: string[] | null = null;
  for (const idx of state.index.instruments.values()) {
    if (idx.nextExpiryMs < ts && noteIndexChange(state, refreshIndex(state.index, idx, ts), out)) (expired ??= []).push(idx.instrument);
  }
  if (expired !== null) {
    const affected = new Set<string>();
    for (const instrument of expired) for (const id of state.exposedBy.get(instrument) ?? []) affected.add(id);
    revalueAt(state, affected, ts, params, out, { expired: expired.join(',') });
  }
  if (ts > state.nextWarmUpMs) endWarmUps(state, ts, params, out);
  if (state.nextCureMs <= ts) expireCures(state, ts, params, out);
}

/**
 * The window part of `advanceClock`, a slice at a time: when `ts` leaves the open window, closes it
 * (closeWindowSliced) and moves the window to `ts`'s; `advanceClock` then finds it moved and goes
 * on with the clock. The clock itself does not move here.
 */
export function* moveWindowSliced(state: ProcessorState, ts: number, params: DomainParams, out: StepOutput[], sliceOutputs: number): Generator<void, void, void> {
  if (state.clockMs !== null && ts <= state.clockMs) return;
  const windowStart = windowStartOf(ts, params.emitIntervalMs);
  if (state.windowStartMs === null || windowStart <= state.windowStartMs) return;
  yield* closeWindowSliced(state, params, out, sliceOutputs);
  state.windowStartMs = windowStart;
}

/**
 * Warm-ups that ended by `ts`: the entities exposed to an instrument still missing or stale then
 * are revalued (their machine may start; stale_data may name it). Instruments in sorted order,
 * each entity once.
 */
function endWarmUps(state: ProcessorState, ts: number, params: DomainParams, out: StepOutput[]): void {
  const ended: string[] = [];
  for (const instrument of state.exposedBy.keys()) {
    if (state.warmedUp.has(instrument) || !(ts > warmUpEndMs(state, instrument, params))) continue;
    state.warmedUp.add(instrument);
    const idx = state.index.instruments.get(instrument);
    if (idx === undefined || idx.value === null || idx.stale) ended.push(instrument);
  }
  scheduleWarmUps(state, params);
  if (ended.length === 0) return;
  ended.sort(byString);
  const affected = new Set<string>();
  for (const instrument of ended) for (const id of state.exposedBy.get(instrument) ?? []) affected.add(id);
  for (const id of affected) evaluateEntity(state, state.entities.get(id) as EntitySlot, ts, params, out, { warmUpEnded: ended.join(',') });
}

function expireCures(state: ProcessorState, clock: number, params: DomainParams, out: StepOutput[]): void {
  let next = Infinity;
  for (const slot of state.entities.values()) {
    for (const [facility, s] of slot.ltv) {
      if (s.cureDeadline === null) continue;
      if (s.cureDeadline > clock) {
        if (s.cureDeadline < next) next = s.cureDeadline;
        continue;
      }
      const deadline = s.cureDeadline;
      s.cureDeadline = null; // fires once; the ltv status itself is unchanged
      state.window.alertKeys.add(encodeAlertKey(slot.id, facility, 'ltv'));
      const from = slot.cure.get(facility)?.status === CURE.expired ? CURE.expired : CURE.pending;
      slot.cure.set(facility, { status: CURE.expired, since: clock, cureDeadline: null });
      const ltv = latestValuation(state, slot, params)?.facilities.find((f) => f.id === facility)?.ltv ?? null;
      pushAlert(state, out, { entity: slot.id, facility, rule: 'cure_expired', from, to: CURE.expired, value: ltv, threshold: null, at: clock, cause: { deadline, status: s.status } });
    }
  }
  state.nextCureMs = next;
}
