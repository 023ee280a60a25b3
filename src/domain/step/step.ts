import type { DomainParams } from '../params.ts';
import type { Entity, SheetVersion } from '../sheet/sheet.ts';
import type { AlertRule, AlertStateRecord, StepEvent, StepOutput } from './step-types.ts';
import { RELEASED_ENTITY_TS } from './step-types.ts';
import type { LtvStatus, Valuation } from '../valuation/valuation-types.ts';
import type { IndexChange, MarketIndex } from '../market/market-index.ts';
import { STATUS } from '../valuation/valuation-types.ts';
import { parseDateMs } from '../calendar.ts';
import { eventId } from '../event-id.ts';
import { applyQuote, emptyMarketIndex, indexInput, refreshIndex } from '../market/market-index.ts';
import { CURE, LTV_LEVEL, nextCureDeadline, nextDscrStatus, nextLtvStatus } from '../alerts/alerts.ts';
import type { DscrAlertStatus } from '../alerts/alerts.ts';
import { exposureOf, valueEntity } from '../valuation/valuation.ts';
import { entityExposure } from '../valuation/portfolio.ts';
import { decodeAlertKey, encodeAlertKey, ENTITY_FACILITY } from '../alerts/alert-key.ts';
import { windowStartOf } from '../window.ts';
import { EXPOSURE_REFRESH_MS } from '../defaults.ts';

/**
 * The processor's pure heart (STYLE.md 2, ARCHITECTURE.md "Processor runtime rules"):
 * `step(state, event, params) -> { state, outputs }`.
 *
 * Semantics, all in event time:
 * - The clock is the largest `ts` of quotes and ticks seen; entity events never move it, a late
 *   quote never moves it back.
 * - A quote becomes the latest of its source when it is at least as new as that source's last
 *   quote (a late one older than it only gives a `data_quality` output, reason `late`), then its
 *   instrument's index is recomputed. When the index value, fresh-source count or stale flag
 *   changed, every entity exposed to the instrument is revalued at once WITHOUT stress against
 *   its sheet version in force at the clock (= the quote's ts for an in-order quote; a late quote
 *   is applied to the current market, so at the clock) and its alert transitions are emitted at
 *   once. Every quote gives a `price` output.
 * - When the clock moves, fresh quotes age out (`clock - ts > staleAfterMs`): the indexes they fed
 *   are recomputed (and their entities revalued, so `stale_data` fires within staleAfter plus one
 *   tick), and pending cure deadlines at or before the clock expire.
 * - Conflation windows are `floor(ts / emitIntervalMs)`: when the clock moves into a later window,
 *   and on `flush`, the closed window gives, in this order: one `index` output per instrument
 *   that received a quote or changed in it (sorted by id), one `valuation` output per entity
 *   revalued in it (sorted by id) valued WITH stress at the window's last clock value (the last
 *   event time in it, so the same instant as its last alert decisions) and stamped with the window
 *   start, then the `exposure` outputs (below), and one `alert_state` output per alert state that
 *   changed in it (sorted by key).
 * - `exposure` is written per entity and model, never as a book total: each entity's contribution
 *   (portfolio.ts `entityExposure` over its latest valuation, with the alert machine's statuses),
 *   so that processor instances holding different shares of the book never write the same series
 *   and the boards sum the contributions (docs/architecture.md). At a window close, sorted by
 *   entity then model: the contribution of every entity revalued in the window, and of every
 *   entity held at the first close in each event-time hour (EXPOSURE_REFRESH_MS: every hourly
 *   bucket holds the whole book, whatever was revalued); zeros (depth null) for a model an entity
 *   contributed to at its previous exposure output and no longer does (model gone from the sheet,
 *   pledge released), and for every model of an entity removed by a tombstone in the window. A
 *   release (rebalance, `ts` RELEASED_ENTITY_TS) writes nothing: the new owner writes the entity.
 *   The valuation's facility `status` and `dscrStatus` are the alert machine's (with
 *   hysteresis), so that Grafana reads the same status the alerts speak of.
 * - Alerts (`alert` outputs) and `data_quality` outputs are emitted at once, `at` = the clock.
 * - An outlier rejected by the index guard gives one `data_quality` output (reason `outlier`) and
 *   one `data_quality` alert (entity `-`, facility null, `accepted -> rejected`, value the price,
 *   threshold maxDeviation, cause: instrument, source, median): once per rejected quote.
 *
 * Performance: `step` mutates `state` in place and returns it. Callers must treat the state they
 * pass in as consumed and keep only the returned one.
 * Determinism: no clock, no randomness; every iteration is in input order or sorted order.
 */

/** A status held by the alert machine. */
interface AlertSlot {
  status: string;
  since: number;
  cureDeadline: number | null;
}

interface VersionInfo {
  readonly fromMs: number;
  readonly sheet: SheetVersion;
  /** exposureOf(sheet), sorted. */
  readonly exposure: readonly string[];
}

interface EntitySlot {
  readonly id: string;
  versions: VersionInfo[];
  /** Union of the versions' exposures, sorted. */
  exposure: readonly string[];
  readonly ltv: Map<string, AlertSlot>;
  readonly cure: Map<string, AlertSlot>;
  dscr: AlertSlot | null;
  stale: AlertSlot | null;
  /** The latest valuation (at quote time, without stress) and the version it used. */
  latest: { readonly sheet: SheetVersion; readonly valuation: Valuation } | null;
  /** The models of the entity's last `exposure` outputs with units (sorted): an ended one gets zeros. */
  exposureModels: readonly string[];
}

export interface ProcessorState {
  /** The processor clock: largest quote/tick ts seen (null before the first). */
  clockMs: number | null;
  /** Start of the open conflation window (null before the first clock value). */
  windowStartMs: number | null;
  readonly index: MarketIndex;
  readonly entities: Map<string, EntitySlot>;
  /** instrument id -> ids of the entities exposed to it (any of their versions). */
  readonly exposedBy: Map<string, Set<string>>;
  /** The earliest pending cure deadline (Infinity when none). */
  nextCureMs: number;
  /** floor(window start / EXPOSURE_REFRESH_MS) of the last closed window (null before the first). */
  exposureHour: number | null;
  readonly window: {
    readonly instruments: Set<string>;
    readonly rejected: Map<string, number>;
    readonly entities: Set<string>;
    readonly alertKeys: Set<string>;
    /** Entities removed by a tombstone in the window -> the models their contribution had. */
    readonly removed: Map<string, readonly string[]>;
  };
}

export function initialState(_params: DomainParams): ProcessorState {
  return {
    clockMs: null,
    windowStartMs: null,
    index: emptyMarketIndex(),
    entities: new Map(),
    exposedBy: new Map(),
    nextCureMs: Infinity,
    exposureHour: null,
    window: { instruments: new Set(), rejected: new Map(), entities: new Set(), alertKeys: new Set(), removed: new Map() },
  };
}

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

type Cause = Readonly<Record<string, string | number | null>>;

function pushAlert(
  state: ProcessorState,
  out: StepOutput[],
  a: { entity: string; facility: string | null; rule: AlertRule; from: string; to: string; value: number | null; threshold: number | null; at: number; cause?: Cause },
  /** What else identifies the event (a data_quality alert: instrument, source, quote ts). */
  ...idExtra: ReadonlyArray<string | number>
): void {
  out.push({ kind: 'alert', eventId: eventId('alert', a.entity, a.facility, a.rule, a.from, a.to, a.at, ...idExtra), ...a });
  if (a.entity !== ENTITY_FACILITY) state.window.alertKeys.add(encodeAlertKey(a.entity, a.facility, a.rule));
}

/** The version in force at `atMs`: the last whose effectiveFrom is at or before it (none: null). */
function versionAt(slot: EntitySlot, atMs: number): VersionInfo | null {
  const v = slot.versions;
  for (let i = v.length - 1; i >= 0; i--) if (v[i].fromMs <= atMs) return v[i];
  return null;
}

// ---------------------------------------------------------------- alerts of one entity

function evaluateEntity(state: ProcessorState, slot: EntitySlot, atMs: number, params: DomainParams, out: StepOutput[], cause: Cause | undefined): void {
  const version = versionAt(slot, atMs);
  if (version === null) return; // not in force yet: nothing to value, statuses hold
  const sheet = version.sheet;
  const valuation = valueEntity(sheet, state.index.market, atMs, params, { stress: false });
  slot.latest = { sheet, valuation };
  state.window.entities.add(slot.id);
  const id = slot.id;
  const h = params.hysteresis;

  // Facility LTV statuses and the cure ladder.
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
    const cur = (prev?.status ?? 'ok') as LtvStatus;
    const worthless = fv.ltv === null && fv.outstanding > 0 && fv.status === 'liquidation' && fv.dataMissing !== true;
    const t = nextLtvStatus(cur, { ltv: fv.ltv, worthlessCollateral: worthless }, fac.covenants, h);
    if (t === null) continue;
    const deadline = nextCureDeadline(cur, t.to, prev?.cureDeadline ?? null, atMs, fac.cureHours ?? params.defaultCureHours);
    slot.ltv.set(fac.id, { status: t.to, since: atMs, cureDeadline: deadline });
    if (deadline !== null && deadline < state.nextCureMs) state.nextCureMs = deadline;
    pushAlert(state, out, { entity: id, facility: fac.id, rule: 'ltv', from: cur, to: t.to, value: fv.ltv, threshold: t.threshold, at: atMs, cause });
    const cure = slot.cure.get(fac.id);
    if (cure !== undefined && cure.status === CURE.expired && LTV_LEVEL[t.to] < LTV_LEVEL.margin_call) {
      slot.cure.set(fac.id, { status: CURE.cured, since: atMs, cureDeadline: null });
      pushAlert(state, out, { entity: id, facility: fac.id, rule: 'cure_expired', from: CURE.expired, to: CURE.cured, value: fv.ltv, threshold: t.threshold, at: atMs, cause });
    }
  }

  // Entity DSCR.
  const dscrCur = (slot.dscr?.status ?? 'ok') as DscrAlertStatus;
  const dt = nextDscrStatus(dscrCur, valuation.dscr, dscrMin, h);
  if (dt !== null) {
    slot.dscr = { status: dt.to, since: atMs, cureDeadline: null };
    pushAlert(state, out, { entity: id, facility: null, rule: 'dscr', from: dscrCur, to: dt.to, value: valuation.dscr, threshold: dt.threshold, at: atMs, cause });
  }

  // Stale data: an index the valuation needs is missing (valuation.missing) or stale.
  // Allocation-free in the common case (nothing missing, nothing stale): this runs per revaluation.
  let staleCause: Record<string, string> | null = null;
  let staleCount = 0;
  const missing = valuation.missing ?? [];
  let anyStale = missing.length > 0;
  const exposure = version.exposure;
  const indexes = state.index.instruments;
  for (let i = 0; i < exposure.length && !anyStale; i++) {
    const idx = indexes.get(exposure[i]);
    if (idx !== undefined && idx.value !== null && idx.stale) anyStale = true;
  }
  if (anyStale) {
    const needs = new Set<string>(missing);
    for (const instrument of exposure) {
      const idx = indexes.get(instrument);
      if (idx !== undefined && idx.value !== null && idx.stale) needs.add(instrument);
    }
    staleCause = {};
    for (const instrument of [...needs].sort(byString)) {
      staleCause[instrument] = missing.includes(instrument) ? 'missing' : 'stale';
      staleCount++;
    }
  }
  const staleCur = slot.stale?.status ?? 'ok';
  const staleNext = staleCause === null ? 'ok' : 'stale';
  if (staleNext !== staleCur) {
    slot.stale = { status: staleNext, since: atMs, cureDeadline: null };
    pushAlert(state, out, { entity: id, facility: null, rule: 'stale_data', from: staleCur, to: staleNext, value: staleCount, threshold: null, at: atMs, cause: staleCause ?? cause });
  }
}

// ---------------------------------------------------------------- market

/** Reports the outliers of an index change; true when the index changed (its entities need revaluing). */
function noteIndexChange(state: ProcessorState, change: IndexChange, out: StepOutput[]): boolean {
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

function onIndexChange(state: ProcessorState, change: IndexChange, params: DomainParams, out: StepOutput[], cause: Cause): void {
  if (!noteIndexChange(state, change, out)) return;
  const exposed = state.exposedBy.get(change.index.instrument);
  if (exposed === undefined) return;
  const clock = state.clockMs as number;
  for (const id of exposed) evaluateEntity(state, state.entities.get(id) as EntitySlot, clock, params, out, cause);
}

/** Moves the clock forward to `ts`: closes the window it leaves, ages out quotes, expires cures. */
function advanceClock(state: ProcessorState, ts: number, params: DomainParams, out: StepOutput[]): void {
  if (state.clockMs !== null && ts <= state.clockMs) return;
  const windowStart = windowStartOf(ts, params.emitIntervalMs);
  if (state.windowStartMs !== null && windowStart > state.windowStartMs) closeWindow(state, params, out);
  state.windowStartMs = windowStart;
  state.clockMs = ts;
  // Quotes ageing out: every index first, then each affected entity once, so that a stale_data
  // alert names every index that went stale at this instant.
  let expired: string[] | null = null;
  for (const idx of state.index.instruments.values()) {
    if (idx.nextExpiryMs < ts && noteIndexChange(state, refreshIndex(state.index, idx, ts), out)) (expired ??= []).push(idx.instrument);
  }
  if (expired !== null) {
    const affected = new Set<string>();
    for (const instrument of expired) for (const id of state.exposedBy.get(instrument) ?? []) affected.add(id);
    const cause = { expired: expired.join(',') };
    for (const id of affected) evaluateEntity(state, state.entities.get(id) as EntitySlot, ts, params, out, cause);
  }
  if (state.nextCureMs <= ts) expireCures(state, ts, out);
}

function expireCures(state: ProcessorState, clock: number, out: StepOutput[]): void {
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
      const ltv = slot.latest?.valuation.facilities.find((f) => f.id === facility)?.ltv ?? null;
      pushAlert(state, out, { entity: slot.id, facility, rule: 'cure_expired', from, to: CURE.expired, value: ltv, threshold: null, at: clock, cause: { deadline, status: s.status } });
    }
  }
  state.nextCureMs = next;
}

// ---------------------------------------------------------------- windows

/** 365.25 days of 24 hours (DOMAIN.md "Units and time"). */
const HOURS_PER_YEAR = 8766;

function closeWindow(state: ProcessorState, params: DomainParams, out: StepOutput[]): void {
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
  for (const id of [...w.entities].sort(byString)) {
    const slot = state.entities.get(id);
    if (slot === undefined) continue;
    const version = versionAt(slot, clock);
    if (version === null) continue;
    const v = valueEntity(version.sheet, state.index.market, clock, params, { stress: true });
    const inputs: Record<string, { value: number | null; sources: number }> = {};
    for (const instrument of version.exposure) inputs[instrument] = indexInput(state.index, instrument);
    out.push({ kind: 'valuation', eventId: eventId('valuation', id, ws), ts: ws, valuation: withAlertStatuses(v, slot, version.sheet), inputs });
  }
  closeExposure(state, ws, params, out);
  for (const key of [...w.alertKeys].sort(byString)) {
    const s = slotOfKey(state, key);
    if (s === null) continue;
    out.push({ kind: 'alert_state', key, status: s.status, cureDeadline: s.cureDeadline, since: s.since, eventId: eventId('alert_state', key, s.status, s.since, s.cureDeadline), ts: ws });
  }
  w.instruments.clear();
  w.rejected.clear();
  w.entities.clear();
  w.alertKeys.clear();
  w.removed.clear();
}

export { EXPOSURE_REFRESH_MS };

/** The window's `exposure` outputs (see the header): contributions, ended contributions as zeros. */
function closeExposure(state: ProcessorState, ws: number, params: DomainParams, out: StepOutput[]): void {
  const w = state.window;
  const hour = Math.floor(ws / EXPOSURE_REFRESH_MS);
  const refresh = state.exposureHour !== hour;
  state.exposureHour = hour;
  // O(revalued) per window; O(book) once an hour
  const ids = new Set<string>(w.removed.keys());
  if (refresh) {
    for (const slot of state.entities.values()) if (slot.latest !== null || slot.exposureModels.length > 0) ids.add(slot.id);
  } else {
    for (const id of w.entities) ids.add(id);
  }
  const zero = (entity: string, model: string): void => {
    out.push({ kind: 'exposure', eventId: eventId('exposure', entity, model, ws), ts: ws, entity, model, unitsPledged: 0, unitsAtMarginCall: 0, depthPerMonth: null });
  };
  for (const id of [...ids].sort(byString)) {
    const slot = state.entities.get(id);
    if (slot === undefined) {
      for (const model of w.removed.get(id) ?? []) zero(id, model);
      continue;
    }
    const latest = slot.latest;
    const contributions = latest === null ? [] : entityExposure(latest.sheet, withAlertStatuses(latest.valuation, slot), params);
    // both lists are sorted: merge them so the outputs come out sorted by model
    const ended = slot.exposureModels.filter((m) => !contributions.some((c) => c.model === m));
    let e = 0;
    for (const c of contributions) {
      while (e < ended.length && ended[e] < c.model) zero(id, ended[e++]);
      out.push({ kind: 'exposure', eventId: eventId('exposure', id, c.model, ws), ts: ws, entity: id, ...c });
    }
    while (e < ended.length) zero(id, ended[e++]);
    slot.exposureModels = contributions.map((c) => c.model);
  }
}

/** The valuation with the alert machine's statuses (hysteresis) in place of the raw ones. */
/**
 * The valuation as the processor emits it: statuses from the alert machine (with hysteresis) and,
 * when the sheet is given, the entity's type and each facility's covenant lines, which the
 * `valuation` and `facility` points carry for the boards (the lines come from the sheet, never
 * from constants).
 */
function withAlertStatuses(v: Valuation, slot: EntitySlot, sheet?: SheetVersion): Valuation {
  const covenants = sheet ? new Map(sheet.facilities.map((f) => [f.id, f.covenants])) : null;
  return {
    ...v,
    ...(sheet ? { type: sheet.type } : {}),
    dscrStatus: (slot.dscr?.status ?? 'ok') as DscrAlertStatus,
    facilities: v.facilities.map((f) => ({ ...f, ...(covenants ? { covenants: covenants.get(f.id) ?? {} } : {}), status: (slot.ltv.get(f.id)?.status ?? 'ok') as LtvStatus })),
  };
}

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

// ---------------------------------------------------------------- entities

function removeExposure(state: ProcessorState, slot: EntitySlot): void {
  for (const instrument of slot.exposure) {
    const set = state.exposedBy.get(instrument);
    if (set === undefined) continue;
    set.delete(slot.id);
    if (set.size === 0) state.exposedBy.delete(instrument);
  }
}

function toVersions(entity: Entity, params: DomainParams): VersionInfo[] {
  const versions = entity.versions.map((sheet) => ({
    fromMs: sheet.effectiveFrom === undefined ? -Infinity : parseDateMs(sheet.effectiveFrom),
    sheet,
    exposure: [...exposureOf(sheet, params)].sort(byString),
  }));
  // Stable sort: versions are validated upstream; this keeps as-of lookups right whatever the order.
  return versions.sort((a, b) => a.fromMs - b.fromMs);
}

function onEntity(state: ProcessorState, id: string, entity: Entity | null, released: boolean, params: DomainParams, out: StepOutput[], statuses?: readonly AlertStateRecord[]): void {
  const existing = state.entities.get(id);
  if (existing !== undefined) removeExposure(state, existing);
  if (entity === null) {
    // Removal: its statuses go with it (the runtime decides whether to tombstone alert-state). A
    // tombstone ends its exposure contribution at the window close; a release leaves it to the
    // entity's new owner.
    if (existing !== undefined && !released && existing.exposureModels.length > 0) state.window.removed.set(id, existing.exposureModels);
    state.entities.delete(id);
    state.window.entities.delete(id);
    return;
  }
  // Removed and back in the same window: the contribution it had can still end.
  const removedModels = state.window.removed.get(id);
  state.window.removed.delete(id);
  const versions = toVersions(entity, params);
  const union = new Set<string>();
  for (const v of versions) for (const i of v.exposure) union.add(i);
  const exposure = [...union].sort(byString);
  const slot: EntitySlot = existing ?? { id, versions, exposure, ltv: new Map(), cure: new Map(), dscr: null, stale: null, latest: null, exposureModels: removedModels ?? [] };
  slot.versions = versions;
  slot.exposure = exposure;
  if (existing === undefined) {
    state.entities.set(id, slot);
    // A handover: continue the previous owner's alert machine (see StepEvent `entity`).
    if (statuses !== undefined && statuses.length > 0) setStatuses(state, slot, statuses);
  }
  for (const instrument of exposure) {
    let set = state.exposedBy.get(instrument);
    if (set === undefined) {
      set = new Set();
      state.exposedBy.set(instrument, set);
    }
    set.add(id);
  }
  if (state.clockMs !== null) evaluateEntity(state, slot, state.clockMs, params, out, { entity: 'updated' });
}

// ---------------------------------------------------------------- the step

/** Applies one event. Mutates and returns `state` (the passed state is consumed). */
export function step(state: ProcessorState, event: StepEvent, params: DomainParams): { state: ProcessorState; outputs: StepOutput[] } {
  const out: StepOutput[] = [];
  switch (event.kind) {
    case 'quote': {
      const q = event.quote;
      advanceClock(state, q.ts, params, out);
      const clock = state.clockMs as number;
      out.push({ kind: 'price', eventId: eventId('price', q.instrument, q.source, q.ts), instrument: q.instrument, source: q.source, ts: q.ts, value: q.price });
      if (q.ts < clock) {
        out.push({ kind: 'data_quality', eventId: eventId('data_quality', 'late', q.instrument, q.source, q.ts), ts: q.ts, instrument: q.instrument, source: q.source, reason: 'late', value: q.price });
      }
      if (q.unknownModel !== undefined) {
        out.push({ kind: 'data_quality', eventId: eventId('data_quality', 'unknown_model', q.instrument, q.source, q.ts), ts: q.ts, instrument: q.instrument, source: q.source, reason: 'unknown_model', value: q.price });
      }
      const change = applyQuote(state.index, q, clock, params);
      if (change !== null) {
        state.window.instruments.add(q.instrument);
        onIndexChange(state, change, params, out, { instrument: q.instrument, source: q.source, price: q.price });
      }
      break;
    }
    case 'tick':
      advanceClock(state, event.ts, params, out);
      break;
    case 'entity':
      onEntity(state, event.id, event.entity, event.ts === RELEASED_ENTITY_TS, params, out, event.statuses);
      break;
    default: {
      const never: never = event;
      return never;
    }
  }
  return { state, outputs: out };
}

/** Closes the open window (the end of a replay). Mutates and returns `state`. */
export function flush(state: ProcessorState, params: DomainParams): { state: ProcessorState; outputs: StepOutput[] } {
  const out: StepOutput[] = [];
  closeWindow(state, params, out);
  return { state, outputs: out };
}

// ---------------------------------------------------------------- restart

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
    if (slot !== undefined) setStatus(slot, r);
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

/** A handover's statuses on a new slot; pending cure deadlines join the state's next one. */
function setStatuses(state: ProcessorState, slot: EntitySlot, records: readonly AlertStateRecord[]): void {
  for (const r of records) {
    if (!setStatus(slot, r)) continue;
    if (decodeAlertKey(r.key)?.rule === 'ltv' && r.cureDeadline !== null && r.cureDeadline < state.nextCureMs) state.nextCureMs = r.cureDeadline;
  }
}
