import type { ConsumedRecord, TopicOffset } from '../bus/bus.ts';
import type { Logger } from '../logger.ts';
import type { DomainParams } from '../domain/params.ts';
import type { Quote } from '../domain/market/quote.ts';
import type { AlertStateRecord, StepEvent, StepOutput } from '../domain/step/step-types.ts';
import { alertStates, initialState, step, stepSliced, type ProcessorState } from '../domain/step/step.ts';
import { closesWindow, flushWithCascadeSliced, stepWithCascadeSliced } from './cascade.ts';
import { entityOfAlertKey } from '../domain/alerts/alert-key.ts';
import { restoredState } from './checkpoint.ts';
import type { ContagionStage } from './contagion-stage.ts';
import { decodeQuote } from './decode.ts';
import type { EventMerger } from './event-merger.ts';
import { DEAD_LETTER_STAGE } from './output-records.ts';
import type { OutputWriter } from './output-writer.ts';
import type { ProcessorMetrics } from './processor-metrics.ts';
import type { WriteBounds } from './processor-options.ts';

/**
 * The runtime loop: the only caller of `step` and `flush` (STYLE.md 2), and the only holder of
 * the state. Every state change runs on one queue (`enqueue`), so `step` never runs concurrently.
 * A drain releases what the merger's watermark allows, steps it, cuts chunks (after `chunkQuotes`
 * quotes, or once they produced `chunkOutputs` outputs: a window close on a big book ends its
 * chunk at once; live, what a quote that raised an alert output is handed over at once,
 * committing nothing) and hands each to the OutputWriter, which writes it while the next chunk is
 * stepped. The components around it (entity ownership, checkpoint, alert-state store, output
 * records) return events and records; the loop applies them.
 */
export interface RuntimeLoopOptions {
  readonly params: DomainParams;
  /** Runs at each window close, on the market of that close; its outputs come before the close's. */
  readonly contagion?: ContagionStage | null;
  readonly bounds: Pick<WriteBounds, 'chunkQuotes' | 'chunkOutputs'>;
  readonly writer: OutputWriter;
  readonly metrics: ProcessorMetrics;
  readonly maxLatenessMs: number;
  readonly logger: Logger;
  /** The quotes topic's end offsets, or 'timeout' when the lookup did not answer in time. */
  readonly endOffsets: () => Promise<TopicOffset[] | 'timeout'>;
  readonly endOffsetPollMs: number;
  /** Live (wall-clock ticks): ticks wait until the backlog is read, so end offsets are asked for. */
  readonly live: boolean;
  readonly isStopping: () => boolean;
  readonly isFailed: () => boolean;
  /** A queued operation failed: the processor has failed. */
  readonly onFail: (e: Error) => void;
  /** The input to process (`finishAt`) is processed, every window closed, written and committed. */
  readonly onEnd: () => void;
}

/**
 * How long `step` may run before yielding to the event loop. step is synchronous and a quote can
 * revalue hundreds of entities: every ~50 ms at the least, so consumer heartbeats, ticks and HTTP
 * answers are never starved (a consumer that misses its session timeout is thrown out of its
 * group). While chunks are being written, every ~4 ms: each InfluxDB answer and each Kafka
 * acknowledgement waits for the next yield before a lane sends its next slice, so a long slice of
 * stepping would stretch every write by that much (docs/processor.md, "Yielding").
 */
export const YIELD_AFTER_MS = { idle: 50, writing: 4 } as const;

/**
 * Whether `outputs` from index `from` on hold an alert. What a quote that raised one and the quotes
 * before it output goes to the writer at once (its alert lane), not after the rest of the drain's
 * quotes are stepped (a drain after a close releases hundreds of them); it commits nothing (the
 * chunk's cut does, once everything before it is written).
 */
function raisedAlert(outputs: readonly StepOutput[], from: number): boolean {
  for (let i = from; i < outputs.length; i++) if (outputs[i].kind === 'alert') return true;
  return false;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export class RuntimeLoop {
  private state: ProcessorState;
  private chain: Promise<void> = Promise.resolve();
  private merger: EventMerger | null = null;
  private endAt: TopicOffset[] | null = null;
  private drainQueued = false;
  private lastEndPoll = 0;
  private events = 0;
  /** When the stepping last let the event loop run (yieldIfDue). */
  private sliceStart = 0;

  constructor(private readonly o: RuntimeLoopOptions) {
    this.state = initialState(o.params);
  }

  /** Queues a state change after every one queued before; a failure fails the processor. */
  enqueue(fn: () => Promise<void> | void): Promise<void> {
    const next = this.chain.then(fn);
    this.chain = next.catch((e: unknown) => this.o.onFail(e as Error));
    return next;
  }

  /** Resolves once everything queued so far has run. */
  settled(): Promise<void> {
    return this.chain;
  }

  /** The merger quotes are released from (set once the checkpoint is located). */
  attach(merger: EventMerger): void {
    this.merger = merger;
  }

  get eventsProcessed(): number {
    return this.events;
  }

  /** The processor clock (null before the first quote or tick). */
  get clockMs(): number | null {
    return this.state.clockMs;
  }

  /** The alert statuses held, of these entities only when given. */
  statuses(entities?: ReadonlySet<string>): AlertStateRecord[] {
    const all = alertStates(this.state);
    return entities === undefined ? all : all.filter((a) => entities.has(entityOfAlertKey(a.key) ?? ''));
  }

  /** A batch of quote records: buffered in the merger, then drained. */
  push(records: readonly ConsumedRecord[]): Promise<void> {
    return this.enqueue(async () => {
      if (!this.merger) return;
      this.merger.push(records);
      await this.drain();
    });
  }

  /** Queues a drain unless one is queued already (a timer calls it: a slow write must not pile them up). */
  drive(): void {
    if (this.o.isStopping() || this.drainQueued) return;
    this.drainQueued = true;
    void this.enqueue(() => {
      this.drainQueued = false;
      return this.drain();
    });
  }

  /**
   * A wall-clock tick, read when its turn in the queue comes. It moves the processor clock only once the quotes waiting in Kafka are
   * read: during a backlog the data's own time leads, so a quote is never made late (or an index
   * stale) by a tick that ran ahead of quotes not yet read.
   */
  tick(now: () => number): void {
    if (this.o.isStopping()) return;
    void this.enqueue(async () => {
      const m = this.merger;
      if (m && (m.bufferedCount > 0 || m.waitingOn().length > 0)) return;
      await this.apply([{ kind: 'tick', ts: now() }]);
    });
  }

  /** Finish once these quote offsets are processed, closing every window (a replay's end). */
  finishAt(endOffsets: readonly TopicOffset[]): void {
    this.endAt = [...endOffsets];
  }

  /** `finishAt`, then a drain: the input may be processed already. */
  finishWhenReached(endOffsets: readonly TopicOffset[]): Promise<void> {
    return this.enqueue(async () => {
      this.finishAt(endOffsets);
      await this.drain();
    });
  }

  /**
   * Applies events that carry no offsets (entities, ticks) and hands their outputs to the writer
   * in `chunkOutputs` pieces, after the outputs of the quotes stepped before them. Call it from
   * a queued operation.
   */
  async apply(events: readonly StepEvent[]): Promise<void> {
    const outputs: StepOutput[] = [];
    this.sliceStart = performance.now();
    for (const event of events) {
      await this.stepInto(event, outputs, (slice) => this.o.writer.submit(slice, [], null));
      if (outputs.length >= this.o.bounds.chunkOutputs) {
        await this.o.writer.submit(outputs.splice(0), [], null);
        this.sliceStart = performance.now();
      } else await this.yieldIfDue();
    }
    if (outputs.length > 0) await this.o.writer.submit(outputs, [], null);
  }

  /** Folds events whose outputs were written before (the look-back window of a restart): outputs discarded. */
  async rebuild(events: readonly StepEvent[]): Promise<void> {
    let sliceStart = performance.now();
    const discarded: StepOutput[] = [];
    for (const event of events) {
      if (!closesWindow(this.state, event, this.o.params)) this.state = step(this.state, event, this.o.params).state;
      else {
        // a close of the whole book a slice at a time, each slice dropped
        const g = stepSliced(this.state, event, this.o.params, discarded, this.o.bounds.chunkOutputs);
        let r = g.next();
        for (; r.done !== true; r = g.next()) discarded.length = 0;
        this.state = r.value;
        discarded.length = 0;
      }
      if (performance.now() - sliceStart > YIELD_AFTER_MS.idle) {
        await yieldToEventLoop();
        sliceStart = performance.now();
      }
    }
  }

  /** Completes the state with persisted statuses (checkpoint.ts `restoredState`); returns how many it took. */
  restore(persisted: readonly AlertStateRecord[]): number {
    const r = restoredState(this.state, persisted);
    this.state = r.state;
    return r.restored;
  }

  /** Releases what the watermark allows, steps it, writes it, commits. */
  private async drain(): Promise<void> {
    const m = this.merger;
    if (!m || this.o.isFailed()) return;
    // Ask for the end offsets while a partition may still hold data back: buffered records wait
    // on it, a replay waits for its end, and live ticks wait until the backlog is read.
    if ((m.bufferedCount > 0 || this.endAt || this.o.live) && m.waitingOn().length > 0) {
      const now = Date.now();
      if (now - this.lastEndPoll >= this.o.endOffsetPollMs) {
        this.lastEndPoll = now;
        const end = await this.o.endOffsets();
        if (end !== 'timeout') m.markCaughtUp(end);
      }
    }
    const released = m.release();
    // Registered before any await: from here until their outputs are acknowledged, the released
    // records hold the commits back (they left the merger's buffer, so its committable() no
    // longer does).
    const batch = this.o.writer.ledger.open(released.map((r) => r.record));
    const { chunkQuotes, chunkOutputs } = this.o.bounds;
    const outputs: StepOutput[] = [];
    let quotes: Quote[] = [];
    let chunkStart = 0;
    this.sliceStart = performance.now();
    for (let j = 0; j < released.length; j++) {
      const { record, lateByMs } = released[j];
      let alerted = false;
      const d = decodeQuote(record);
      if (!d.ok) {
        await this.o.writer.deadLetter(record, d.reason, DEAD_LETTER_STAGE.quotes);
      } else {
        if (lateByMs > this.o.maxLatenessMs) this.o.metrics.lateQuotes.inc();
        const before = outputs.length;
        // a close's slices commit nothing: the quote's segment is cut once all of it is stepped
        await this.stepInto({ kind: 'quote', quote: d.value }, outputs, (slice) => this.o.writer.submit(slice, [], null));
        quotes.push(d.value);
        this.events++;
        alerted = this.o.live && raisedAlert(outputs, Math.min(before, outputs.length));
      }
      if (j + 1 === released.length || j + 1 - chunkStart >= chunkQuotes || outputs.length >= chunkOutputs) {
        await this.o.writer.submit(outputs.splice(0), quotes, batch.cut(j + 1));
        quotes = [];
        chunkStart = j + 1;
        this.sliceStart = performance.now();
      } else if (alerted) {
        // live, the alert goes to the writer now; its quotes' offsets are committed with the chunk's
        // cut, as before. A replay keeps its chunks whole: its throughput is what counts there (a
        // hand-over per alerting quote measured 5% slower on the 1,000,000-event replay)
        await this.o.writer.submit(outputs.splice(0), quotes, null);
        quotes = [];
        this.sliceStart = performance.now();
      } else await this.yieldIfDue();
    }
    if (released.length === 0 && m.bufferedCount === 0) await this.o.writer.commit();
    if (this.endAt && !this.o.isStopping()) await this.checkEnd(m);
  }

  /** At the end offsets to finish at: closes every window, waits for every write, commits, reports the end. */
  private async checkEnd(m: EventMerger): Promise<void> {
    if (!this.endAt) return;
    const committable = new Map(m.committable().map((c) => [c.partition, BigInt(c.offset)]));
    for (const e of this.endAt) {
      if (BigInt(e.offset) === 0n) continue;
      if ((committable.get(e.partition) ?? 0n) < BigInt(e.offset)) return;
    }
    if (m.bufferedCount > 0) return;
    const outputs: StepOutput[] = [];
    const g = flushWithCascadeSliced(this.state, this.o.params, this.o.contagion ?? null, outputs, this.o.bounds.chunkOutputs);
    this.state = await this.runSliced(g, outputs, (slice) => this.o.writer.submit(slice, [], null));
    await this.o.writer.submit(outputs, [], null);
    await this.o.writer.idle();
    await this.o.writer.commit();
    this.endAt = null;
    this.o.logger.info({ events: this.events, alerts: this.o.writer.alertsWritten }, 'end of input reached');
    this.o.onEnd();
  }

  /**
   * One event through `step` and, when it closes a window, the contagion stage first; the outputs join
   * `outputs`. An event that closes a window is stepped a slice at a time (stepWithCascadeSliced):
   * every `chunkOutputs` outputs, `outputs` so far goes to `onSlice` while the close goes on, so
   * a close of the whole book is never held as one array and the writes start while it is stepped.
   */
  private async stepInto(event: StepEvent, outputs: StepOutput[], onSlice: (slice: StepOutput[]) => Promise<void>): Promise<void> {
    const { params, contagion } = this.o;
    if (!closesWindow(this.state, event, params)) {
      const r = step(this.state, event, params);
      this.state = r.state;
      for (const out of r.outputs) outputs.push(out);
      return;
    }
    this.state = await this.runSliced(stepWithCascadeSliced(this.state, event, params, contagion ?? null, outputs, this.o.bounds.chunkOutputs), outputs, onSlice);
  }

  /** Runs a sliced step to its end: each time it yields, `outputs` is handed to `onSlice` (and emptied). */
  private async runSliced(g: Generator<void, ProcessorState, void>, outputs: StepOutput[], onSlice: (slice: StepOutput[]) => Promise<void>): Promise<ProcessorState> {
    for (let r = g.next(); ; r = g.next()) {
      if (r.done === true) return r.value;
      await onSlice(outputs.splice(0));
      await this.yieldIfDue();
    }
  }

  /** Yields to the event loop once the stepping has held it `yieldAfterMs`. */
  private async yieldIfDue(): Promise<void> {
    if (performance.now() - this.sliceStart > this.yieldAfterMs()) {
      await yieldToEventLoop();
      this.sliceStart = performance.now();
    }
  }

  private yieldAfterMs(): number {
    return this.o.writer.inFlightCount > 0 ? YIELD_AFTER_MS.writing : YIELD_AFTER_MS.idle;
  }
}
