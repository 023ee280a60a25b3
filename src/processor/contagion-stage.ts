import type { ConsumedRecord } from '../bus/bus.ts';
import { cascade, type Cascade } from '../domain/contagion/contagion.ts';
import { decodeAlertKey, encodeAlertKey } from '../domain/alerts/alert-key.ts';
import { eventId } from '../domain/event-id.ts';
import type { Market } from '../domain/market/market.ts';
import type { DomainParams } from '../domain/params.ts';
import type { Entity, SheetVersion } from '../domain/sheet/sheet.ts';
import { versionAt } from '../domain/sheet/sheet-validate.ts';
import type { AlertStateRecord, StepOutput } from '../domain/step/step-types.ts';
import { decodeEntity, type DecodedEntity } from './decode.ts';
import { runToEnd } from '../domain/sliced.ts';

/**
 * The book-level stage of the fire-sale cascade (shared/DOMAIN.md "Fire-sale contagion";
 * docs/architecture.md "Contagion across instances"). The cascade needs every entity, while an
 * instance owns only part of the book, so each instance keeps the whole book as a table, fed by
 * its own reading of the entities topic, and runs the same cascade at each window close on the
 * same market (every instance reads every quote in the same order): the results agree. Each
 * instance writes only what is its own: the points and `contagion` alerts of the entities it owns,
 * and the book-level points (models, lenders, the summary) when it owns entity partition 0.
 *
 * The contagion status of every entity of the book is kept by every instance (not only the owned
 * ones), so an entity taken over in a rebalance continues from the status its old owner had; a
 * restart restores them from the `alert-state` records of rule `contagion`.
 */
export const CONTAGION_STATUS = { ok: 'ok', exposed: 'exposed' } as const;

/**
 * An `exposed` entity is cleared once the cascade has not reached it for this long (event time):
 * the round-0 default that sets a cascade off often sits on its liquidation line, and a status that
 * followed every tick across it would send a lender a pair of alerts an hour. A day, as a credit
 * desk reviews its watch list (docs/valuation.md "Contagion").
 */
export const CONTAGION_CLEAR_AFTER_MS = 24 * 3_600_000;

/** What a window close hands the stage: the window, the clock the close valued at, the market then. */
export interface WindowClose {
  readonly windowStartMs: number;
  readonly atMs: number;
  readonly market: Market;
  /** An index changed in the window. */
  readonly indexesMoved: boolean;
  /** The first close of an event-time hour (step's exposure hour): every owned entity is written. */
  readonly newHour: boolean;
}

export interface ContagionStageOptions {
  readonly params: DomainParams;
  readonly owns: (entity: string) => boolean;
  /** This instance writes the book-level points (it owns entity partition 0). */
  readonly writesBook: () => boolean;
  /** How entity records are decoded (default decodeEntity; the processor shares one EntityDecoder with its entity ownership). */
  readonly decode?: (r: ConsumedRecord) => DecodedEntity;
}

export class ContagionStage {
  private readonly book = new Map<string, Entity>();
  /** Per partition of the entities topic, the next offset not yet applied (a re-read never goes back). */
  private readonly next = new Map<number, bigint>();
  /** An entity changed since the last close (after the book was first loaded). */
  private dirty = false;
  /** Per entity of the book: its contagion status, since when, and when an `exposed` one clears if the cascade stays away (null: it reaches it). */
  private readonly statuses = new Map<string, { status: string; since: number; clearsAt: number | null }>();

  constructor(private readonly o: ContagionStageOptions) {}

  get size(): number {
    return this.book.size;
  }

  /** An entities-topic record (the stage's own reading of the whole topic). Undecodable ones are the processor's to dead-letter. */
  applyRecord(r: ConsumedRecord, options: { readonly initial?: boolean } = {}): void {
    const at = BigInt(r.offset);
    if (at < (this.next.get(r.partition) ?? 0n)) return;
    this.next.set(r.partition, at + 1n);
    const d = (this.o.decode ?? decodeEntity)(r);
    if (d.ok) this.setEntity(d.value.id, d.value.entity, options);
  }

  /** An entity of the book (null: removed). `initial`: the book as loaded at start, before any window. */
  setEntity(id: string, entity: Entity | null, options: { readonly initial?: boolean } = {}): void {
    if (entity === null) this.book.delete(id);
    else this.book.set(id, entity);
    if (options.initial !== true) this.dirty = true;
  }

  /** A stage with this one's book and no statuses, writing for `o` (a takeover's replay of a stretch: takeover.ts). */
  fork(o: Pick<ContagionStageOptions, 'owns' | 'writesBook'>): ContagionStage {
    const s = new ContagionStage({ params: this.o.params, ...(this.o.decode === undefined ? {} : { decode: this.o.decode }), ...o });
    for (const [id, e] of this.book) s.book.set(id, e);
    return s;
  }

  /** The persisted `contagion` statuses (a restart). */
  restore(records: readonly AlertStateRecord[]): void {
    for (const r of records) {
      const k = decodeAlertKey(r.key);
      if (k?.rule === 'contagion') this.statuses.set(k.entity, { status: r.status, since: r.since, clearsAt: r.cureDeadline });
    }
  }

  /** The statuses held, as alert-state records (a handover publishes those of the entities given up). */
  statusRecords(entities?: ReadonlySet<string>): AlertStateRecord[] {
    const out: AlertStateRecord[] = [];
    for (const [entity, s] of this.statuses) {
      if (entities !== undefined && !entities.has(entity)) continue;
      out.push({ key: encodeAlertKey(entity, null, 'contagion'), status: s.status, cureDeadline: s.clearsAt, since: s.since });
    }
    return out;
  }

  /**
   * The cascade at a window close, and what this instance writes of it. It runs when an index
   * moved in the window, the book changed, or at the first close of an hour (the day's debt
   * schedule and dates); otherwise it would give the last result again. Which closes run and what
   * they write follow from the stream alone, so a restarted or replayed run writes what the fold
   * does (docs/architecture.md "Contagion across instances").
   */
  atClose(close: WindowClose): StepOutput[] {
    const out: StepOutput[] = [];
    runToEnd(this.atCloseSliced(close, out, Infinity));
    return out;
  }

  /** `atClose` into `out`, yielding between entities whenever `out` holds `sliceOutputs` or more (the runtime's sliced close: src/domain/step/close-window.ts `closeWindowSliced`). */
  *atCloseSliced(close: WindowClose, out: StepOutput[], sliceOutputs: number): Generator<void, void, void> {
    // No index quoted yet: a live processor's ticks move its clock before its first quote, and the
    // close of that empty window would value the book on the catalog's model values alone, a
    // cascade no quote set off (and one a replay of the same quotes never runs). The book stays
    // dirty for the first close with a market.
    if (isEmptyMarket(close.market)) return;
    const run = close.indexesMoved || close.newHour || this.dirty;
    this.dirty = false;
    if (!run || this.book.size === 0) return;
    const sheets: SheetVersion[] = [];
    for (const e of this.book.values()) {
      const v = versionAt(e, close.atMs);
      if (v !== null) sheets.push(v);
    }
    yield* this.outputsOf(cascade(sheets, close.market, close.atMs, this.o.params), close.windowStartMs, close.newHour, out, sliceOutputs);
  }

  /**
   * Alerts where an entity's contagion status changes; the points of the owned entities the
   * cascade reaches (in default, or valued lower after it), every owned one at the first close of
   * an hour; the book's points when this instance writes them.
   */
  private *outputsOf(c: Cascade, ws: number, newHour: boolean, out: StepOutput[], sliceOutputs: number): Generator<void, void, void> {
    const alertStates: StepOutput[] = [];
    // one string for every alert of the close: the round-0 list can run to thousands of characters,
    // and a close that reaches thousands of entities would otherwise hold a copy per alert
    const setOffBy = c.roundZero.join(',');
    let defaults = 0;
    let contagionDefaults = 0;
    // each entity's result built only when written (c.book): a close of the whole book holds none of them
    for (let i = 0; i < c.book.size; i++) {
      const entity = c.book.id(i);
      const defaultRound = c.book.defaultRound(i);
      if (defaultRound !== null) defaults++;
      if ((defaultRound ?? 0) >= 1) contagionDefaults++;
      const owned = this.o.owns(entity);
      const reachedNow = defaultRound !== null && defaultRound >= 1;
      const held = this.statuses.get(entity);
      if (held === undefined) {
        // Baseline: the first cascade that sees the entity (the run's first, or a new borrower's)
        // records its status silently, as step's rules take their first value: an alert is a
        // change the monitor saw, not "already exposed when the monitor started". Recorded for
        // every entity, ok ones too, so that a restart knows which entities have one.
        const first = { status: reachedNow ? CONTAGION_STATUS.exposed : CONTAGION_STATUS.ok, since: ws, clearsAt: null };
        this.statuses.set(entity, first);
        if (owned) alertStates.push(statusRecord(entity, first, ws));
      } else {
        const next = nextStatus(held, reachedNow, ws);
        if (next !== held) {
          this.statuses.set(entity, next);
          if (owned) {
            if (next.status !== held.status) {
              const [from, to] = [held.status, next.status];
              const cause = { defaultRound, setOffBy, rounds: c.rounds };
              out.push({ kind: 'alert', eventId: eventId('alert', entity, null, 'contagion', from, to, ws), entity, facility: null, rule: 'contagion', from, to, value: c.book.ltvAfter(i), threshold: null, at: ws, cause });
            }
            alertStates.push(statusRecord(entity, next, ws));
          }
        }
      }
      const reached = defaultRound !== null || c.book.ltvAfter(i) !== c.book.ltvBefore(i);
      if (owned && (newHour || reached)) out.push({ kind: 'contagion_entity', eventId: eventId('contagion_entity', entity, ws), ts: ws, entity: c.book.entity(i) });
      if (out.length >= sliceOutputs) yield;
    }
    if (this.o.writesBook()) out.push(this.bookOutput(c, ws, defaults, contagionDefaults));
    for (const a of alertStates) out.push(a);
  }

  private bookOutput(c: Cascade, ws: number, defaults: number, contagionDefaults: number): StepOutput {
    const today = new Map<string, number>();
    for (const [lender, debt] of c.defaultedTodayByLender) today.set(lender, debt);
    return {
      kind: 'contagion_book',
      eventId: eventId('contagion_book', ws),
      ts: ws,
      rounds: c.rounds,
      converged: c.converged,
      defaults,
      contagionDefaults,
      models: c.models,
      lenders: c.lenders.map((l) => ({ ...l, defaultedDebtToday: today.get(l.lender) ?? 0 })),
    };
  }
}

function isEmptyMarket(m: Market): boolean {
  return m.hashprice === null && Object.keys(m.crypto).length === 0 && Object.keys(m.rental).length === 0 && Object.keys(m.resale).length === 0;
}

type ContagionStatus = { readonly status: string; readonly since: number; readonly clearsAt: number | null };

function statusRecord(entity: string, s: ContagionStatus, ws: number): StepOutput {
  const key = encodeAlertKey(entity, null, 'contagion');
  return { kind: 'alert_state', key, status: s.status, cureDeadline: s.clearsAt, since: s.since, eventId: eventId('alert_state', key, s.status, s.since, s.clearsAt), ts: ws };
}

/** The status after a cascade that does (`reached`) or does not reach the entity; the same object when nothing changes. */
function nextStatus(held: ContagionStatus, reached: boolean, ws: number): ContagionStatus {
  if (reached) {
    if (held.status === CONTAGION_STATUS.exposed && held.clearsAt === null) return held;
    return held.status === CONTAGION_STATUS.exposed ? { ...held, clearsAt: null } : { status: CONTAGION_STATUS.exposed, since: ws, clearsAt: null };
  }
  if (held.status !== CONTAGION_STATUS.exposed) return held;
  if (held.clearsAt === null) return { ...held, clearsAt: ws + CONTAGION_CLEAR_AFTER_MS };
  return ws >= held.clearsAt ? { status: CONTAGION_STATUS.ok, since: ws, clearsAt: null } : held;
}
