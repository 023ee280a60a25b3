import type { DomainParams } from '../params.ts';
import type { Entity } from '../sheet/sheet.ts';
import type { AlertStateRecord, CarriedOutputs, StepOutput } from './step-types.ts';
import { MS_PER_DAY, parseDateMs } from '../calendar.ts';
import { exposureOf } from '../valuation/valuation.ts';
import type { EntitySlot, ProcessorState, VersionInfo } from './step-state.ts';
import { byString } from './step-shared.ts';
import { warmUpEndMs } from './warm-up.ts';
import { evaluateEntity } from './evaluate-entity.ts';
import { setStatuses } from './restore-alert-states.ts';

/** An entity event: a new or updated entity (its versions, exposure and warm-ups), a tombstone or a release. */

/** One array per distinct set of instruments: versions exposed to the same ones share it (closeWindow's inputs). */
function internExposure(state: ProcessorState, exposure: readonly string[]): readonly string[] {
  const key = exposure.join(',');
  const known = state.exposureSets.get(key);
  if (known !== undefined) return known;
  state.exposureSets.set(key, exposure);
  return exposure;
}

function removeExposure(state: ProcessorState, slot: EntitySlot): void {
  for (const instrument of slot.exposure) {
    state.exposureLists.delete(instrument);
    const set = state.exposedBy.get(instrument);
    if (set === undefined) continue;
    set.delete(slot.id);
    if (set.size === 0) state.exposedBy.delete(instrument);
  }
}

function toVersions(state: ProcessorState, entity: Entity, params: DomainParams): VersionInfo[] {
  const versions = entity.versions.map((sheet) => ({
    fromMs: sheet.effectiveFrom === undefined ? -Infinity : parseDateMs(sheet.effectiveFrom),
    sheet,
    exposure: internExposure(state, [...exposureOf(sheet, params)].sort(byString)),
  }));
  // Stable sort: versions are validated upstream; this keeps as-of lookups right whatever the order.
  versions.sort((a, b) => a.fromMs - b.fromMs);
  return versions.map((v, i) => ({
    ...v,
    untilMs: i + 1 < versions.length ? versions[i + 1].fromMs : Infinity,
    midnightDates: v.sheet.facilities.every((f) => parseDateMs(f.start) % MS_PER_DAY === 0 && parseDateMs(f.maturity) % MS_PER_DAY === 0),
  }));
}

export function onEntity(state: ProcessorState, id: string, entity: Entity | null, released: boolean, params: DomainParams, out: StepOutput[], statuses?: readonly AlertStateRecord[], carried?: CarriedOutputs): void {
  const existing = state.entities.get(id);
  if (existing !== undefined) removeExposure(state, existing);
  if (entity === null) {
    // Removal: its statuses go with it (the runtime decides whether to tombstone alert-state). A
    // tombstone ends its exposure contribution at the window close; a release leaves it to the
    // entity's new owner.
    if (existing !== undefined && !released && existing.exposureWritten.length > 0) state.window.removed.set(id, existing.exposureWritten.map((c) => c.model));
    state.entities.delete(id);
    state.window.entities.delete(id);
    return;
  }
  // Removed and back in the same window: the contribution it had can still end.
  const removedModels = state.window.removed.get(id);
  state.window.removed.delete(id);
  const versions = toVersions(state, entity, params);
  const union = new Set<string>();
  for (const v of versions) for (const i of v.exposure) union.add(i);
  const exposure = [...union].sort(byString);
  const slot: EntitySlot = existing ?? {
    id,
    versions,
    exposure,
    ltv: new Map(),
    cure: new Map(),
    dscr: null,
    stale: null,
    started: false,
    latest: null,
    latestAtMs: Number.NaN,
    // removed and back in the same window: the models it had, their figures unknown (so written again)
    exposureWritten: (removedModels ?? []).map((model) => ({ model, unitsPledged: Number.NaN, unitsAtMarginCall: Number.NaN, depthPerMonth: Number.NaN })),
    exposureCache: null,
    statusSeq: 0,
    itemsWritten: null,
    itemsHour: Number.NaN,
    windowSeq: -1,
    guard: null,
  };
  slot.versions = versions;
  slot.exposure = exposure;
  slot.guard = null;
  if (existing === undefined) {
    state.entities.set(id, slot);
    // A handover: continue the previous owner's alert machine (see StepEvent `entity`).
    if (statuses !== undefined && statuses.length > 0) setStatuses(state, slot, statuses);
    if (carried !== undefined) {
      slot.exposureWritten = carried.exposureWritten;
      slot.itemsWritten = carried.itemsWritten;
      slot.itemsHour = carried.itemsHour;
    }
  }
  for (const instrument of exposure) {
    state.exposureLists.delete(instrument);
    let set = state.exposedBy.get(instrument);
    if (set === undefined) {
      set = new Set();
      state.exposedBy.set(instrument, set);
    }
    set.add(id);
    if (!state.warmedUp.has(instrument) && state.startMs !== null) {
      const end = warmUpEndMs(state, instrument, params);
      if (state.clockMs !== null && state.clockMs > end) state.warmedUp.add(instrument);
      else if (end < state.nextWarmUpMs) state.nextWarmUpMs = end;
    }
  }
  if (state.clockMs !== null) evaluateEntity(state, slot, state.clockMs, params, out, { entity: 'updated' });
}
