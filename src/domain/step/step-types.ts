import type { Quote } from '../market/quote.ts';
import type { Entity } from '../sheet/sheet.ts';
import type { Valuation, LtvStatus } from '../valuation/valuation-types.ts';
import type { ContagionEntity, ContagionLender, ContagionModel } from '../contagion/contagion.ts';
import type { EntityModelExposure } from '../valuation/portfolio.ts';

/**
 * Events into and outputs out of the processor's pure heart `step(state, event)`
 * (STYLE.md 2, ARCHITECTURE.md "Processor runtime rules"). Tagged unions; every output has a
 * deterministic `eventId` (a hash of what identifies it) so redelivered copies can be dropped.
 */
export type StepEvent =
  | { readonly kind: 'quote'; readonly quote: Quote }
  /**
   * An entity's whole version list (from the compacted `entities` topic); null removes it. `ts` is
   * the entities record's timestamp. A removal with `ts` = RELEASED_ENTITY_TS (0) has no record
   * behind it: the runtime releases an entity whose partition another instance now owns (a
   * rebalance), so its `exposure` contribution stays (its new owner writes it); any other removal
   * is a tombstone and its contribution goes to zero at the window close.
   * `statuses` (a handover): the alert statuses the entity's previous owner held (keys
   * `entity/facility/rule`), set before the entity is first evaluated, so an instance taking an
   * entity over in a rebalance continues its alert machine instead of re-firing every active
   * alert from `ok`. Only for an entity this state does not hold yet; ignored otherwise.
   */
  | { readonly kind: 'entity'; readonly id: string; readonly entity: Entity | null; readonly ts: number; readonly statuses?: readonly AlertStateRecord[]; readonly carried?: CarriedOutputs }
  /** A clock tick: advances the processor clock (wall clock live; never in a replay). */
  | { readonly kind: 'tick'; readonly ts: number };

/**
 * What was last written of an entity taken over after a replay of its previous owner's stretch
 * (src/processor/takeover.ts): its new owner then writes `exposure` and `item` points when they
 * change, as the previous owner would have, instead of at its first close.
 */
export interface CarriedOutputs {
  readonly exposureWritten: readonly EntityModelExposure[];
  readonly itemsWritten: Float64Array | null;
  readonly itemsHour: number;
}

/** The `ts` of a removal that is a release by this instance, not a tombstone (see StepEvent `entity`). */
export const RELEASED_ENTITY_TS = 0;

export const ALERT_RULES = ['ltv', 'dscr', 'cure_expired', 'stale_data', 'data_quality', 'contagion'] as const;
export type AlertRule = (typeof ALERT_RULES)[number];

export interface AlertEvent {
  readonly eventId: string;
  readonly entity: string;
  readonly facility: string | null;
  readonly rule: AlertRule;
  readonly from: string;
  readonly to: string;
  readonly value: number | null;
  readonly threshold: number | null;
  /** Event time (ms) of the message that caused it. */
  readonly at: number;
  /** The inputs that caused it, e.g. the instrument that moved or the stale index. */
  readonly cause?: Readonly<Record<string, string | number | null>>;
}

export interface IndexUpdate {
  readonly eventId: string;
  readonly instrument: string;
  readonly ts: number;
  readonly value: number | null;
  readonly sources: number;
  readonly stale: boolean;
  readonly rejected: number;
  /** The latest fresh price of each source used. */
  readonly bySource: Readonly<Record<string, number>>;
}

export interface ValuationOutput {
  readonly eventId: string;
  /** Window start: floor(ts / emitIntervalMs) * emitIntervalMs. */
  readonly ts: number;
  readonly valuation: Valuation;
  /** The index values and fresh-source counts the valuation used. */
  readonly inputs: Readonly<Record<string, { readonly value: number | null; readonly sources: number }>>;
  /**
   * Per fleet item (aligned with `valuation.fleet`): whether its figures changed since they were
   * last written, or this is the entity's first valuation of an event-time hour. The `item` points
   * are written for these only (docs/architecture.md "Output volume"); absent: all of them.
   */
  readonly itemsChanged?: readonly boolean[];
}

export interface DataQualityEvent {
  readonly eventId: string;
  readonly ts: number;
  readonly instrument: string;
  readonly source: string;
  readonly reason: 'outlier' | 'late' | 'unknown_model' | 'stale';
  readonly value: number | null;
}

export interface AlertStateRecord {
  readonly key: string; // entity/facility/rule
  readonly status: LtvStatus | 'ok' | 'breach' | 'stale' | 'expired' | string;
  readonly cureDeadline: number | null;
  readonly since: number;
}

/** A quote's price as written (`price` measurement). */
export interface PriceOutput {
  readonly kind: 'price';
  readonly eventId: string;
  readonly instrument: string;
  readonly source: string;
  readonly ts: number;
  readonly value: number;
}

export type StepOutput =
  | PriceOutput
  | ({ readonly kind: 'index' } & IndexUpdate)
  | ({ readonly kind: 'valuation' } & ValuationOutput)
  | ({ readonly kind: 'alert' } & AlertEvent)
  | ({ readonly kind: 'alert_state' } & AlertStateRecord & { readonly eventId: string; readonly ts: number })
  | ({ readonly kind: 'data_quality' } & DataQualityEvent)
  | ({ readonly kind: 'exposure' } & ExposureOutput)
  | ({ readonly kind: 'spread' } & SpreadOutput)
  | ({ readonly kind: 'contagion_entity' } & ContagionEntityOutput)
  | ({ readonly kind: 'contagion_book' } & ContagionBookOutput);

/**
 * One entity's place in the book's fire-sale cascade at a window close (src/processor/contagion-stage.ts,
 * shared/DOMAIN.md "Fire-sale contagion"), written by the entity's owner when it changes and hourly.
 */
export interface ContagionEntityOutput {
  readonly eventId: string;
  readonly ts: number;
  readonly entity: ContagionEntity;
}

/** The book-level figures of the cascade at a window close, written by one instance (the owner of entity partition 0). */
export interface ContagionBookOutput {
  readonly eventId: string;
  readonly ts: number;
  readonly rounds: number;
  readonly converged: boolean;
  readonly defaults: number;
  readonly contagionDefaults: number;
  readonly models: readonly ContagionModel[];
  readonly lenders: ReadonlyArray<ContagionLender & { readonly defaultedDebtToday: number }>;
}

/**
 * The rental-to-resale spread of a GPU model at a window close where either index moved: what a
 * unit earns a year at today's spot rental (8,766 hours) as a share of what it sells for.
 */
export interface SpreadOutput {
  readonly eventId: string;
  readonly ts: number;
  readonly model: string;
  readonly rentalUsdPerGpuHour: number;
  readonly resaleUsdPerUnit: number;
  readonly rentalYieldAnnual: number;
}

/**
 * One entity's contribution to the portfolio view of a model at a window close (ARCHITECTURE.md
 * measurement `exposure`, src/domain/valuation/portfolio.ts `entityExposure`): its units pledged to
 * facilities that owe, those pledged to facilities at margin call or worse, and the model's resale
 * depth. The book's figures are the sum over entities of their latest contribution (the boards
 * aggregate); a contribution that ended (model dropped from the sheet, pledge released, entity
 * removed) is written once as zeros, with `depthPerMonth` null.
 */
export interface ExposureOutput {
  readonly eventId: string;
  /** Window start, as for valuations. */
  readonly ts: number;
  readonly entity: string;
  readonly model: string;
  readonly unitsPledged: number;
  readonly unitsAtMarginCall: number;
  readonly depthPerMonth: number | null;
}
