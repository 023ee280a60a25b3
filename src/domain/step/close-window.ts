import type { DomainParams } from '../params.ts';
import type { SheetVersion } from '../sheet/sheet.ts';
import type { StepOutput } from './step-types.ts';
import type { LtvStatus, Valuation } from '../valuation/valuation-types.ts';
import { UNKNOWN } from '../valuation/valuation-types.ts';
import { eventId } from '../event-id.ts';
import { decodeAlertKey } from '../alerts/alert-key.ts';
import type { AlertSlot, EntitySlot, ProcessorState } from './step-state.ts';
import { byString, HOUR_MS, valueOf, versionAt, WITH_STRESS } from './step-shared.ts';
import { closeExposureSliced } from './close-exposure.ts';
import { runToEnd } from '../sliced.ts';

/** The close of a conflation window: its index, spread, valuation, exposure and alert_state outputs. */

/** 365.25 days of 24 hours (DOMAIN.md "Units and time"). */
const HOURS_PER_YEAR = 8766;

export function closeWindow(state: ProcessorState, params: DomainParams, out: StepOutput[]): void {
  runToEnd(closeWindowSliced(state, params, out, Infinity));
}

/**
 * The close, a slice at a time: the same outputs in the same order as `closeWindow`, and it yields
 * (between entities) whenever `out` holds `sliceOutputs` or more, for the caller to take them
 * (`out.splice(0)`) before it goes on. The state is the close's until the generator ends: the
 * caller steps nothing else meanwhile. A close of the whole book is then never held in memory
 * as one array (docs/processor.md "The sliced close").
 */
export function* closeWindowSliced(state: ProcessorState, params: DomainParams, out: StepOutput[], sliceOutputs: number): Generator<void, void, void> {
  const ws = state.windowStartMs;
  const clock = state.clockMs;
  if (ws === null || clock === null) return;
  const w = state.window;
  for (const instrument of [...w.instruments].sort(byString)) {
    const idx = state.index.instruments.get(instrument);
    if (idx === undefined) continue;
    out.push({
      kind: 'index',
      eventId: eventId('index', instrument, ws),
      instrument,
      ts: ws,
      value: idx.value,
      sources: idx.sources,
      stale: idx.stale,
      rejected: w.rejected.get(instrument) ?? 0,
      bySource: idx.bySource,
    });
  }
  // pricePoints: window: the window's last price of each instrument and source (step.ts holdPrice)
  for (const key of [...w.prices.keys()].sort(byString)) out.push(w.prices.get(key) as StepOutput);
  // The rental-to-resale spread of each GPU model whose rental or resale index moved.
  const spreadModels = new Set<string>();
  for (const instrument of w.instruments) {
    if (instrument.startsWith('rental:') || instrument.startsWith('resale:')) spreadModels.add(instrument.slice(7));
  }
  for (const model of [...spreadModels].sort(byString)) {
    const rental = state.index.instruments.get(`rental:${model}`)?.value ?? null;
    const resale = state.index.instruments.get(`resale:${model}`)?.value ?? null;
    if (rental === null || resale === null || !(resale > 0)) continue;
    out.push({
      kind: 'spread',
      eventId: eventId('spread', model, ws),
      ts: ws,
      model,
      rentalUsdPerGpuHour: rental,
      resaleUsdPerUnit: resale,
      rentalYieldAnnual: (rental * HOURS_PER_YEAR) / resale,
    });
  }
  // One inputs record per set of instruments for the whole close: the valuations share them
  // (versions with the same exposure share one array, toVersions).
  const inputsOf = new Map<readonly string[], Readonly<Record<string, { readonly value: number | null; readonly sources: number }>>>();
  for (const id of [...w.entities].sort(byString)) {
    const slot = state.entities.get(id);
    if (slot === undefined) continue;
    const version = versionAt(slot, clock);
    if (version === null) continue;
    const v = valueOf(version.sheet, state, clock, params, WITH_STRESS);
    let inputs = inputsOf.get(version.exposure);
    if (inputs === undefined) {
      const record: Record<string, { readonly value: number | null; readonly sources: number }> = {};
      for (const instrument of version.exposure) {
        const idx = state.index.instruments.get(instrument);
        record[instrument] = idx === undefined ? NO_INPUT : { value: idx.value, sources: idx.sources };
      }
      inputs = record;
      inputsOf.set(version.exposure, inputs);
    }
    out.push({ kind: 'valuation', eventId: eventId('valuation', id, ws), ts: ws, valuation: withAlertStatuses(v, slot, version.sheet), inputs, itemsChanged: itemsChanged(slot, v, ws) });
    if (out.length >= sliceOutputs) yield;
  }
  yield* closeExposureSliced(state, ws, params, out, sliceOutputs);
  for (const key of [...w.alertKeys].sort(byString)) {
    const s = slotOfKey(state, key);
    if (s === null) continue;
    out.push({ kind: 'alert_state', key, status: s.status, cureDeadline: s.cureDeadline, since: s.since, eventId: eventId('alert_state', key, s.status, s.since, s.cureDeadline), ts: ws });
  }
  w.seq++;
  w.instruments.clear();
  w.rejected.clear();
  w.entities.clear();
  w.alertKeys.clear();
  w.removed.clear();
  w.prices.clear();
}

const NO_INPUT = { value: null, sources: 0 } as const;
const ITEM_FIGURES = 4;

/**
 * Which fleet items of a valuation to write (ValuationOutput `itemsChanged`): those whose figures
 * differ from the last written, all of them at the entity's first valuation of an event-time hour
 * (a board reading the last hour finds every item) or when the fleet changed shape.
 */
function itemsChanged(slot: EntitySlot, v: Valuation, ws: number): boolean[] {
  const fleet = v.fleet;
  const hour = Math.floor(ws / HOUR_MS);
  const written = slot.itemsWritten;
  const all = hour !== slot.itemsHour || written === null || written.length !== fleet.length * ITEM_FIGURES;
  const next = all ? new Float64Array(fleet.length * ITEM_FIGURES) : written;
  const changed = new Array<boolean>(fleet.length);
  for (let i = 0; i < fleet.length; i++) {
    const item = fleet[i];
    const k = i * ITEM_FIGURES;
    const mv = item.marketValue ?? Number.NaN;
    const lv = item.liquidationValue ?? Number.NaN;
    const byModel = item.valuedBy === 'model' ? 1 : 0;
    changed[i] = all || !Object.is(next[k], mv) || !Object.is(next[k + 1], lv) || !Object.is(next[k + 2], item.haircut) || next[k + 3] !== byModel;
    next[k] = mv;
    next[k + 1] = lv;
    next[k + 2] = item.haircut;
    next[k + 3] = byModel;
  }
  slot.itemsWritten = next;
  slot.itemsHour = hour;
  return changed;
}

/**
 * The valuation as the processor emits it: statuses from the alert machine (with hysteresis;
 * `unknown` where it has none yet), the entity's type and each facility's covenant lines, which the
 * `valuation` and `facility` points carry for the boards (the lines come from the sheet, never from
 * constants). `v` is fresh from the valuation and seen by nobody else: it is completed in place.
 */
function withAlertStatuses(v: Valuation, slot: EntitySlot, sheet: SheetVersion): Valuation {
  const m = v as Mutable<Valuation>;
  m.type = sheet.type;
  m.dscrStatus = (slot.dscr?.status ?? UNKNOWN) as Valuation['dscrStatus'];
  const facilities = v.facilities as Array<Mutable<Valuation['facilities'][number]>>;
  for (let i = 0; i < facilities.length; i++) {
    const f = facilities[i];
    f.covenants = sheet.facilities[i].covenants;
    f.status = (slot.ltv.get(f.id)?.status ?? UNKNOWN) as LtvStatus;
  }
  return v;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function slotOfKey(state: ProcessorState, key: string): AlertSlot | null {
  const k = decodeAlertKey(key);
  if (k === null) return null;
  const { entity, facility, rule } = k;
  const slot = state.entities.get(entity);
  if (slot === undefined) return null;
  switch (rule) {
    case 'ltv':
      return facility === null ? null : (slot.ltv.get(facility) ?? null);
    case 'cure_expired':
      return facility === null ? null : (slot.cure.get(facility) ?? null);
    case 'dscr':
      return facility === null ? slot.dscr : null;
    case 'stale_data':
      return facility === null ? slot.stale : null;
    default:
      return null;
  }
}
