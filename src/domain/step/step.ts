import type { DomainParams } from '../params.ts';
import type { Entity, SheetVersion } from '../sheet/sheet.ts';
import type { AlertRule, AlertStateRecord, CarriedOutputs, StepEvent, StepOutput } from './step-types.ts';
import { RELEASED_ENTITY_TS } from './step-types.ts';
import type { LtvStatus, Valuation } from '../valuation/valuation-types.ts';
import type { IndexChange, MarketIndex } from '../market/market-index.ts';
import type { Guard } from './guard.ts';
import { REVALUATION } from '../params.ts';
import { STATUS, UNKNOWN } from '../valuation/valuation-types.ts';
import { MS_PER_DAY, parseDateMs } from '../calendar.ts';
import { eventId } from '../event-id.ts';
import { applyQuote, emptyMarketIndex, indexRuleFor, refreshIndex } from '../market/market-index.ts';
import { CURE, LTV_LEVEL, nextCureDeadline, nextDscrStatus, nextLtvStatus } from '../alerts/alerts.ts';
import type { DscrAlertStatus } from '../alerts/alerts.ts';
import { exposureOf, facilityOutstanding, valueEntity } from '../valuation/valuation.ts';
import { debtTermsAt, valueEntityFast } from '../valuation/fast-valuation.ts';
import { compileEntity } from '../valuation/compiled.ts';
import { entityExposure, type EntityModelExposure } from '../valuation/portfolio.ts';
import { guardOf } from './guard.ts';
import { decodeAlertKey, encodeAlertKey, ENTITY_FACILITY } from '../alerts/alert-key.ts';
import { windowStartOf } from '../window.ts';
import { EXPOSURE_REFRESH_MS } from '../defaults.ts';

/**
 * The processor's pure heart: `step(state, event, params) -> { state, outputs }`. Its contract
 * (clock, quotes, warm-up, windows, exposure, alerts, the two revaluation paths) is in
 * docs/processor.md "What `step` does"; the incremental path in docs/valuation.md.
 * `step` mutates `state` in place and returns it (a copy per event would dominate the fold):
 * callers keep only the returned state. No clock, no randomness, input or sorted order only, so
 * that a replay gives the same outputs and eventIds.
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
  /** When the next version comes into force (Infinity for the last). */
  readonly untilMs: number;
  /** Every facility starts and matures at a midnight: outstanding principals hold within a day after its midnight. */
  readonly midnightDates: boolean;
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
  /** The LTV and DSCR rules run (every index the sheet needs had a value, or its warm-up ended). */
  started: boolean;
  /** The version and instant of the latest revaluation (its valuation is rebuilt when read: latestValuation). */
  latest: VersionInfo | null;
  latestAtMs: number;
  /** The contributions of the entity's last `exposure` outputs, sorted by model. */
  exposureWritten: readonly EntityModelExposure[];
  /** Its contributions at its latest revaluation, and what they were worked out from (contributionsOf). */
  exposureCache: { readonly version: VersionInfo; readonly dayKey: number; readonly statusSeq: number; readonly contributions: readonly EntityModelExposure[] } | null;
  /** Counts changes of the LTV statuses (the contributions read them). */
  statusSeq: number;
  /** The fleet figures of its last `item` points (market value, liquidation value, haircut, valued by model 1/0 per item), and the event-time hour they were written in. */
  itemsWritten: Float64Array | null;
  itemsHour: number;
  /** `window.seq` of the window that last revalued the entity. */
  windowSeq: number;
  /** The incremental path's filter (guard.ts); null: evaluate in full on the next change. */
  guard: Guard | null;
}

/** The entities exposed to one instrument, in the order of `exposedBy`, with the instrument's place in each slot's exposure. */
interface ExposureList {
  readonly slots: EntitySlot[];
  readonly ks: Int32Array;
}

export interface ProcessorState {
  /** The processor clock: largest quote/tick ts seen (null before the first). */
  clockMs: number | null;
  /** The first clock value: warm-ups count from it. */
  startMs: number | null;
  /** Start of the open conflation window (null before the first clock value). */
  windowStartMs: number | null;
  readonly index: MarketIndex;
  readonly entities: Map<string, EntitySlot>;
  /** instrument id -> ids of the entities exposed to it (any of their versions). */
  readonly exposedBy: Map<string, Set<string>>;
  /** exposedBy as slots (the incremental scan), rebuilt when an entity event changes an instrument's set. */
  readonly exposureLists: Map<string, ExposureList>;
  /** The distinct sets of instruments of the versions held, by their ids joined (internExposure). */
  readonly exposureSets: Map<string, readonly string[]>;
  /** The earliest pending cure deadline (Infinity when none). */
  nextCureMs: number;
  /** Instruments whose warm-up is over; the earliest end of another one (Infinity when none). */
  readonly warmedUp: Set<string>;
  nextWarmUpMs: number;
  /** floor(window start / EXPOSURE_REFRESH_MS) of the last closed window (null before the first). */
  exposureHour: number | null;
  /** Revaluations of exposed entities so far: in full, and vouched for by the incremental filter. */
  readonly revaluations: { full: number; filtered: number };
  readonly window: {
    /** Counts windows, so an entity can tell whether it is already in this one's `entities`. */
    seq: number;
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
    startMs: null,
    windowStartMs: null,
    index: emptyMarketIndex(),
    entities: new Map(),
    exposedBy: new Map(),
    exposureLists: new Map(),
    exposureSets: new Map(),
    nextCureMs: Infinity,
    warmedUp: new Set(),
    nextWarmUpMs: Infinity,
    exposureHour: null,
    revaluations: { full: 0, filtered: 0 },
    window: { seq: 0, instruments: new Set(), rejected: new Map(), entities: new Set(), alertKeys: new Set(), removed: new Map() },
  };
}

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const NO_STRESS = { stress: false } as const;
const WITH_STRESS = { stress: true } as const;
const HOUR_MS = 3_600_000;

/** The filter is on (the default path). */
const isIncremental = (params: DomainParams): boolean => params.revaluation === undefined || params.revaluation === REVALUATION.incremental;

/** The valuation of the path in use: the reference one on the reference path, the fast one (bit-identical) otherwise. */
function valueOf(sheet: SheetVersion, state: ProcessorState, atMs: number, params: DomainParams, options: { readonly stress: boolean }): Valuation {
  return params.revaluation === REVALUATION.reference ? valueEntity(sheet, state.index.market, atMs, params, options) : valueEntityFast(sheet, state.index.market, atMs, params, options);
}

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

/** Marks the entity as revalued at `atMs` (its latest revaluation; in the open window). */
function touch(state: ProcessorState, slot: EntitySlot, version: VersionInfo, atMs: number): void {
  slot.latest = version;
  slot.latestAtMs = atMs;
  if (slot.windowSeq !== state.window.seq) {
    slot.windowSeq = state.window.seq;
    state.window.entities.add(slot.id);
  }
}

/** The entity's latest valuation (without stress), rebuilt: the market of its instruments is unchanged since. */
function latestValuation(state: ProcessorState, slot: EntitySlot, params: DomainParams): Valuation | null {
  return slot.latest === null ? null : valueOf(slot.latest.sheet, state, slot.latestAtMs, params, NO_STRESS);
}

// ---------------------------------------------------------------- warm-up

/** The moment an instrument's warm-up ends: staleAfterMs after the start of the run (Infinity before it). */
function warmUpEndMs(state: ProcessorState, instrument: string, params: DomainParams): number {
  if (state.startMs === null) return Infinity;
  const idx = state.index.instruments.get(instrument);
  return state.startMs + (idx?.rule ?? indexRuleFor(params, instrument)).staleAfterMs;
}

/** True once the instrument's warm-up is over at `atMs` (strictly after its end, as staleness counts). */
const warmedUp = (state: ProcessorState, instrument: string, atMs: number, params: DomainParams): boolean => atMs > warmUpEndMs(state, instrument, params);

/**
 * Whether an entity's alert machine may start: every index its sheet needs (`missing` of the
 * valuation) and the resale index of every model it holds have a value, or their warm-up is over.
 */
function marketReady(state: ProcessorState, sheet: SheetVersion, valuation: Valuation, atMs: number, params: DomainParams): boolean {
  const missing = valuation.missing ?? [];
  for (let i = 0; i < missing.length; i++) if (!warmedUp(state, missing[i], atMs, params)) return false;
  const fleet = valuation.fleet;
  for (let i = 0; i < fleet.length; i++) {
    if (fleet[i].valuedBy === 'model' && sheet.fleet[i].count > 0 && !warmedUp(state, `resale:${fleet[i].model}`, atMs, params)) return false;
  }
  return true;
}

// ---------------------------------------------------------------- alerts of one entity

function evaluateEntity(state: ProcessorState, slot: EntitySlot, atMs: number, params: DomainParams, out: StepOutput[], cause: Cause | undefined): void {
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
function guardHolds(state: ProcessorState, slot: EntitySlot, clockMs: number): boolean {
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

function onIndexChange(state: ProcessorState, change: IndexChange, params: DomainParams, out: StepOutput[], cause: Cause): void {
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
function revalueAt(state: ProcessorState, ids: Iterable<string>, ts: number, params: DomainParams, out: StepOutput[], cause: Cause): void {
  const incremental = isIncremental(params);
  for (const id of ids) {
    const slot = state.entities.get(id) as EntitySlot;
    if (incremental && guardHolds(state, slot, ts)) {
      touch(state, slot, slot.latest as VersionInfo, ts);
      state.revaluations.filtered++;
    } else evaluateEntity(state, slot, ts, params, out, cause);
  }
}

/** Moves the clock forward to `ts`: closes the window it leaves, ages out quotes, ends warm-ups, expires cures. */
function advanceClock(state: ProcessorState, ts: number, params: DomainParams, out: StepOutput[]): void {
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

/** The earliest warm-up end of the instruments entities are exposed to, not yet over. */
function scheduleWarmUps(state: ProcessorState, params: DomainParams): void {
  let next = Infinity;
  for (const instrument of state.exposedBy.keys()) {
    if (state.warmedUp.has(instrument)) continue;
    const end = warmUpEndMs(state, instrument, params);
    if (end < next) next = end;
  }
  state.nextWarmUpMs = next;
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
  }
  closeExposure(state, ws, params, out);
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

export { EXPOSURE_REFRESH_MS };

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

/** The window's `exposure` outputs (see the header): changed contributions, ended ones as zeros, the whole book once an hour. */
function closeExposure(state: ProcessorState, ws: number, params: DomainParams, out: StepOutput[]): void {
  const w = state.window;
  const hour = Math.floor(ws / EXPOSURE_REFRESH_MS);
  const refresh = state.exposureHour !== hour;
  state.exposureHour = hour;
  // O(revalued) per window; O(book) once an hour
  const ids = new Set<string>(w.removed.keys());
  if (refresh) {
    for (const slot of state.entities.values()) if (slot.latest !== null || slot.exposureWritten.length > 0) ids.add(slot.id);
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
  }
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

// ---------------------------------------------------------------- entities

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

function onEntity(state: ProcessorState, id: string, entity: Entity | null, released: boolean, params: DomainParams, out: StepOutput[], statuses?: readonly AlertStateRecord[], carried?: CarriedOutputs): void {
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
      onEntity(state, event.id, event.entity, event.ts === RELEASED_ENTITY_TS, params, out, event.statuses, event.carried);
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
function setStatuses(state: ProcessorState, slot: EntitySlot, records: readonly AlertStateRecord[]): void {
  for (const r of records) {
    if (!setStatus(slot, r)) continue;
    slot.statusSeq++;
    if (decodeAlertKey(r.key)?.rule === 'ltv' && r.cureDeadline !== null && r.cureDeadline < state.nextCureMs) state.nextCureMs = r.cureDeadline;
  }
}
