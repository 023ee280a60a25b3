/**
 * The board's stream (`/ws`), typed once for the server (board-server.ts) and the page
 * (page/main.ts). Every message carries the schema version `v`; a page that gets another version
 * reloads. Server to page only: the board has no write action, and what a page sends is ignored.
 *
 * - `snapshot` on connect (and after every reconnect): the whole state, with a bounded recent
 *   history per entity so that charts draw at once;
 * - `indexes`: index changes, conflated per instrument (the latest value of each, at most every
 *   `BOARD_FLUSH_MS`);
 * - `alert`: each alert at once, in the processor's order;
 * - `book`: the rows of the entities valued at a window close (and their history points).
 */
import type { AlertEvent } from '../domain/step/step-types.ts';

export const BOARD_PROTOCOL_VERSION = 1;
export const BOARD_FLUSH_MS = 500;
/** History points kept per entity (the snapshot's charts). */
export const BOARD_HISTORY = 240;
/** Alerts kept for the snapshot's feed. */
export const BOARD_ALERTS = 200;

export interface BookRow {
  readonly entity: string;
  readonly type: string | null;
  readonly lenders: readonly string[];
  readonly ltv: number | null;
  readonly forcedSaleLtv: number | null;
  /** The smallest headroom to margin call among its facilities (LTV points), null when none is known. */
  readonly headroom: number | null;
  readonly dscr: number | null;
  readonly dscrStatus: string;
  readonly liquidityCoverage: number | null;
  readonly runwayMonths: number | null;
  /** The worst facility status (ok, warn, margin_call, liquidation, unknown). */
  readonly status: string;
  /** Its round in the latest fire-sale cascade (null: not reached). */
  readonly contagionRound: number | null;
  readonly facilities: readonly FacilityRow[];
  /** The rental rate (USD/GPU-hour) at which NOI covers debt service, against the spot rental of its models. */
  readonly breakevenRentalRate: number | null;
  readonly models: readonly string[];
  /** Its stress scenarios: LTV, DSCR, worst facility status. */
  readonly stress: ReadonlyArray<{ readonly scenario: string; readonly ltv: number | null; readonly dscr: number | null; readonly worst: string }>;
  /** The indexes behind its figures: value and number of sources at the valuation. */
  readonly inputs: Readonly<Record<string, { readonly value: number | null; readonly sources: number }>>;
  /** Event time of the valuation. */
  readonly at: number;
}

export interface FacilityRow {
  readonly id: string;
  readonly lender: string | null;
  readonly ltv: number | null;
  readonly status: string;
  readonly warn: number | null;
  readonly marginCall: number | null;
  readonly liquidation: number | null;
  readonly tenorMonthsLeft: number | null;
  readonly collateralLifeMonthsLeft: number | null;
  readonly debtOutlivesCollateral: boolean;
  /** The cure deadline of a margin call (event time), null when none runs. */
  readonly cureDeadline: number | null;
}

export interface IndexRow {
  readonly instrument: string;
  readonly value: number | null;
  readonly sources: number;
  readonly stale: boolean;
  readonly ts: number;
}

/** An alert as the processor emitted it (the domain's AlertEvent), without its threshold and cause. */
export type AlertRow = Omit<AlertEvent, 'threshold' | 'cause'>;

/** One entity's facility LTVs at a window close. */
export interface HistoryPoint {
  readonly ts: number;
  readonly ltv: Readonly<Record<string, number | null>>;
}

export type ServerMessage =
  | {
      readonly v: typeof BOARD_PROTOCOL_VERSION;
      readonly type: 'snapshot';
      readonly run: string;
      readonly simulated: boolean;
      readonly clockMs: number | null;
      readonly book: readonly BookRow[];
      readonly indexes: readonly IndexRow[];
      readonly alerts: readonly AlertRow[];
      readonly history: Readonly<Record<string, readonly HistoryPoint[]>>;
    }
  | { readonly v: typeof BOARD_PROTOCOL_VERSION; readonly type: 'indexes'; readonly rows: readonly IndexRow[] }
  | { readonly v: typeof BOARD_PROTOCOL_VERSION; readonly type: 'alert'; readonly alert: AlertRow }
  | { readonly v: typeof BOARD_PROTOCOL_VERSION; readonly type: 'book'; readonly rows: readonly BookRow[]; readonly history: Readonly<Record<string, HistoryPoint>> };
