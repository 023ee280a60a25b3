import type { AlertStateRecord, CarriedOutputs } from './step-types.ts';
import { STATUS } from '../valuation/valuation-types.ts';
import { CURE } from '../alerts/alerts.ts';
import { decodeAlertKey, encodeAlertKey } from '../alerts/alert-key.ts';
import type { AlertSlot, EntitySlot, ProcessorState } from './step-state.ts';
import { byString } from './step-shared.ts';

/** The alert statuses a state holds, and their restore after a restart or on a handover (docs/processor.md); what a takeover carries of an entity's outputs. */

/** Every alert status held (keys `entity/facility/rule`, facility `-` for entity rules), sorted by key. */
export function alertStates(state: ProcessorState): AlertStateRecord[] {
  const records: AlertStateRecord[] = [];
  const put = (key: string, s: AlertSlot | null): void => {
    if (s !== null) records.push({ key, status: s.status, cureDeadline: s.cureDeadline, since: s.since });
  };
  for (const slot of state.entities.values()) {
    for (const [f, s] of slot.ltv) put(encodeAlertKey(slot.id, f, 'ltv'), s);
    for (const [f, s] of slot.cure) put(encodeAlertKey(slot.id, f, 'cure_expired'), s);
    put(encodeAlertKey(slot.id, null, 'dscr'), slot.dscr);
    put(encodeAlertKey(slot.id, null, 'stale_data'), slot.stale);
  }
  return records.sort((a, b) => byString(a.key, b.key));
}

const VALID_STATUS: Readonly<Record<string, readonly string[]>> = {
  ltv: STATUS,
  cure_expired: [CURE.pending, CURE.expired, CURE.cured],
  dscr: ['ok', 'breach'],
  stale_data: ['ok', 'stale'],
};

/**
 * After a look-back rebuild (whose outputs the runtime discards), the persisted alert states
 * overwrite the rebuilt ones, so a restart neither re-fires a transition nor loses a pending cure
 * deadline. Keys absent from `records` keep their rebuilt status; records of unknown entities or
 * with a status their rule does not have are ignored. Mutates and returns `state`.
 */
export function restoreAlertStates(state: ProcessorState, records: readonly AlertStateRecord[]): ProcessorState {
  for (const r of records) {
    const entity = decodeAlertKey(r.key)?.entity;
    const slot = entity === undefined ? undefined : state.entities.get(entity);
    if (slot !== undefined && setStatus(slot, r)) {
      slot.guard = null; // its statuses moved: the filter no longer holds
      slot.statusSeq++;
    }
  }
  let next = Infinity;
  for (const slot of state.entities.values()) for (const s of slot.ltv.values()) if (s.cureDeadline !== null && s.cureDeadline < next) next = s.cureDeadline;
  state.nextCureMs = next;
  return state;
}

/** Sets one persisted status on its entity's slot; false when the key or the status is not one of its rule's. */
function setStatus(slot: EntitySlot, r: AlertStateRecord): boolean {
  const k = decodeAlertKey(r.key);
  if (k === null || k.entity !== slot.id) return false;
  const { facility, rule } = k;
  if (!(VALID_STATUS[rule]?.includes(r.status) ?? false)) return false;
  const s: AlertSlot = { status: r.status, since: r.since, cureDeadline: r.cureDeadline };
  if (rule === 'ltv' && facility !== null) slot.ltv.set(facility, s);
  else if (rule === 'cure_expired' && facility !== null) slot.cure.set(facility, s);
  else if (rule === 'dscr' && facility === null) slot.dscr = s;
  else if (rule === 'stale_data' && facility === null) slot.stale = s;
  else return false;
  return true;
}

/** What was last written of an entity (null: not held): a takeover carries it to the new owner (StepEvent `entity`). */
export function carriedOutputs(state: ProcessorState, id: string): CarriedOutputs | null {
  const slot = state.entities.get(id);
  return slot === undefined ? null : { exposureWritten: slot.exposureWritten, itemsWritten: slot.itemsWritten, itemsHour: slot.itemsHour };
}

/** A handover's statuses on a new slot; pending cure deadlines join the state's next one. */
export function setStatuses(state: ProcessorState, slot: EntitySlot, records: readonly AlertStateRecord[]): void {
  for (const r of records) {
    if (!setStatus(slot, r)) continue;
    slot.statusSeq++;
    if (decodeAlertKey(r.key)?.rule === 'ltv' && r.cureDeadline !== null && r.cureDeadline < state.nextCureMs) state.nextCureMs = r.cureDeadline;
  }
}
