import type { Bus, ConsumedRecord, ProduceRecord, Subscription, TopicOffset } from '../bus/bus.ts';
import type { Sink, Point } from '../sink/sink.ts';
import type { Logger } from '../logger.ts';
import type { DomainParams } from '../domain/params.ts';
import type { StepEvent, StepOutput, AlertStateRecord } from '../domain/step/step-types.ts';
import { RELEASED_ENTITY_TS } from '../domain/step/step-types.ts';
import type { Quote } from '../domain/market/quote.ts';
import { initialState, step, flush, restoreAlertStates, alertStates, type ProcessorState } from '../domain/step/step.ts';
import { toPoints } from '../sink/to-points.ts';
import { EventMerger } from './event-merger.ts';
import { decodeEntity, decodeQuote } from './decode.ts';
import { ProcessorMetrics } from './processor-metrics.ts';
import { isMonitorError } from '../domain/errors.ts';
import { CommitLedger, type Segment } from './commit-ledger.ts';
import { WritePipeline } from './write-pipeline.ts';

/**
 * The runtime around `step` (ARCHITECTURE.md "Processor runtime rules"):
 * 1. entities first: the shared `entities` group assigns partitions; this instance reads its
 *    partitions to their end before any quote;
 * 2. quotes of every partition (a group of this instance's own) merged in event-time order behind
 *    a watermark (EventMerger);
 * 3. the clock moves with the data, and live with wall-clock ticks;
 * 5. offsets are committed only after every output derived from them is written (sink and
 *    output topics; WritePipeline writes a chunk while the next is stepped, CommitLedger keeps the
 *    commits behind what is acknowledged); on restart the state is rebuilt from the look-back
 *    window ending at the committed offsets' event time, then the persisted alert states
 *    overwrite the rebuilt ones.
 * Outputs are at-least-once with deterministic eventIds; points are idempotent (event-time
 * timestamps), so results are exactly-once in InfluxDB.
 */
export interface ProcessorTopics {
  readonly quotes: string;
  readonly entities: string;
  readonly valuations: string;
  readonly alerts: string;
  readonly alertState: string;
  readonly deadletter: string;
}

export interface ProcessorOptions {
  readonly bus: Bus;
  readonly sink: Sink;
  readonly logger: Logger;
  readonly params: DomainParams;
  readonly topics: ProcessorTopics;
  /** The `run` tag: `live`, `demo` or a replay's name. */
  readonly run: string;
  readonly groupId: string;
  readonly instanceId: string;
  readonly lookbackMs: number;
  readonly maxLatenessMs: number;
  /** Live: wall-clock ticks advance the processor clock. Replays use the input's time only. */
  readonly ticks?: { readonly intervalMs: number; readonly now: () => number };
  /** Where a new group starts: the earliest retained quote, or now minus the look-back window. */
  readonly startFrom: 'earliest' | 'lookback';
  /** A new group starts at these offsets (a replaced replay run starts after its old input). */
  readonly startAt?: readonly TopicOffset[];
  /** Replay: stop once the quotes present at start are processed, closing every window. */
  readonly untilEnd?: boolean;
  /** Publish valuations, alerts and alert states to their topics (default true). */
  readonly publishOutputs?: boolean;
  readonly metrics?: ProcessorMetrics;
  /** Every batch of outputs once written (the embedded table, replay reports, tests). */
  readonly onOutputs?: (outputs: readonly StepOutput[]) => void;
  /** How often (ms) the merger asks for end offsets while it waits on a partition. */
  readonly endOffsetPollMs?: number;
  readonly sessionTimeoutMs?: number;
  /** The write pipeline's bounds (defaults: WRITE_DEFAULTS). */
  readonly write?: Partial<WriteBounds>;
}

export interface WriteBounds {
  /** Released quotes stepped per chunk at most (a chunk is written, then committed). */
  readonly chunkQuotes: number;
  /** A chunk is cut early once its quotes have produced this many outputs. */
  readonly chunkOutputs: number;
  /** Chunks written concurrently with the stepping of the next one, at most. */
  readonly maxInFlight: number;
  /** Points per InfluxDB write. */
  readonly slicePoints: number;
  /** Records per publish of the output topics. */
  readonly sliceRecords: number;
}

export const WRITE_DEFAULTS: WriteBounds = { chunkQuotes: 500, chunkOutputs: 2_000, maxInFlight: 2, slicePoints: 5_000, sliceRecords: 500 };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<'timeout'>((r) => (t = setTimeout(() => r('timeout'), ms)))]);
  } finally {
    clearTimeout(t);
  }
}

export class Processor {
  private state: ProcessorState;
  private readonly log: Logger;
  readonly metrics: ProcessorMetrics;
  private chain: Promise<void> = Promise.resolve();
  private entitySub: Subscription | null = null;
  private quoteSub: Subscription | null = null;
  private merger: EventMerger | null = null;
  private ownedEntityPartitions = new Set<number>();
  private entityPartitionOf = new Map<string, number>();
  private entityEnd = new Map<number, bigint>();
  private entitySeen = new Map<number, bigint>();
  private entitiesReady: (() => void) | null = null;
  private tickTimer: NodeJS.Timeout | null = null;
  private driveTimer: NodeJS.Timeout | null = null;
  private lagTimer: NodeJS.Timeout | null = null;
  private drainQueued = false;
  private lastEndPoll = 0;
  private stopping = false;
  private endAtStart: TopicOffset[] | null = null;
  private doneResolve: (() => void) | null = null;
  readonly done: Promise<void>;
  private ready = false;
  private failed: Error | null = null;
  private eventsProcessed = 0;
  private alertsEmitted = 0;
  private readonly bounds: WriteBounds;
  private readonly ledger = new CommitLedger();
  private readonly pipeline: WritePipeline;
  /** Commits run one at a time, each with the offsets written when it runs. */
  private commitLane: Promise<void> = Promise.resolve();

  constructor(private readonly o: ProcessorOptions) {
    this.state = initialState(o.params);
    this.log = o.logger.child({ component: 'processor', run: o.run });
    this.metrics = o.metrics ?? new ProcessorMetrics();
    this.done = new Promise<void>((r) => (this.doneResolve = r));
    this.bounds = { ...WRITE_DEFAULTS, ...o.write };
    this.pipeline = new WritePipeline({
      maxInFlight: this.bounds.maxInFlight,
      slicePoints: this.bounds.slicePoints,
      sliceRecords: this.bounds.sliceRecords,
      toPoints: (out) => toPoints(out, o.run),
      writePoints: async (points) => {
        this.metrics.sinkBatch.observe(points.length);
        await this.retry('sink write', () => o.sink.write(points));
      },
      toRecord: (out) => this.toRecord(out),
      publish: o.publishOutputs === false ? null : (records) => this.retry('publish outputs', () => o.bus.publish(records)),
      onError: (e) => this.fail(e),
    });
  }

  get quoteGroupId(): string {
    return `${this.o.groupId}.quotes.${this.o.instanceId}`;
  }
  get entityGroupId(): string {
    return `${this.o.groupId}.entities`;
  }
  isReady(): boolean {
    return this.ready && this.failed === null;
  }
  stats(): { events: number; alerts: number } {
    return { events: this.eventsProcessed, alerts: this.alertsEmitted };
  }

  /** Serialises every state change: step is never run concurrently. */
  private enqueue(fn: () => Promise<void>): Promise<void> {
    const next = this.chain.then(fn);
    this.chain = next.catch((e: unknown) => this.fail(e as Error));
    return next;
  }

  private fail(e: Error): void {
    if (this.failed) return;
    this.failed = e;
    this.log.error({ err: e }, 'processor failed');
    this.doneResolve?.();
  }

  async start(): Promise<void> {
    const { bus, topics } = this.o;
    // 1. Entities first.
    const entitiesRead = new Promise<void>((r) => (this.entitiesReady = r));
    this.entitySub = await bus.subscribe({
      groupId: this.entityGroupId,
      topics: [topics.entities],
      fromBeginning: true,
      sessionTimeoutMs: this.o.sessionTimeoutMs,
      onAssignment: (assigned) => void this.enqueue(() => this.onEntityAssignment(assigned.get(topics.entities) ?? [])),
      onBatch: (records) => this.enqueue(() => this.onEntityRecords(records)),
      onCrash: (err) => this.fail(err),
    });
    await Promise.race([entitiesRead, this.done]);
    if (this.failed) throw this.failed;
    this.log.info({ entities: this.entityPartitionOf.size, partitions: [...this.ownedEntityPartitions] }, 'entities read to their end');

    // 2. Checkpoint: rebuild from the look-back window, then restore alert states.
    const partitions = await bus.partitionCount(topics.quotes);
    this.merger = new EventMerger(Array.from({ length: partitions }, (_, i) => i));
    let committed = await bus.committedOffsets(this.quoteGroupId, topics.quotes);
    const restart = committed.some((c) => BigInt(c.offset) >= 0n);
    this.log.info({ group: this.quoteGroupId, committed: committed.map((c) => `${c.partition}:${c.offset}`).join(' '), restart }, 'checkpoint');
    let checkpointTs = -Infinity;
    if (!restart) {
      if (this.o.startAt) {
        await bus.commitOffsets(this.quoteGroupId, topics.quotes, this.o.startAt);
        committed = [...this.o.startAt];
      } else if (this.o.startFrom === 'lookback' && this.o.ticks) {
        const from = await bus.offsetsForTimestamp(topics.quotes, this.o.ticks.now() - this.o.lookbackMs);
        await bus.commitOffsets(this.quoteGroupId, topics.quotes, from);
        committed = from;
      }
    } else {
      checkpointTs = await this.rebuild(committed);
    }
    // Where each partition really resumes: its committed offset, or the earliest offset still
    // retained when retention has deleted the records before it (or nothing was committed). A
    // partition emptied by retention then counts as read to its end instead of holding back the
    // watermark and the end of a replay.
    const earliest = await bus.offsetsForTimestamp(topics.quotes, 0);
    for (const e of earliest) {
      const c = committed.find((x) => x.partition === e.partition);
      const resume = c !== undefined && BigInt(c.offset) > BigInt(e.offset) ? BigInt(c.offset) : BigInt(e.offset);
      if (resume >= 0n) this.merger.seed(e.partition, resume);
    }
    // Persisted alert states belong to the checkpoint: only a restart restores them.
    if (restart) await this.restoreAlerts(checkpointTs);
    if (this.o.untilEnd) this.endAtStart = await bus.endOffsets(topics.quotes);

    // 3. Quotes.
    this.quoteSub = await bus.subscribe({
      groupId: this.quoteGroupId,
      topics: [topics.quotes],
      fromBeginning: true,
      sessionTimeoutMs: this.o.sessionTimeoutMs,
      onBatch: (records) => this.enqueue(() => this.onQuoteRecords(records)),
      onCrash: (err) => this.fail(err),
    });
    this.driveTimer = setInterval(() => {
      // at most one timer-driven drain queued: a slow write must not pile them up
      if (this.stopping || this.drainQueued) return;
      this.drainQueued = true;
      void this.enqueue(() => {
        this.drainQueued = false;
        return this.drain(false);
      });
    }, 100);
    this.lagTimer = setInterval(() => void this.updateLag(), 2000);
    void this.updateLag();
    if (this.o.ticks) {
      const t = this.o.ticks;
      this.tickTimer = setInterval(() => {
        if (this.stopping) return;
        void this.enqueue(async () => {
          // The wall clock moves the processor clock only once it has caught up with the quotes
          // waiting in Kafka: during a backlog the data's own time leads, so a quote is never made
          // late (or an index stale) by a tick that ran ahead of quotes not yet read.
          const m = this.merger;
          if (m && (m.bufferedCount > 0 || m.waitingOn().length > 0)) return;
          await this.apply([{ kind: 'tick', ts: t.now() }]);
        });
      }, t.intervalMs);
    }
    this.ready = true;
    this.log.info({ quotesTopic: topics.quotes, partitions, group: this.quoteGroupId }, 'consuming quotes');
  }

  /**
   * Per owned entities partition, the next offset not yet applied: a re-assignment re-reads a
   * partition this instance kept from its start, and those records are not applied twice (a second
   * application would revalue the entity and write points the one-instance run does not have).
   */
  private readonly appliedNext = new Map<number, bigint>();
  /**
   * A rebalance handover: the alert statuses of this run on the `alert-state` topic, by entity, read
   * when partitions are added after the start; an entity taken over from another instance starts
   * from them instead of `ok` (StepEvent `entity` `statuses`).
   */
  private handover: Map<string, AlertStateRecord[]> | null = null;

  private async onEntityAssignment(owned: readonly number[]): Promise<void> {
    const now = new Set(owned);
    const added = owned.filter((p) => !this.ownedEntityPartitions.has(p));
    // Revoked partitions: their entities belong to another instance now.
    const removed: StepEvent[] = [];
    const releasedIds = new Set<string>();
    for (const [id, p] of this.entityPartitionOf) {
      if (!now.has(p)) {
        removed.push({ kind: 'entity', id, entity: null, ts: RELEASED_ENTITY_TS });
        releasedIds.add(id);
        this.entityPartitionOf.delete(id);
      }
    }
    for (const p of [...this.appliedNext.keys()]) if (!now.has(p)) this.appliedNext.delete(p);
    // Hand the released entities' current statuses to their next owner before letting them go.
    if (releasedIds.size > 0) await this.publishStatuses(releasedIds);
    this.ownedEntityPartitions = now;
    if (removed.length > 0) await this.apply(removed);
    if (this.ready && added.length > 0) await this.readHandover();
    this.metrics.entitiesOwned.set(this.entityPartitionOf.size);
    this.log.info({ partitions: [...now].sort((a, b) => a - b), entities: this.entityPartitionOf.size }, 'entity partitions assigned');
    const end = await this.o.bus.endOffsets(this.o.topics.entities);
    this.entityEnd = new Map(end.filter((e) => now.has(e.partition)).map((e) => [e.partition, BigInt(e.offset)]));
    this.checkEntitiesReady();
  }

  /**
   * Publishes the current alert statuses of these entities (all held when omitted) to
   * `alert-state`, after every chunk in flight (a compacted topic keeps the last record per key:
   * these must land after the window-close records already on their way). Stamped with the
   * processor clock and marked `asOf` it: every output up to that clock is acknowledged and
   * committed by then, so a restart of this group may take them as of its checkpoint when the
   * clock is not past it (restoreAlerts).
   */
  private async publishStatuses(ids?: ReadonlySet<string>): Promise<void> {
    if (this.o.publishOutputs === false || this.failed) return;
    const records: ProduceRecord[] = [];
    const asOf = this.state.clockMs ?? 0;
    for (const a of alertStates(this.state)) {
      if (ids !== undefined && !ids.has(a.key.split('/')[0])) continue;
      records.push({ topic: this.o.topics.alertState, key: `${this.o.run}/${a.key}`, ts: asOf, value: { key: a.key, status: a.status, cureDeadline: a.cureDeadline, since: a.since, asOf } });
    }
    if (records.length === 0) return;
    await this.pipeline.idle();
    await this.retry('publish statuses', () => this.o.bus.publish(records));
    this.log.info({ alertStates: records.length }, 'alert statuses handed over');
  }

  /** Reads this run's latest alert statuses from `alert-state`, by entity, for the entities a rebalance brings. */
  private async readHandover(): Promise<void> {
    if (this.o.publishOutputs === false) return;
    const latest = new Map<string, AlertStateRecord | null>();
    for (const r of await this.readAlertStateTopic()) latest.set(r.key, r.value);
    const byEntity = new Map<string, AlertStateRecord[]>();
    for (const [key, rec] of latest) {
      if (rec === null) continue;
      const entity = key.split('/')[0];
      const list = byEntity.get(entity);
      if (list) list.push(rec);
      else byEntity.set(entity, [rec]);
    }
    this.handover = byEntity;
    this.log.info({ entities: byEntity.size }, 'alert statuses read for the entities taken over');
  }

  /** This run's records on `alert-state`, in topic order: key without the run prefix, record ts, value (null: tombstone). */
  private async readAlertStateTopic(): Promise<Array<{ key: string; ts: number; asOf: number | undefined; value: AlertStateRecord | null }>> {
    const prefix = `${this.o.run}/`;
    const out: Array<{ key: string; ts: number; asOf: number | undefined; value: AlertStateRecord | null }> = [];
    for (const r of await this.o.bus.readToEnd(this.o.topics.alertState)) {
      if (r.key === null || !r.key.startsWith(prefix)) continue;
      const v = r.value === null ? null : (JSON.parse(r.value.toString('utf8')) as AlertStateRecord & { asOf?: number });
      out.push({ key: r.key.slice(prefix.length), ts: r.ts, asOf: v?.asOf, value: v === null ? null : { key: v.key, status: v.status, cureDeadline: v.cureDeadline, since: v.since } });
    }
    return out;
  }

  private checkEntitiesReady(): void {
    if (!this.entitiesReady) return;
    for (const [p, end] of this.entityEnd) if ((this.entitySeen.get(p) ?? 0n) < end) return;
    const r = this.entitiesReady;
    this.entitiesReady = null;
    r();
  }

  private async onEntityRecords(records: readonly ConsumedRecord[]): Promise<void> {
    const events: StepEvent[] = [];
    for (const r of records) {
      const next = BigInt(r.offset) + 1n;
      if (next > (this.entitySeen.get(r.partition) ?? 0n)) this.entitySeen.set(r.partition, next);
      if (!this.ownedEntityPartitions.has(r.partition)) continue;
      // already applied: a re-read of a partition this instance kept through a rebalance
      if (next <= (this.appliedNext.get(r.partition) ?? 0n)) continue;
      this.appliedNext.set(r.partition, next);
      const d = decodeEntity(r);
      if (!d.ok) {
        await this.deadLetter(r, d.reason, 'entities');
        continue;
      }
      const held = this.entityPartitionOf.has(d.value.id);
      if (d.value.entity === null) this.entityPartitionOf.delete(d.value.id);
      else this.entityPartitionOf.set(d.value.id, r.partition);
      const statuses = !held && d.value.entity !== null ? this.handover?.get(d.value.id) : undefined;
      events.push(statuses !== undefined ? { kind: 'entity', id: d.value.id, entity: d.value.entity, ts: r.ts, statuses } : { kind: 'entity', id: d.value.id, entity: d.value.entity, ts: r.ts });
    }
    if (events.length > 0) await this.apply(events);
    this.metrics.entitiesOwned.set(this.entityPartitionOf.size);
    this.checkEntitiesReady();
    // the handover is needed until the added partitions are read to their end
    if (this.handover !== null && [...this.entityEnd].every(([p, end]) => (this.entitySeen.get(p) ?? 0n) >= end)) this.handover = null;
  }

  /**
   * Restart: replay the look-back window ending at the committed offsets, discarding outputs.
   * Returns the checkpoint's event time: the latest event time among the last committed records.
   */
  private async rebuild(committed: readonly TopicOffset[]): Promise<number> {
    const { bus, topics } = this.o;
    let lastTs = -Infinity;
    for (const c of committed) {
      const off = BigInt(c.offset);
      if (off <= 0n) continue;
      const last = await bus.readToEnd(topics.quotes, {
        partitions: [c.partition],
        from: [{ partition: c.partition, offset: (off - 1n).toString() }],
        to: [{ partition: c.partition, offset: c.offset }],
      });
      for (const r of last) if (r.ts > lastTs) lastTs = r.ts;
    }
    if (lastTs === -Infinity) return lastTs;
    const fromByTime = await bus.offsetsForTimestamp(topics.quotes, lastTs - this.o.lookbackMs);
    const from = fromByTime.map((f) => {
      const c = committed.find((x) => x.partition === f.partition);
      const co = c ? BigInt(c.offset) : 0n;
      return { partition: f.partition, offset: (BigInt(f.offset) < co ? BigInt(f.offset) : co < 0n ? 0n : co).toString() };
    });
    const to = committed.map((c) => ({ partition: c.partition, offset: BigInt(c.offset) < 0n ? '0' : c.offset }));
    const records = await bus.readToEnd(topics.quotes, { from, to });
    records.sort((a, b) => a.ts - b.ts || a.partition - b.partition || (BigInt(a.offset) < BigInt(b.offset) ? -1 : 1));
    let n = 0;
    for (const r of records) {
      const d = decodeQuote(r);
      if (!d.ok) continue;
      this.state = step(this.state, { kind: 'quote', quote: d.value }, this.o.params).state;
      n++;
    }
    this.log.info({ quotes: n, untilTs: lastTs, lookbackMs: this.o.lookbackMs }, 'state rebuilt from the look-back window');
    return lastTs;
  }

  /**
   * The persisted alert states that belong to the checkpoint complete the rebuilt state. Kept:
   * per key, the latest record published before the commit. An `alert_state` record carries the
   * start of the window whose close emitted it, and a window closes at the first quote of a later
   * window, so a record with `ts + emitIntervalMs <= checkpointTs` was written before the committed
   * quotes were; later ones were written past the checkpoint by the crashed run (their quotes will
   * be processed again) and would put the state ahead of its offsets. A kept record overwrites the
   * rebuilt status only when its transition is more recent (`since`): the rebuild reproduces every
   * transition the quotes of the window caused, including those of the still open window that no
   * record holds yet; what it cannot reproduce (transitions older than the window, or driven by
   * wall-clock ticks, which are not in the log) comes from the records.
   * (Restoring every record after the rebuild, as before, would let records published past the
   * checkpoint overwrite the state the rebuild reached at it.)
   */
  private async restoreAlerts(checkpointTs: number): Promise<void> {
    if (this.o.publishOutputs === false) return;
    const latest = new Map<string, AlertStateRecord | null>();
    const closedBy = checkpointTs - this.o.params.emitIntervalMs;
    for (const r of await this.readAlertStateTopic()) {
      // a window-close record: written before the checkpoint when its window closed by then; a
      // handover record (publishStatuses, `asOf`): when its clock is not past the checkpoint
      if (r.value !== null && (r.asOf !== undefined ? r.asOf > checkpointTs : r.ts > closedBy)) continue;
      if (!this.entityPartitionOf.has(r.key.split('/')[0])) continue;
      latest.set(r.key, r.value);
    }
    const rebuilt = new Map(alertStates(this.state).map((a) => [a.key, a]));
    const restored = [...latest.values()].filter((x): x is AlertStateRecord => x !== null && (rebuilt.get(x.key)?.since ?? -Infinity) < x.since);
    if (restored.length > 0) {
      this.state = restoreAlertStates(this.state, restored);
      this.log.info({ alertStates: restored.length }, 'alert states restored');
    }
  }

  private async onQuoteRecords(records: readonly ConsumedRecord[]): Promise<void> {
    if (!this.merger) return;
    this.metrics.consumed.inc({ topic: this.o.topics.quotes }, records.length);
    this.merger.push(records);
    await this.drain(false);
  }

  /** Releases what the watermark allows, applies it, writes outputs, commits. */
  private async drain(all: boolean): Promise<void> {
    const m = this.merger;
    if (!m || this.failed) return;
    // Ask Kafka for the end offsets while a partition may still hold data back: buffered records
    // wait on it, a replay waits for its end, and live ticks wait until the backlog is read.
    if (!all && (m.bufferedCount > 0 || this.endAtStart || this.o.ticks) && m.waitingOn().length > 0) {
      const now = Date.now();
      if (now - this.lastEndPoll >= (this.o.endOffsetPollMs ?? 200)) {
        this.lastEndPoll = now;
        // Bounded: a lookup that never answers must not hold the whole chain (and with it the
        // consumers' batches) hostage; the next drain asks again.
        const end = await withTimeout(this.o.bus.endOffsets(this.o.topics.quotes), 5000);
        if (end === 'timeout') this.log.warn({ topic: this.o.topics.quotes }, 'end offsets lookup timed out; asking again');
        else m.markCaughtUp(end);
      }
    }
    const released = m.release(all);
    // Registered before any await: from here until their outputs are acknowledged, the released
    // records hold the commits back (they left the merger's buffer, so its committable() no
    // longer does). The kill test found the first version of this missing: a SIGKILL between two
    // chunks lost the later chunks' outputs.
    const batch = this.ledger.open(released.map((r) => r.record));
    // A chunk is cut after `chunkQuotes` quotes, or earlier once they produced `chunkOutputs`
    // outputs (a window close on a big book emits a valuation per entity revalued in it): it is
    // then handed to the write pipeline, which writes it while the next chunk is stepped.
    const { chunkQuotes, chunkOutputs } = this.bounds;
    let outputs: StepOutput[] = [];
    let quotes: Quote[] = [];
    let chunkStart = 0;
    let sliceStart = performance.now();
    for (let j = 0; j < released.length; j++) {
      const { record, lateByMs } = released[j];
      const d = decodeQuote(record);
      if (!d.ok) {
        await this.deadLetter(record, d.reason, 'quotes');
      } else {
        if (lateByMs > this.o.maxLatenessMs) this.metrics.lateQuotes.inc();
        const r = step(this.state, { kind: 'quote', quote: d.value }, this.o.params);
        this.state = r.state;
        for (const out of r.outputs) outputs.push(out);
        quotes.push(d.value);
        this.eventsProcessed++;
      }
      if (j + 1 === released.length || j + 1 - chunkStart >= chunkQuotes || outputs.length >= chunkOutputs) {
        await this.submit(outputs, quotes, batch.cut(j + 1));
        outputs = [];
        quotes = [];
        chunkStart = j + 1;
        sliceStart = performance.now();
      } else if (performance.now() - sliceStart > this.yieldAfterMs()) {
        await yieldToEventLoop();
        sliceStart = performance.now();
      }
    }
    if (released.length === 0 && m.bufferedCount === 0) await this.commit();
    if (this.endAtStart && !this.stopping) await this.checkEnd();
  }

  /** Consumer lag per quote partition: end offset minus the offset this instance has processed to. */
  private async updateLag(): Promise<void> {
    const m = this.merger;
    if (!m || this.stopping) return;
    try {
      const end = await this.o.bus.endOffsets(this.o.topics.quotes);
      const done = new Map(this.ledger.cap(m.committable()).map((c) => [c.partition, BigInt(c.offset)]));
      for (const e of end) {
        const lag = BigInt(e.offset) - (done.get(e.partition) ?? 0n);
        this.metrics.lag.set({ topic: this.o.topics.quotes, partition: String(e.partition) }, Number(lag < 0n ? 0n : lag));
      }
    } catch (e) {
      // a metric only: the next round tries again
      this.log.debug({ err: e }, 'consumer lag not updated');
    }
  }

  private lastCommitted = '';
  /**
   * Commits what is written: the merger's committable offsets lowered by the ledger to the
   * smallest offset released but not yet acknowledged. Commits run one at a time and each takes
   * the offsets when it runs, so they never go backwards.
   */
  private commit(): Promise<void> {
    const run = this.commitLane.then(async () => {
      if (!this.merger) return;
      const offsets = this.ledger.cap(this.merger.committable());
      const sig = JSON.stringify(offsets);
      if (offsets.length === 0 || sig === this.lastCommitted) return;
      await this.retry('commit', () => this.o.bus.commitOffsets(this.quoteGroupId, this.o.topics.quotes, offsets));
      this.lastCommitted = sig;
    });
    this.commitLane = run.catch(() => undefined);
    return run;
  }

  private async checkEnd(): Promise<void> {
    const m = this.merger;
    if (!m || !this.endAtStart) return;
    const committable = new Map(m.committable().map((c) => [c.partition, BigInt(c.offset)]));
    for (const e of this.endAtStart) {
      if (BigInt(e.offset) === 0n) continue;
      if ((committable.get(e.partition) ?? 0n) < BigInt(e.offset)) return;
    }
    if (m.bufferedCount > 0) return;
    const f = flush(this.state, this.o.params);
    this.state = f.state;
    await this.submit(f.outputs, [], null);
    await this.pipeline.idle();
    await this.commit();
    this.endAtStart = null;
    this.log.info({ events: this.eventsProcessed, alerts: this.alertsEmitted }, 'end of input reached');
    this.doneResolve?.();
  }

  /**
   * Applies events that carry no offsets (entities, ticks) and hands their outputs to the write
   * pipeline (in `chunkOutputs` pieces), after the outputs of the quotes stepped before them.
   */
  private async apply(events: readonly StepEvent[]): Promise<void> {
    let outputs: StepOutput[] = [];
    let sliceStart = performance.now();
    for (let i = 0; i < events.length; i++) {
      const r = step(this.state, events[i], this.o.params);
      this.state = r.state;
      for (const out of r.outputs) outputs.push(out);
      if (outputs.length >= this.bounds.chunkOutputs) {
        await this.submit(outputs, [], null);
        outputs = [];
        sliceStart = performance.now();
      } else if (performance.now() - sliceStart > this.yieldAfterMs()) {
        await yieldToEventLoop();
        sliceStart = performance.now();
      }
    }
    if (outputs.length > 0) await this.submit(outputs, [], null);
  }

  /**
   * How long `step` may run before yielding to the event loop. step is synchronous and a quote can
   * revalue hundreds of entities: every ~50 ms at the least, so consumer heartbeats, ticks and HTTP
   * answers are never starved (a consumer that misses its session timeout is thrown out of its
   * group). While chunks are being written, every ~4 ms: each InfluxDB answer and each Kafka
   * acknowledgement waits for the next yield before the lane sends its next slice, so a long
   * slice of stepping would stretch every write by that much (the first version, yielding every
   * 50 ms, made the writes of the pipeline benchmark twice as long as the serial ones).
   */
  private yieldAfterMs(): number {
    return this.pipeline.inFlightCount > 0 ? 4 : 50;
  }

  /**
   * Hands a chunk's outputs to the write pipeline (waiting while `maxInFlight` chunks are being
   * written). Once they are acknowledged, in order: the segment of released records they derive
   * from is released from the ledger, the metrics and `onOutputs` see them, and offsets are
   * committed.
   */
  private async submit(outputs: readonly StepOutput[], quotes: readonly Quote[], segment: Segment | null): Promise<void> {
    await this.pipeline.submit(outputs, async () => {
      if (segment) this.ledger.ack(segment);
      for (const out of outputs) {
        if (out.kind === 'alert') {
          this.alertsEmitted++;
          this.metrics.alerts.inc({ rule: out.rule });
        }
      }
      const now = Date.now();
      for (const q of quotes) this.metrics.latencyS.observe(Math.max(0, now - q.receivedAt) / 1000);
      if (outputs.length > 0) this.o.onOutputs?.(outputs);
      if (segment) await this.commit();
    });
  }

  private toRecord(out: StepOutput): ProduceRecord | null {
    const { topics, run } = this.o;
    switch (out.kind) {
      case 'valuation':
        return { topic: topics.valuations, key: out.valuation.entity, ts: out.ts, value: { v: 1, run, eventId: out.eventId, ts: out.ts, inputs: out.inputs, ...out.valuation } };
      case 'alert': {
        const { kind: _kind, ...alert } = out;
        return { topic: topics.alerts, key: out.entity, ts: out.at, value: { v: 1, run, ...alert } };
      }
      case 'alert_state':
        return { topic: topics.alertState, key: `${run}/${out.key}`, ts: out.ts, value: { key: out.key, status: out.status, cureDeadline: out.cureDeadline, since: out.since } };
      default:
        return null;
    }
  }

  private async deadLetter(r: ConsumedRecord, reason: string, from: string): Promise<void> {
    this.metrics.deadLetters.inc({ reason: reason.split(':')[0] });
    let source = 'unknown';
    try {
      const o = JSON.parse(r.value?.toString('utf8') ?? 'null') as { source?: unknown };
      if (o && typeof o.source === 'string') source = o.source;
    } catch {
      // not JSON: the source stays unknown
    }
    this.log.warn({ topic: r.topic, partition: r.partition, offset: r.offset, reason }, 'dead letter');
    const value = { raw: r.value?.toString('utf8') ?? null, reason, source, ts: r.ts, topic: r.topic, partition: r.partition, offset: r.offset, stage: from };
    const point: Point = { measurement: 'deadletter', tags: { source, reason: reason.split(':')[0], run: this.o.run }, fields: { count: 1 }, ts: r.ts };
    // On the pipeline's lanes: one publish at a time on the producer, and written before the
    // record's offset can be committed (its segment is cut after this returns).
    await Promise.all([
      this.pipeline.onLane('publish', () => this.retry('dead letter', () => this.o.bus.publish([{ topic: this.o.topics.deadletter, key: source, value, ts: r.ts }]))),
      this.pipeline.onLane('sink', () => this.retry('sink write', () => this.o.sink.write([point]))),
    ]);
  }

  /** Retries retriable infrastructure failures with backoff; consumption waits meanwhile (bounded memory). */
  private async retry(what: string, fn: () => Promise<void>): Promise<void> {
    let delay = 200;
    for (let attempt = 1; ; attempt++) {
      try {
        await fn();
        if (attempt > 1) this.log.info({ what, attempt }, 'recovered');
        return;
      } catch (e) {
        const retriable = !isMonitorError(e) || e.retriable;
        if (!retriable || (this.stopping && attempt > 3)) throw e;
        if (what === 'sink write') this.metrics.sinkRetries.inc();
        if (attempt === 1 || attempt % 10 === 0) this.log.warn({ what, attempt, err: e }, 'retrying');
        await sleep(delay);
        delay = Math.min(delay * 2, 5000);
      }
    }
  }

  /**
   * Replay with a paced producer: once the input is all published, finish when these end offsets
   * are processed (closing every window), as `untilEnd` does for input published beforehand.
   */
  finishWhenReached(endOffsets: readonly TopicOffset[]): Promise<void> {
    return this.enqueue(async () => {
      this.endAtStart = [...endOffsets];
      await this.drain(false);
    });
  }

  /** SIGTERM: stop consuming, write what is in flight, commit, leave the groups. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.tickTimer) clearInterval(this.tickTimer);
    if (this.driveTimer) clearInterval(this.driveTimer);
    if (this.lagTimer) clearInterval(this.lagTimer);
    await this.quoteSub?.stop();
    // Before leaving the entities group: the statuses of every entity held, for whichever
    // instance takes them over (the open window's changes are otherwise only published at its close).
    await this.chain;
    await this.enqueue(() => this.publishStatuses()).catch((e: unknown) => this.log.warn({ err: e }, 'alert statuses not handed over'));
    await this.entitySub?.stop();
    await this.chain;
    // the chunks still being written: each commits once acknowledged; a failure leaves the
    // commits where they are (the processor has failed)
    await this.pipeline.idle().catch(() => undefined);
    if (!this.failed) await this.commit().catch((e: unknown) => this.log.warn({ err: e }, 'final commit failed'));
    this.doneResolve?.();
  }

  /** The current error, if the processor failed for good. */
  get error(): Error | null {
    return this.failed;
  }
}
