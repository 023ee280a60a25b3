import type { ConsumedRecord, Subscription, TopicOffset } from '../bus/bus.ts';
import type { Logger } from '../logger.ts';
import { AlertStateStore } from './alert-state-store.ts';
import { locateCheckpoint } from './checkpoint.ts';
import { EntityOwnership } from './entity-ownership.ts';
import { EntityDecoder } from './decode.ts';
import { EventMerger } from './event-merger.ts';
import { DEAD_LETTER_STAGE, OutputRecords } from './output-records.ts';
import { OutputWriter, WRITE_WHAT } from './output-writer.ts';
import { ProcessorMetrics } from './processor-metrics.ts';
import { DRIVE_INTERVAL_MS, END_OFFSET_POLL_MS, LAG_INTERVAL_MS, WRITE_DEFAULTS, type ProcessorOptions } from './processor-options.ts';
import { RetryPolicy } from './retry-policy.ts';
import { RuntimeLoop } from './runtime-loop.ts';
import { ContagionStage } from './contagion-stage.ts';
import { joining, takeOver, type TakeoverOptions } from './takeover.ts';
import { quoteEndOffsets, updateLag } from './lag.ts';

/** Pause before the book reader is started again after it stopped. */
const BOOK_READER_RETRY_MS = 5_000;

export { WRITE_DEFAULTS, type ProcessorBus, type ProcessorOptions, type ProcessorTopics, type WriteBounds } from './processor-options.ts';

/**
 * The stream processor (ARCHITECTURE.md "Processor runtime rules"; how the pieces fit:
 * docs/processor.md). This class is the lifecycle: it subscribes the entities group and reads its
 * partitions to their end, locates the checkpoint, subscribes the quotes, runs the timers (drive,
 * ticks, lag) and stops. What it receives it hands to the components: EntityOwnership turns
 * assignments and entity records into events, the checkpoint and the AlertStateStore give the
 * look-back events and persisted statuses, and the RuntimeLoop applies all of them (the only
 * caller of `step`) and hands outputs to the OutputWriter (points, records, commits).
 */
export class Processor {
  readonly metrics: ProcessorMetrics;
  /** Resolves at the end of the input (`untilEnd`, `finishWhenReached`), on a failure, and after `stop`. */
  readonly done: Promise<void>;
  private readonly log: Logger;
  private readonly loop: RuntimeLoop;
  private readonly writer: OutputWriter;
  private readonly ownership: EntityOwnership;
  private readonly alertStore: AlertStateStore;
  /** The book-level fire-sale cascade at each window close (null: `contagion: false`). */
  private readonly contagion: ContagionStage | null;
  private entitySub: Subscription | null = null;
  private bookSub: Subscription | null = null;
  private quoteSub: Subscription | null = null;
  private merger: EventMerger | null = null;
  private readonly takeover: TakeoverOptions;
  private readonly timers: NodeJS.Timeout[] = [];
  private entitiesReady: (() => void) | null = null;
  private doneResolve: (() => void) | null = null;
  private ready = false;
  private stopping = false;
  private failed: Error | null = null;

  constructor(private readonly o: ProcessorOptions) {
    this.log = o.logger.child({ component: 'processor', run: o.run });
    this.metrics = o.metrics ?? new ProcessorMetrics();
    this.done = new Promise<void>((r) => (this.doneResolve = r));
    const bounds = { ...WRITE_DEFAULTS, ...o.write };
    const retry = new RetryPolicy({
      logger: this.log,
      isStopping: () => this.stopping,
      onRetry: (what) => {
        if (what === WRITE_WHAT.sink) this.metrics.sinkRetries.inc();
      },
    });
    this.alertStore = new AlertStateStore({
      reader: o.bus,
      topic: o.topics.alertState,
      run: o.run,
      onInvalid: (r, reason) => this.writer.deadLetter(r, reason, DEAD_LETTER_STAGE.alertState),
    });
    this.writer = new OutputWriter({
      sink: o.sink,
      publisher: o.bus,
      publishOutputs: o.publishOutputs !== false,
      committer: o.bus,
      quoteGroupId: this.quoteGroupId,
      quotesTopic: o.topics.quotes,
      run: o.run,
      records: new OutputRecords(o.topics, o.run),
      bounds,
      retry,
      metrics: this.metrics,
      onOutputs: o.onOutputs,
      onError: (e) => this.fail(e),
    });
    // With the cascade on, the ownership and the stage both read the entities: one decoder, so an
    // owned entity's sheets (and their valuation plans) are held once, not once per reader.
    const decoder = o.contagion === false ? null : new EntityDecoder();
    this.ownership = decoder === null ? new EntityOwnership() : new EntityOwnership((r) => decoder.decode(r));
    this.contagion =
      decoder === null
        ? null
        : new ContagionStage({ params: o.params, owns: (e) => this.ownership.owns(e), writesBook: () => this.ownership.partitions.includes(0), decode: (r) => decoder.decode(r) });
    this.takeover = {
      bus: o.bus,
      quotesTopic: o.topics.quotes,
      quoteGroupPrefix: `${o.groupId}.quotes.`,
      ownQuoteGroup: this.quoteGroupId,
      lookbackMs: o.lookbackMs,
      params: o.params,
      alertStore: this.alertStore,
      contagion: this.contagion,
      logger: this.log,
    };
    this.loop = new RuntimeLoop({
      params: o.params,
      contagion: this.contagion,
      bounds,
      writer: this.writer,
      metrics: this.metrics,
      maxLatenessMs: o.maxLatenessMs,
      logger: this.log,
      endOffsets: () => quoteEndOffsets(o.bus, o.topics.quotes, this.log),
      endOffsetPollMs: o.endOffsetPollMs ?? END_OFFSET_POLL_MS,
      live: o.ticks !== undefined,
      isStopping: () => this.stopping,
      isFailed: () => this.failed !== null,
      onFail: (e) => this.fail(e),
      onEnd: () => this.doneResolve?.(),
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
    return { events: this.loop.eventsProcessed, alerts: this.writer.alertsWritten };
  }
  /** The write path's load: chunks and points in flight, the peak of points, whether the stepping waits for room. */
  writeLoad(): ReturnType<OutputWriter['load']> {
    return this.writer.load();
  }
  /** The current error, if the processor failed for good. */
  get error(): Error | null {
    return this.failed;
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
      onAssignment: (assigned) => void this.loop.enqueue(() => this.onEntityAssignment(assigned.get(topics.entities) ?? [])),
      onBatch: (records) => this.loop.enqueue(() => this.onEntityRecords(records)),
      onCrash: (err) => this.fail(err),
    });
    await Promise.race([entitiesRead, this.done]);
    if (this.failed) throw this.failed;
    this.log.info({ entities: this.ownership.entityCount, partitions: this.ownership.partitions }, 'entities read to their end');

    // The whole book for the contagion stage: read to its end now, then kept current by a reading
    // of its own (every instance reads every entity; offsets already applied are skipped).
    if (this.contagion) {
      const stage = this.contagion;
      for (const r of await bus.readToEnd(topics.entities)) stage.applyRecord(r, { initial: true });
      await this.readBook(stage);
    }

    // 2. Checkpoint: rebuild from the look-back window, then restore the persisted alert states
    // (they belong to the checkpoint: only a restart restores them).
    const partitions = await bus.partitionCount(topics.quotes);
    const merger = new EventMerger(Array.from({ length: partitions }, (_, i) => i));
    const plan = await locateCheckpoint({
      bus,
      topic: topics.quotes,
      groupId: this.quoteGroupId,
      lookbackMs: this.o.lookbackMs,
      startFrom: this.o.startFrom,
      startAt: this.o.startAt,
      now: this.o.ticks?.now,
      logger: this.log,
    });
    for (const r of plan.resume) merger.seed(r.partition, r.offset);
    if (plan.restart) {
      await this.loop.enqueue(() => this.loop.rebuild(plan.lookback));
      if (this.o.publishOutputs !== false) {
        const persisted = await this.alertStore.persistedAt(plan.checkpointTs, this.o.params.emitIntervalMs, (e) => this.ownership.owns(e));
        // every entity's contagion status: the cascade is the book's, and every instance keeps it
        if (this.contagion) this.contagion.restore(await this.alertStore.persistedAt(plan.checkpointTs, this.o.params.emitIntervalMs, () => true));
        await this.loop.enqueue(() => {
          const restored = this.loop.restore(persisted);
          if (restored > 0) this.log.info({ alertStates: restored }, 'alert states restored');
        });
      }
    }
    this.merger = merger;
    this.loop.attach(merger);
    this.writer.attach(merger);
    if (this.o.untilEnd) this.loop.finishAt(await bus.endOffsets(topics.quotes));

    // 3. Quotes.
    this.quoteSub = await bus.subscribe({
      groupId: this.quoteGroupId,
      topics: [topics.quotes],
      fromBeginning: true,
      sessionTimeoutMs: this.o.sessionTimeoutMs,
      onBatch: (records) => this.onQuoteRecords(records),
      onCrash: (err) => this.fail(err),
    });
    this.timers.push(setInterval(() => this.loop.drive(), DRIVE_INTERVAL_MS));
    const lag = () => void updateLag({ bus, topic: topics.quotes, metrics: this.metrics, processed: () => this.writer.processedOffsets(), isStopping: () => this.stopping, logger: this.log });
    this.timers.push(setInterval(lag, LAG_INTERVAL_MS));
    lag();
    const ticks = this.o.ticks;
    if (ticks) this.timers.push(setInterval(() => this.loop.tick(ticks.now), ticks.intervalMs));
    this.ready = true;
    this.log.info({ quotesTopic: topics.quotes, partitions, group: this.quoteGroupId }, 'consuming quotes');
  }

  private onQuoteRecords(records: readonly ConsumedRecord[]): Promise<void> {
    // a batch fetched before the stop paused the consumer: not stepped, so not committed; the next start reads it
    if (this.stopping) return Promise.resolve();
    this.metrics.consumed.inc({ topic: this.o.topics.quotes }, records.length);
    return this.loop.push(records);
  }

  private async onEntityAssignment(owned: readonly number[]): Promise<void> {
    const a = this.ownership.assign(owned);
    // The released entities' statuses go to their next owner before the entities are let go.
    if (a.releasedIds.size > 0) await this.handOver(a.releasedIds);
    if (a.released.length > 0) await this.loop.apply(a.released);
    if (this.ready && a.added.length > 0 && this.o.publishOutputs !== false) await this.adopt(a.added);
    this.metrics.entitiesOwned.set(this.ownership.entityCount);
    this.log.info({ partitions: this.ownership.partitions, entities: this.ownership.entityCount }, 'entity partitions assigned');
    this.ownership.readTo(await this.o.bus.endOffsets(this.o.topics.entities));
    this.checkEntitiesReady();
  }

  /**
   * Entity partitions taken over while running: their entities join the state here, at this
   * position, with the statuses they held (`alert-state`), or, where another instance's commits are
   * behind this position (its owner died with work unwritten), the statuses and outputs of a replay
   * of that stretch (takeover.ts). The subscription's copies of these records are then skipped.
   */
  private async adopt(partitions: readonly number[]): Promise<void> {
    const { bus, topics } = this.o;
    this.ownership.takeOver(await this.alertStore.latestByEntity());
    const { events, rejected } = this.ownership.accept(await bus.readToEnd(topics.entities, { partitions }));
    for (const r of rejected) await this.writer.deadLetter(r.record, r.reason, DEAD_LETTER_STAGE.entities);
    const caught = this.merger ? await takeOver(this.takeover, events, { position: this.merger.position(), clockMs: this.loop.clockMs, writesBook: partitions.includes(0) }) : null;
    if (caught) await this.writer.submit(caught.outputs, [], null);
    await this.loop.apply(caught ? joining(events, caught) : events);
    this.log.info({ entities: new Set(events.map((e) => (e.kind === 'entity' ? e.id : ''))).size, replayed: caught !== null }, 'entities taken over');
  }

  private async onEntityRecords(records: readonly ConsumedRecord[]): Promise<void> {
    const { events, rejected } = this.ownership.accept(records);
    for (const r of rejected) await this.writer.deadLetter(r.record, r.reason, DEAD_LETTER_STAGE.entities);
    if (events.length > 0) await this.loop.apply(events);
    this.metrics.entitiesOwned.set(this.ownership.entityCount);
    this.checkEntitiesReady();
  }

  private checkEntitiesReady(): void {
    if (!this.entitiesReady || !this.ownership.isReadToEnd()) return;
    const r = this.entitiesReady;
    this.entitiesReady = null;
    r();
  }

  /**
   * Publishes the current alert statuses of these entities (all held when omitted) for whichever
   * instance takes them over, after every chunk in flight (a compacted topic keeps the last record
   * per key: these must land after the window-close records on their way). Stamped with the
   * processor clock: every output up to it is acknowledged and committed by then, so a restart of
   * this group may take them as of its checkpoint (AlertStateStore.persistedAt).
   */
  private async handOver(ids?: ReadonlySet<string>): Promise<void> {
    if (this.o.publishOutputs === false || this.failed) return;
    const records = this.alertStore.handoverRecords(this.loop.statuses(ids), this.loop.clockMs ?? 0);
    if (records.length === 0) return;
    await this.writer.publishAfterInFlight(records);
    this.log.info({ alertStates: records.length }, 'alert statuses handed over');
  }

  /**
   * Replay with a paced producer: once the input is all published, finish when these end offsets
   * are processed (closing every window), as `untilEnd` does for input published beforehand.
   */
  finishWhenReached(endOffsets: readonly TopicOffset[]): Promise<void> {
    return this.loop.finishWhenReached(endOffsets);
  }

  /**
   * The contagion stage's own reading of the entities topic. It only keeps the book table current,
   * so a consumer that gives up (kafkajs ends one after minutes without a broker) is started again
   * after a pause instead of failing the processor; records already applied are skipped.
   */
  private async readBook(stage: ContagionStage): Promise<void> {
    this.bookSub = await this.o.bus.subscribe({
      groupId: `${this.o.groupId}.book.${this.o.instanceId}`,
      topics: [this.o.topics.entities],
      fromBeginning: true,
      sessionTimeoutMs: this.o.sessionTimeoutMs,
      onBatch: (records) => this.loop.enqueue(() => records.forEach((r) => stage.applyRecord(r))),
      onCrash: (err) => {
        this.log.warn({ err }, 'the book reader stopped; starting it again in 5 s');
        const retry = (): void => {
          if (this.stopping || this.failed) return;
          this.readBook(stage).catch((e: unknown) => {
            this.log.warn({ err: e }, 'the book reader could not start; trying again in 5 s');
            this.timers.push(setTimeout(retry, BOOK_READER_RETRY_MS));
          });
        };
        this.timers.push(setTimeout(retry, BOOK_READER_RETRY_MS));
      },
    });
  }

  /**
   * SIGTERM: stop fetching quotes, hand the statuses over, write what is in flight, commit, leave
   * the groups. The quote consumer stays a member (paused) until the last commit: a commit for a
   * group this bus has left goes through a lone member, which Kafka refuses while the group still
   * shows the member that is leaving (seen in CI: the processor failed at its stop, exit 1).
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const t of this.timers) clearInterval(t); // (clearInterval clears timeouts too)
    this.quoteSub?.pause();
    // Before leaving the entities group: the statuses of every entity held, for whichever
    // instance takes them over (the open window's changes are otherwise only published at its close).
    await this.loop.settled();
    await this.loop.enqueue(() => this.handOver()).catch((e: unknown) => this.log.warn({ err: e }, 'alert statuses not handed over'));
    await this.loop.settled();
    // the chunks still being written: each commits once acknowledged; a failure leaves the
    // commits where they are (the processor has failed)
    await this.writer.idle().catch(() => undefined);
    if (!this.failed) await this.writer.commit().catch((e: unknown) => this.log.warn({ err: e }, 'final commit failed'));
    await this.quoteSub?.stop();
    await this.entitySub?.stop();
    await this.bookSub?.stop();
    this.doneResolve?.();
  }
}
