import type { DomainParams } from '../params.ts';
import type { StepOutput } from './step-types.ts';
import type { IndexChange } from '../market/market-index.ts';
import { eventId } from '../event-id.ts';
import { ENTITY_FACILITY } from '../alerts/alert-key.ts';
import type { EntitySlot, ExposureList, ProcessorState, VersionInfo } from './step-state.ts';
import type { Cause } from './step-shared.ts';
import { isIncremental, pushAlert, touch } from './step-shared.ts';
import { evaluateEntity, guardHolds } from './evaluate-entity.ts';

/** A change of an index: its outliers reported, the entities exposed to it revalued or vouched for by their filter. */

/** Reports the outliers of an index change; true when the index changed (its entities need revaluing). */
export function noteIndexChange(state: ProcessorState, change: IndexChange, out: StepOutput[]): boolean {
  const instrument = change.index.instrument;
  const clock = state.clockMs as number;
  if (change.newRejections.length > 0) {
    state.window.rejected.set(instrument, (state.window.rejected.get(instrument) ?? 0) + change.newRejections.length);
    for (const r of change.newRejections) {
      out.push({ kind: 'data_quality', eventId: eventId('data_quality', 'outlier', instrument, r.source, r.ts), ts: clock, instrument, source: r.source, reason: 'outlier', value: r.price });
      pushAlert(
        state,
        out,
        {
          entity: ENTITY_FACILITY,
          facility: null,
          rule: 'data_quality',
          from: 'accepted',
          to: 'rejected',
          value: r.price,
          threshold: change.index.rule.maxDeviation,
          at: clock,
          cause: { instrument, source: r.source, quoteTs: r.ts, median: r.median, deviation: r.deviation },
        },
        instrument,
        r.source,
        r.ts,
      );
    }
  }
  if (!change.changed) return false;
  state.window.instruments.add(instrument);
  return true;
}

/** The entities exposed to an instrument as slots, in exposedBy's order (cached until an entity event changes it). */
function exposureList(state: ProcessorState, instrument: string): ExposureList | null {
  const cached = state.exposureLists.get(instrument);
  if (cached !== undefined) return cached;
  const ids = state.exposedBy.get(instrument);
  if (ids === undefined) return null;
  const slots: EntitySlot[] = [];
  const ks = new Int32Array(ids.size);
  for (const id of ids) {
    const slot = state.entities.get(id) as EntitySlot;
    ks[slots.length] = slot.exposure.indexOf(instrument);
    slots.push(slot);
  }
  const list = { slots, ks };
  state.exposureLists.set(instrument, list);
  return list;
}

export function onIndexChange(state: ProcessorState, change: IndexChange, params: DomainParams, out: StepOutput[], cause: Cause): void {
  if (!noteIndexChange(state, change, out)) return;
  const clock = state.clockMs as number;
  const instrument = change.index.instrument;
  if (!isIncremental(params)) {
    const exposed = state.exposedBy.get(instrument);
    if (exposed !== undefined) for (const id of exposed) evaluateEntity(state, state.entities.get(id) as EntitySlot, clock, params, out, cause);
    return;
  }
  const list = exposureList(state, instrument);
  if (list === null) return;
  const idx = change.index;
  const price = idx.stale ? null : idx.value;
  const slots = list.slots;
  const ks = list.ks;
  for (let n = 0; n < slots.length; n++) {
    const slot = slots[n];
    const g = slot.guard;
    // Inside its interval, before its horizon: no line can be crossed (guard.ts); the other
    // instruments are where they were when each of their changes was checked.
    if (price !== null && g !== null && (clock < g.untilMs || clock === g.atMs) && price >= g.lo[ks[n]] && price <= g.hi[ks[n]]) {
      touch(state, slot, slot.latest as VersionInfo, clock);
      state.revaluations.filtered++;
      continue;
    }
    evaluateEntity(state, slot, clock, params, out, cause);
  }
}

/** Revalues entities the clock affected (expired quotes, ended warm-ups); an incremental guard may vouch for them. */
export function revalueAt(state: ProcessorState, ids: Iterable<string>, ts: number, params: DomainParams, out: StepOutput[], cause: Cause): void {
  const incremental = isIncremental(params);
  for (const id of ids) {
    const slot = state.entities.get(id) as EntitySlot;
    if (incremental && guardHolds(state, slot, ts)) {
      touch(state, slot, slot.latest as VersionInfo, ts);
      state.revaluations.filtered++;
    } else evaluateEntity(state, slot, ts, params, out, cause);
  }
}
