import type { DomainParams } from '../params.ts';
import type { SheetVersion } from '../sheet/sheet.ts';
import type { MarketIndex } from '../market/market-index.ts';
import type { EntityModelExposure } from '../valuation/portfolio.ts';
import type { Guard } from './guard.ts';
import type { PriceOutput } from './step-types.ts';
import { emptyMarketIndex } from '../market/market-index.ts';

/** The state `step` (step.ts) folds: the market index, the entities' slots with their alert machines, the open window. */

/** A status held by the alert machine. */
export interface AlertSlot {
  status: string;
  since: number;
  cureDeadline: number | null;
}

export interface VersionInfo {
  readonly fromMs: number;
  readonly sheet: SheetVersion;
  /** exposureOf(sheet), sorted. */
  readonly exposure: readonly string[];
  /** When the next version comes into force (Infinity for the last). */
  readonly untilMs: number;
  /** Every facility starts and matures at a midnight: outstanding principals hold within a day after its midnight. */
  readonly midnightDates: boolean;
}

export interface EntitySlot {
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
export interface ExposureList {
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
    /** With `pricePoints: window`: per instrument and source, the window's latest price output. */
    readonly prices: Map<string, PriceOutput>;
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
    window: { seq: 0, instruments: new Set(), rejected: new Map(), entities: new Set(), alertKeys: new Set(), removed: new Map(), prices: new Map() },
  };
}
