import type { LogReader, TopicOffset } from '../bus/bus.ts';
import { compareEventOrder } from '../bus/event-order.ts';
import type { Logger } from '../logger.ts';
import type { DomainParams } from '../domain/params.ts';
import type { AlertStateRecord, CarriedOutputs, StepEvent, StepOutput } from '../domain/step/step-types.ts';
import { alertStates, carriedOutputs, initialState, step } from '../domain/step/step.ts';
import { stepWithCascade } from './cascade.ts';
import type { ContagionStage } from './contagion-stage.ts';
import { entityOfAlertKey } from '../domain/alerts/alert-key.ts';
import { readLookback, restoredState } from './checkpoint.ts';
import { decodeQuote } from './decode.ts';
import type { AlertStateStore } from './alert-state-store.ts';

/**
 * Taking over the entities of an instance that died (docs/reliability.md "Crashes and restarts in
 * live mode"). A SIGKILLed owner hands nothing over, and it may have processed quotes whose window
 * points it never wrote. The new owner replays that stretch for those entities only, as a restart
 * of the dead instance would: a state of its own with just those entities, rebuilt from the
 * look-back window ending at the predecessor's committed offsets, completed with the statuses
 * persisted before them, then folded over the quotes from there to this instance's position. Its
 * outputs (the fold's, with the fold's eventIds) are written; its statuses become the entities'
 * statuses in the running state, which then goes on from the same position.
 *
 * The predecessor's committed offsets: the quote groups of the other instances of this processor
 * group (`<groupId>.quotes.<instance>`) whose commits are behind this instance's position, the
 * smallest per partition, and no further back than the look-back window. A live instance that lags
 * only moves the start earlier: replaying more than needed writes the same points again and
 * publishes alerts with eventIds already published (consumers drop them by eventId).
 */
export interface CatchUpInput {
  readonly params: DomainParams;
  /** The entities taken over, as entity events (their statuses, if any, are ignored). */
  readonly entities: readonly StepEvent[];
  /** The quotes of the look-back window ending at the predecessor's checkpoint: outputs discarded. */
  readonly lookback: readonly StepEvent[];
  /** The statuses persisted before that checkpoint, of these entities. */
  readonly persisted: readonly AlertStateRecord[];
  /** The quotes from the predecessor's checkpoint to this instance's position, in event order. */
  readonly gap: readonly StepEvent[];
  /** The latest handover records of these entities (a previous owner that left in good order): newer transitions win. */
  readonly handedOver: readonly AlertStateRecord[];
  /** This instance's clock: ticks moved it past the last quote (live), so a tick brings the replay there. */
  readonly clockMs: number | null;
  /** The contagion stage of the replay (the book, statuses as persisted before the checkpoint), or null. */
  readonly stage: ContagionStage | null;
}

export interface CatchUpResult {
  /** The outputs of these entities over the gap (market-wide outputs are this instance's already). */
  readonly outputs: StepOutput[];
  /** Each entity's statuses at the end of the gap. */
  readonly statuses: ReadonlyMap<string, AlertStateRecord[]>;
  /** What was last written of each entity by then. */
  readonly carried: ReadonlyMap<string, CarriedOutputs>;
}

/** The catch-up fold itself (pure: `step` on a state of its own). */
export function catchUp(i: CatchUpInput): CatchUpResult {
  let state = initialState(i.params);
  const ids = new Set<string>();
  for (const e of i.entities) {
    if (e.kind !== 'entity') continue;
    ids.add(e.id);
    state = step(state, { kind: 'entity', id: e.id, entity: e.entity, ts: e.ts }, i.params).state;
  }
  for (const e of i.lookback) state = step(state, e, i.params).state;
  state = restoredState(state, i.persisted).state;
  const outputs: StepOutput[] = [];
  const keep = (out: StepOutput): void => {
    const entity = entityOfOutput(out);
    // the book's contagion points come from the stage only when it writes them (entity partition 0 taken over)
    if ((entity !== null && ids.has(entity)) || out.kind === 'contagion_book') outputs.push(out);
  };
  const fold = (e: StepEvent): void => {
    const r = stepWithCascade(state, e, i.params, i.stage);
    state = r.state;
    r.outputs.forEach(keep);
  };
  for (const e of i.gap) fold(e);
  state = restoredState(state, i.handedOver).state;
  if (i.clockMs !== null && (state.clockMs === null || i.clockMs > state.clockMs)) fold({ kind: 'tick', ts: i.clockMs });
  const statuses = new Map<string, AlertStateRecord[]>();
  for (const s of alertStates(state)) {
    const entity = entityOfAlertKey(s.key);
    if (entity === null) continue;
    const list = statuses.get(entity);
    if (list) list.push(s);
    else statuses.set(entity, [s]);
  }
  const carried = new Map<string, CarriedOutputs>();
  for (const id of ids) {
    const c = carriedOutputs(state, id);
    if (c !== null) carried.set(id, c);
  }
  return { outputs, statuses, carried };
}

/** The entity an output belongs to (null: a market-wide output). */
export function entityOfOutput(out: StepOutput): string | null {
  switch (out.kind) {
    case 'valuation':
      return out.valuation.entity;
    case 'alert':
    case 'exposure':
      return out.entity;
    case 'alert_state':
      return entityOfAlertKey(out.key);
    case 'contagion_entity':
      return out.entity.entity;
    default:
      return null;
  }
}

export interface TakeoverOptions {
  readonly bus: Pick<LogReader, 'listGroups' | 'committedOffsets' | 'readToEnd' | 'offsetsForTimestamp'>;
  readonly quotesTopic: string;
  /** `<groupId>.quotes.`: the quote groups of this processor group's instances. */
  readonly quoteGroupPrefix: string;
  readonly ownQuoteGroup: string;
  readonly lookbackMs: number;
  readonly params: DomainParams;
  readonly alertStore: Pick<AlertStateStore, 'persistedAt' | 'latestHandovers'>;
  /** The running contagion stage (null: contagion off): the replay runs a fork of it. */
  readonly contagion: ContagionStage | null;
  readonly logger: Logger;
}

/** Where this instance stands: per partition the next offset after what it has seen, and what of that is still buffered. */
export interface Position {
  readonly next: ReadonlyMap<number, bigint>;
  isBuffered(partition: number, offset: string): boolean;
}

/**
 * The catch-up for entities taken over at `position` (clock `clockMs`): from the smallest commit of
 * another instance's quote group at or behind this position (this position when there is none), no
 * further back than the look-back window.
 */
export async function takeOver(o: TakeoverOptions, entities: readonly StepEvent[], at: { readonly position: Position; readonly clockMs: number | null; readonly writesBook: boolean }): Promise<CatchUpResult | null> {
  const { position, clockMs } = at;
  if (entities.length === 0 || position.next.size === 0) return null;
  const start = await catchUpStart(o, position, clockMs);
  const { checkpointTs, lookback } = await readLookback({ bus: o.bus, topic: o.quotesTopic, lookbackMs: o.lookbackMs, logger: o.logger }, start);
  const ids = new Set(entities.map((e) => (e.kind === 'entity' ? e.id : '')));
  const persisted = await o.alertStore.persistedAt(checkpointTs, o.params.emitIntervalMs, (e) => ids.has(e));
  const handedOver = await o.alertStore.latestHandovers((e) => ids.has(e));
  const to = [...position.next].map(([partition, next]) => ({ partition, offset: next.toString() }));
  const records = (await o.bus.readToEnd(o.quotesTopic, { from: start, to })).filter((r) => !position.isBuffered(r.partition, r.offset));
  records.sort(compareEventOrder);
  const gap: StepEvent[] = [];
  for (const r of records) {
    const d = decodeQuote(r);
    if (d.ok) gap.push({ kind: 'quote', quote: d.value });
  }
  let stage: ContagionStage | null = null;
  if (o.contagion !== null) {
    stage = o.contagion.fork({ owns: (e) => ids.has(e), writesBook: () => at.writesBook });
    stage.restore(await o.alertStore.persistedAt(checkpointTs, o.params.emitIntervalMs, () => true));
  }
  const result = catchUp({ params: o.params, entities, lookback, persisted, gap, handedOver, clockMs, stage });
  o.logger.info(
    { entities: ids.size, from: start.map((s) => `${s.partition}:${s.offset}`).join(' '), lookback: lookback.length, quotes: gap.length, outputs: result.outputs.length },
    'entities taken over: rebuilt, and the stretch their previous owner may not have written replayed',
  );
  return result;
}

/** Per partition: the smallest of this position and the other instances' commits, bounded by the look-back window. */
async function catchUpStart(o: TakeoverOptions, position: Position, clockMs: number | null): Promise<TopicOffset[]> {
  const start = new Map(position.next);
  const floor = new Map<number, bigint>();
  if (clockMs !== null) for (const f of await o.bus.offsetsForTimestamp(o.quotesTopic, clockMs - o.lookbackMs)) floor.set(f.partition, BigInt(f.offset));
  for (const group of await o.bus.listGroups(o.quoteGroupPrefix)) {
    if (group === o.ownQuoteGroup) continue;
    for (const c of await o.bus.committedOffsets(group, o.quotesTopic)) {
      const off = BigInt(c.offset);
      const at = start.get(c.partition);
      if (off < 0n || at === undefined || off >= at) continue;
      const min = floor.get(c.partition);
      start.set(c.partition, min !== undefined && min > off ? (min < at ? min : at) : off);
    }
  }
  return [...start].map(([partition, offset]) => ({ partition, offset: offset.toString() })).sort((a, b) => a.partition - b.partition);
}

/** The entity events with the replay's statuses and last-written figures on each entity's first one (StepEvent `entity`). */
export function joining(events: readonly StepEvent[], caught: CatchUpResult): StepEvent[] {
  const first = new Set<string>();
  return events.map((e) => {
    if (e.kind !== 'entity' || e.entity === null || first.has(e.id)) return e;
    first.add(e.id);
    const carried = caught.carried.get(e.id);
    return { ...e, statuses: caught.statuses.get(e.id) ?? [], ...(carried === undefined ? {} : { carried }) };
  });
}
