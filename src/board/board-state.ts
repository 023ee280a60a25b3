import type { StepOutput } from '../domain/step/step-types.ts';
import { decodeAlertKey } from '../domain/alerts/alert-key.ts';
import type { Valuation } from '../domain/valuation/valuation-types.ts';
import { HistoryStore } from './history-store.ts';
import { BOARD_ALERTS, BOARD_HISTORY, BOARD_PROTOCOL_VERSION, type AlertRow, type BookRow, type IndexRow, type ServerMessage } from './protocol.ts';

/**
 * What the board shows, kept from the processor's outputs (the `onOutputs` of Processor): the
 * latest row of each entity, each index, the recent alerts and a bounded history per entity. The
 * deltas since the last flush are conflated per key: a slow flush sends each instrument's and each
 * entity's latest state once, never a queue of them. Alerts are never conflated.
 */
const ORDER = ['ok', 'warn', 'margin_call', 'liquidation'];

/** History points kept in all: a book of 10,000 keeps 20 per entity, a small one BOARD_HISTORY (the memory of `ccm process`). */
export const BOARD_HISTORY_TOTAL = 200_000;
export const historyLimit = (entities: number): number => Math.max(10, Math.min(BOARD_HISTORY, Math.floor(BOARD_HISTORY_TOTAL / Math.max(1, entities))));

const worstOf = (statuses: readonly string[]): string => statuses.reduce((w, x) => (ORDER.indexOf(x) > ORDER.indexOf(w) ? x : w), 'ok');

export function bookRowOf(
  v: Valuation,
  at: number,
  contagionRound: number | null,
  inputs: Readonly<Record<string, { readonly value: number | null; readonly sources: number }>> = {},
  cureDeadlines: ReadonlyMap<string, number | null> = new Map(),
): BookRow {
  let status = 'ok';
  let unknown = false;
  let headroom: number | null = null;
  for (const f of v.facilities) {
    if (f.status === 'unknown') unknown = true;
    else if (ORDER.indexOf(f.status) > ORDER.indexOf(status)) status = f.status;
    if (f.headroom !== null && (headroom === null || f.headroom < headroom)) headroom = f.headroom;
  }
  return {
    entity: v.entity,
    type: v.type ?? null,
    lenders: [...new Set(v.facilities.map((f) => f.lender ?? '-'))].sort(),
    ltv: v.ltv,
    forcedSaleLtv: v.forcedSaleLtv,
    headroom,
    dscr: v.dscr,
    dscrStatus: v.dscrStatus,
    liquidityCoverage: v.liquidityCoverage,
    runwayMonths: v.runwayMonths,
    status: status === 'ok' && unknown ? 'unknown' : status,
    contagionRound,
    facilities: v.facilities.map((f) => ({
      id: f.id,
      lender: f.lender ?? null,
      ltv: f.ltv,
      status: f.status,
      warn: f.covenants?.ltvWarn ?? null,
      marginCall: f.covenants?.ltvMarginCall ?? null,
      liquidation: f.covenants?.ltvLiquidation ?? null,
      tenorMonthsLeft: f.tenorMonthsLeft ?? null,
      collateralLifeMonthsLeft: f.collateralLifeMonthsLeft ?? null,
      debtOutlivesCollateral: f.debtOutlivesCollateral === true,
      cureDeadline: cureDeadlines.get(f.id) ?? null,
    })),
    breakevenRentalRate: v.breakevenRentalRate,
    models: [...new Set(v.fleet.map((i) => i.model))].sort(),
    stress: v.stress.map((x) => ({ scenario: x.scenario, ltv: x.ltv, dscr: x.dscr, worst: worstOf(x.facilities.map((f) => f.status)) })),
    inputs,
    at,
  };
}

export class BoardState {
  private readonly book = new Map<string, BookRow>();
  private readonly indexes = new Map<string, IndexRow>();
  private readonly alerts: AlertRow[] = [];
  private readonly history = new HistoryStore();
  private readonly contagion = new Map<string, number | null>();
  /** entity -> facility -> the cure deadline of its running margin call (alert_state of rule ltv). */
  private readonly cures = new Map<string, Map<string, number | null>>();
  private clockMs: number | null = null;
  private readonly dirtyIndexes = new Set<string>();
  private readonly dirtyBook = new Set<string>();
  private readonly pendingAlerts: AlertRow[] = [];

  constructor(
    readonly run: string,
    readonly simulated: boolean,
  ) {}

  observe(outputs: readonly StepOutput[]): void {
    for (const o of outputs) {
      switch (o.kind) {
        case 'index':
          this.indexes.set(o.instrument, { instrument: o.instrument, value: o.value, sources: o.sources, stale: o.stale, ts: o.ts });
          this.dirtyIndexes.add(o.instrument);
          this.tick(o.ts);
          break;
        case 'valuation': {
          const row = bookRowOf(o.valuation, o.ts, this.contagion.get(o.valuation.entity) ?? null, o.inputs, this.cures.get(o.valuation.entity));
          this.book.set(row.entity, row);
          this.history.push(row.entity, o.ts, row.facilities, historyLimit(this.book.size));
          this.dirtyBook.add(row.entity);
          this.tick(o.ts);
          break;
        }
        case 'alert_state': {
          const k = decodeAlertKey(o.key);
          if (k === null || k.rule !== 'ltv' || k.facility === null) break;
          const m = this.cures.get(k.entity) ?? new Map<string, number | null>();
          m.set(k.facility, o.cureDeadline);
          this.cures.set(k.entity, m);
          const row = this.book.get(k.entity);
          if (row && row.facilities.some((f) => f.id === k.facility && f.cureDeadline !== o.cureDeadline)) {
            this.book.set(k.entity, { ...row, facilities: row.facilities.map((f) => (f.id === k.facility ? { ...f, cureDeadline: o.cureDeadline } : f)) });
            this.dirtyBook.add(k.entity);
          }
          break;
        }
        case 'contagion_entity': {
          const round = o.entity.defaultRound;
          this.contagion.set(o.entity.entity, round);
          const row = this.book.get(o.entity.entity);
          if (row && row.contagionRound !== round) {
            this.book.set(row.entity, { ...row, contagionRound: round });
            this.dirtyBook.add(row.entity);
          }
          break;
        }
        case 'alert': {
          const a: AlertRow = { eventId: o.eventId, entity: o.entity, facility: o.facility, rule: o.rule, from: o.from, to: o.to, value: o.value, at: o.at };
          this.alerts.push(a);
          if (this.alerts.length > BOARD_ALERTS) this.alerts.shift();
          this.pendingAlerts.push(a);
          break;
        }
        default:
          break;
      }
    }
  }

  private tick(ts: number): void {
    if (this.clockMs === null || ts > this.clockMs) this.clockMs = ts;
  }

  snapshot(): ServerMessage {
    return {
      v: BOARD_PROTOCOL_VERSION,
      type: 'snapshot',
      run: this.run,
      simulated: this.simulated,
      clockMs: this.clockMs,
      book: [...this.book.values()].sort((a, b) => a.entity.localeCompare(b.entity)),
      indexes: [...this.indexes.values()].sort((a, b) => a.instrument.localeCompare(b.instrument)),
      alerts: [...this.alerts],
      history: Object.fromEntries([...this.history.entities()].map((id) => [id, this.history.points(id)])),
    };
  }

  /** The deltas since the last call: alerts first (each once, in order), then the latest of each changed key. */
  takeDeltas(): ServerMessage[] {
    const out: ServerMessage[] = this.pendingAlerts.splice(0).map((alert) => ({ v: BOARD_PROTOCOL_VERSION, type: 'alert', alert }) as const);
    if (this.dirtyIndexes.size > 0) {
      out.push({ v: BOARD_PROTOCOL_VERSION, type: 'indexes', rows: [...this.dirtyIndexes].map((i) => this.indexes.get(i)!) });
      this.dirtyIndexes.clear();
    }
    if (this.dirtyBook.size > 0) {
      const ids = [...this.dirtyBook];
      out.push({ v: BOARD_PROTOCOL_VERSION, type: 'book', rows: ids.map((id) => this.book.get(id)!), history: Object.fromEntries(ids.map((id) => [id, this.history.last(id)!])) });
      this.dirtyBook.clear();
    }
    return out;
  }
}
