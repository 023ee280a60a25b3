import type { LogReader, Subscriber, TopicOffset } from '../bus/bus.ts';
import type { Logger } from '../logger.ts';
import type { AlertStateRecord, StepEvent } from '../domain/step/step-types.ts';
import { alertStates, restoreAlertStates, type ProcessorState } from '../domain/step/step.ts';
import { compareEventOrder } from '../bus/event-order.ts';
import { decodeQuote } from './decode.ts';

/**
 * Where a quote group resumes, and the state it resumes with (ARCHITECTURE.md runtime rule 5;
 * docs/processor.md "Checkpoints and restart"). `locate` returns the plan: the committed offsets
 * (a new group's first commit made: `startAt`, or now minus the look-back window live), the
 * checkpoint's event time, the look-back window's quotes as `step` events for the runtime loop to
 * fold (outputs discarded), and where each partition resumes. `restoredState` then completes the
 * rebuilt state with the statuses persisted before the checkpoint (alert-state-store.ts).
 */
export interface CheckpointOptions {
  readonly bus: LogReader & Pick<Subscriber, 'commitOffsets'>;
  readonly topic: string;
  readonly groupId: string;
  readonly lookbackMs: number;
  readonly startFrom: 'earliest' | 'lookback';
  readonly startAt?: readonly TopicOffset[];
  /** The wall clock, live: a new group then starts the look-back window before now. */
  readonly now?: () => number;
  readonly logger: Logger;
}

export interface CheckpointPlan {
  /** The group had committed offsets: the state is rebuilt and the persisted statuses restored. */
  readonly restart: boolean;
  /** The latest event time among the last committed records (-Infinity without a restart). */
  readonly checkpointTs: number;
  /** The look-back window's quotes, in event order, ending at the committed offsets. */
  readonly lookback: readonly StepEvent[];
  /** Per partition, the offset consumption resumes at. */
  readonly resume: ReadonlyArray<{ readonly partition: number; readonly offset: bigint }>;
}

export async function locateCheckpoint(o: CheckpointOptions): Promise<CheckpointPlan> {
  const { bus, topic, groupId } = o;
  let committed = await bus.committedOffsets(groupId, topic);
  const restart = committed.some((c) => BigInt(c.offset) >= 0n);
  o.logger.info({ group: groupId, committed: committed.map((c) => `${c.partition}:${c.offset}`).join(' '), restart }, 'checkpoint');
  let checkpointTs = -Infinity;
  let lookback: StepEvent[] = [];
  if (!restart) {
    const first = o.startAt ?? (o.startFrom === 'lookback' && o.now ? await bus.offsetsForTimestamp(topic, o.now() - o.lookbackMs) : undefined);
    if (first) {
      await bus.commitOffsets(groupId, topic, first);
      committed = [...first];
    }
  } else {
    ({ checkpointTs, lookback } = await readLookback(o, committed));
  }
  // Where each partition really resumes: its committed offset, or the earliest offset still
  // retained when retention has deleted the records before it (or nothing was committed). A
  // partition emptied by retention then counts as read to its end instead of holding back the
  // watermark and the end of a replay.
  const resume: Array<{ partition: number; offset: bigint }> = [];
  for (const e of await bus.offsetsForTimestamp(topic, 0)) {
    const c = committed.find((x) => x.partition === e.partition);
    const offset = c !== undefined && BigInt(c.offset) > BigInt(e.offset) ? BigInt(c.offset) : BigInt(e.offset);
    if (offset >= 0n) resume.push({ partition: e.partition, offset });
  }
  return { restart, checkpointTs, lookback, resume };
}

/** The quotes of the look-back window ending at the committed offsets, and the checkpoint's event time. */
export async function readLookback(o: Pick<CheckpointOptions, 'topic' | 'lookbackMs' | 'logger'> & { readonly bus: Pick<LogReader, 'readToEnd' | 'offsetsForTimestamp'> }, committed: readonly TopicOffset[]): Promise<{ checkpointTs: number; lookback: StepEvent[] }> {
  const { bus, topic } = o;
  let lastTs = -Infinity;
  for (const c of committed) {
    const off = BigInt(c.offset);
    if (off <= 0n) continue;
    const last = await bus.readToEnd(topic, { partitions: [c.partition], from: [{ partition: c.partition, offset: (off - 1n).toString() }], to: [c] });
    for (const r of last) if (r.ts > lastTs) lastTs = r.ts;
  }
  if (lastTs === -Infinity) return { checkpointTs: lastTs, lookback: [] };
  const fromByTime = await bus.offsetsForTimestamp(topic, lastTs - o.lookbackMs);
  const from = fromByTime.map((f) => {
    const c = committed.find((x) => x.partition === f.partition);
    const co = c ? BigInt(c.offset) : 0n;
    return { partition: f.partition, offset: (BigInt(f.offset) < co ? BigInt(f.offset) : co < 0n ? 0n : co).toString() };
  });
  const to = committed.map((c) => ({ partition: c.partition, offset: BigInt(c.offset) < 0n ? '0' : c.offset }));
  const records = await bus.readToEnd(topic, { from, to });
  records.sort(compareEventOrder);
  const lookback: StepEvent[] = [];
  // undecodable records were dead-lettered when first read
  for (const r of records) {
    const d = decodeQuote(r);
    if (d.ok) lookback.push({ kind: 'quote', quote: d.value });
  }
  o.logger.info({ quotes: lookback.length, untilTs: lastTs, lookbackMs: o.lookbackMs }, 'look-back window read');
  return { checkpointTs: lastTs, lookback };
}

/**
 * The rebuilt state completed with the statuses persisted before the checkpoint. A persisted
 * status overwrites the rebuilt one only when its transition is more recent (`since`): the
 * rebuild reproduces every transition the look-back quotes caused, including those of the still
 * open window that no record holds yet; the records bring what it cannot see (transitions older
 * than the window, or driven by wall-clock ticks, which are not in the log). Mutates and returns
 * `state`, as `step` does.
 */
export function restoredState(state: ProcessorState, persisted: readonly AlertStateRecord[]): { state: ProcessorState; restored: number } {
  const rebuilt = new Map(alertStates(state).map((a) => [a.key, a]));
  const newer = persisted.filter((x) => (rebuilt.get(x.key)?.since ?? -Infinity) < x.since);
  return { state: newer.length > 0 ? restoreAlertStates(state, newer) : state, restored: newer.length };
}
