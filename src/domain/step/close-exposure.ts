import type { DomainParams } from '../params.ts';
import type { StepOutput } from './step-types.ts';
import { REVALUATION } from '../params.ts';
import { UNKNOWN } from '../valuation/valuation-types.ts';
import { MS_PER_DAY } from '../calendar.ts';
import { eventId } from '../event-id.ts';
import { facilityOutstanding } from '../valuation/valuation.ts';
import { debtTermsAt } from '../valuation/fast-valuation.ts';
import { entityExposure, type EntityModelExposure } from '../valuation/portfolio.ts';
import { EXPOSURE_REFRESH_MS } from '../defaults.ts';
import type { EntitySlot, ProcessorState, VersionInfo } from './step-state.ts';
import { byString } from './step-shared.ts';

/** The window's `exposure` outputs: each entity's contribution per model (docs/architecture.md "exposure"). */

/**
 * An entity's contribution at its latest revaluation, with the alert machine's statuses. It reads
 * the facilities' outstanding principals and LTV statuses only: kept until the version, the day
 * (for midnight dates; else the instant) or a status changes.
 */
function contributionsOf(state: ProcessorState, slot: EntitySlot, params: DomainParams): readonly EntityModelExposure[] {
  const latest = slot.latest;
  if (latest === null) return [];
  const t = slot.latestAtMs;
  const midnight = Math.floor(t / MS_PER_DAY) * MS_PER_DAY;
  const dayKey = !latest.midnightDates || !Number.isSafeInteger(t) ? t : t === midnight ? t : midnight + 0.5;
  const cache = slot.exposureCache;
  if (cache !== null && cache.version === latest && cache.dayKey === dayKey && cache.statusSeq === slot.statusSeq) return cache.contributions;
  const contributions = computeContributions(state, slot, latest, params);
  slot.exposureCache = { version: latest, dayKey, statusSeq: slot.statusSeq, contributions };
  return contributions;
}

function computeContributions(state: ProcessorState, slot: EntitySlot, latest: VersionInfo, params: DomainParams): readonly EntityModelExposure[] {
  const sheet = latest.sheet;
  const outstanding: ArrayLike<number> = params.revaluation === REVALUATION.reference ? facilityOutstanding(sheet, slot.latestAtMs) : debtTermsAt(sheet, params, slot.latestAtMs).outstanding;
  const facilities = sheet.facilities.map((f, i) => ({ id: f.id, outstanding: outstanding[i], status: slot.ltv.get(f.id)?.status ?? UNKNOWN }));
  return entityExposure(sheet, { facilities }, params);
}

const sameContributions = (a: readonly EntityModelExposure[], b: readonly EntityModelExposure[]): boolean =>
  a.length === b.length &&
  a.every((x, i) => x.model === b[i].model && x.unitsPledged === b[i].unitsPledged && x.unitsAtMarginCall === b[i].unitsAtMarginCall && x.depthPerMonth === b[i].depthPerMonth);

/** The window's `exposure` outputs (docs/processor.md "What `step` does"): changed contributions, ended ones as zeros, the whole book once an hour; yields between entities once `out` holds `sliceOutputs` (closeWindowSliced). */
export function* closeExposureSliced(state: ProcessorState, ws: number, params: DomainParams, out: StepOutput[], sliceOutputs: number): Generator<void, void, void> {
  const w = state.window;
  const hour = Math.floor(ws / EXPOSURE_REFRESH_MS);
  const refresh = state.exposureHour !== hour;
  // O(revalued) per window; O(book) once an hour
  const ids = new Set<string>(w.removed.keys());
  if (refresh) {
    for (const slot of state.entities.values()) if (slot.latest !== null || slot.exposureWritten.length > 0) ids.add(slot.id);
  } else {
    for (const id of w.entities) ids.add(id);
  }
  // The hour's refresh is spent on the first close with something to write: a live processor's
  // ticks close windows before its first quote, and the first close with valuations must still
  // refresh (and set the contagion stage's hour off) as a replay of the same quotes does.
  if (!refresh || ids.size > 0) state.exposureHour = hour;
  const zero = (entity: string, model: string): void => {
    out.push({ kind: 'exposure', eventId: eventId('exposure', entity, model, ws), ts: ws, entity, model, unitsPledged: 0, unitsAtMarginCall: 0, depthPerMonth: null });
  };
  for (const id of [...ids].sort(byString)) {
    const slot = state.entities.get(id);
    if (slot === undefined) {
      for (const model of w.removed.get(id) ?? []) zero(id, model);
      continue;
    }
    const contributions = contributionsOf(state, slot, params);
    if (!refresh && (contributions === slot.exposureWritten || sameContributions(contributions, slot.exposureWritten))) continue;
    // both lists are sorted: merge them so the outputs come out sorted by model
    const ended = slot.exposureWritten.filter((m) => !contributions.some((c) => c.model === m.model)).map((m) => m.model);
    let e = 0;
    for (const c of contributions) {
      while (e < ended.length && ended[e] < c.model) zero(id, ended[e++]);
      out.push({ kind: 'exposure', eventId: eventId('exposure', id, c.model, ws), ts: ws, entity: id, ...c });
    }
    while (e < ended.length) zero(id, ended[e++]);
    slot.exposureWritten = contributions;
    if (out.length >= sliceOutputs) yield;
  }
}
