import type { ProduceRecord } from '../bus/bus.ts';
import type { StepOutput } from '../domain/step/step-types.ts';
import type { Point } from '../sink/sink.ts';

/**
 * Writes the processor's outputs while the next events are stepped (docs/processor.md "The write
 * pipeline"). A chunk of outputs goes through its lanes at once:
 *
 * - the sink lane: points, converted and written a slice at a time (`slicePoints`);
 * - the publish lane: output records, built and published a slice at a time (`sliceRecords`);
 * - the alert lanes (sink and publish): the same for the outputs `alertLane` picks (alerts, index
 *   changes), so that they are never queued behind the hundred thousand points a window close
 *   writes on the other lanes.
 *
 * Each lane runs one write at a time, in submission order. An output always takes the same lane,
 * so the records of one topic (the compacted `alert-state` on the publish lane, `alerts` on the
 * alert lane) reach Kafka in the order `step` emitted them, and a point rewritten by a later chunk
 * is written after the earlier one. A chunk is acknowledged once all its lanes have written all of
 * it and every earlier chunk is acknowledged; `onAcked` callbacks run in submission order (the
 * processor commits there), so an alert written early commits nothing early.
 *
 * The back-pressure is on points, not chunks: `submit` waits while the points submitted and not
 * yet written would pass `maxPointsInFlight` (a chunk is weighed when it starts, by `weigh`; its
 * points leave the count as each slice is written), or while `maxInFlight` chunks are
 * unacknowledged. A window close
 * is one chunk of thousands of points; the few points of the quotes stepped after it fit beside
 * it, so they are submitted and their alerts written while the close's points are (a bound on
 * chunks held the stepping, and so the consumer, until the close was acknowledged). A chunk
 * heavier than the bound alone starts once nothing else is unwritten. Waiting in `submit` is what
 * stops the stepping, and so the consumer's fetching: the bound on what the process holds.
 *
 * The first failure (a write that gave up, a failing `onAcked`) fails the pipeline for good: the
 * failed chunk and every later one are never acknowledged, `submit` and `idle` throw it.
 */
export interface WritePipelineOptions {
  /** Chunks submitted and not yet acknowledged, at most (1 = no overlap between chunks' writes). */
  readonly maxInFlight: number;
  /**
   * Points submitted and not yet written, at most, as `weigh` counts them: the back-pressure. A
   * chunk heavier than this starts alone, once every point before it is written.
   */
  readonly maxPointsInFlight: number;
  /**
   * An upper bound on the points an output makes, without making them (making them twice would
   * double the conversion's CPU; making them at submit would hold a whole close's points at once).
   * Default 1; an output without points counts one all the same, so the outputs held are bounded too.
   */
  readonly weigh?: (out: StepOutput) => number;
  /** Points per sink write: the points of a chunk are made and written this many at a time. */
  readonly slicePoints: number;
  /** Records per publish: the records of a chunk are made and published this many at a time. */
  readonly sliceRecords: number;
  readonly toPoints: (out: StepOutput) => readonly Point[];
  /** Writes one slice of points; retries are the caller's (resolve once durable, or throw for good). */
  readonly writePoints: (points: readonly Point[]) => Promise<void>;
  /** The output record of an output, or null when it has none (points only). */
  readonly toRecord: (out: StepOutput) => ProduceRecord | null;
  /** Publishes one slice of records; null: outputs are not published. */
  readonly publish: ((records: readonly ProduceRecord[]) => Promise<void>) | null;
  /** The outputs that go on the alert lanes (default: none, every output on the bulk lanes). */
  readonly alertLane?: (out: StepOutput) => boolean;
  /** Called once, with the first failure. */
  readonly onError?: (e: Error) => void;
}

const BULK = { sink: 'sink', publish: 'publish' } as const;
const ALERT = { sink: 'alertSink', publish: 'alertPublish' } as const;

interface InFlight {
  /** Settles (never rejects) once the chunk is acknowledged or has failed, after leaving `inFlight`. */
  readonly settled: Promise<void>;
  /** Its points (and point-less outputs) not yet written: counted in `pointsInFlight`. */
  unwritten: number;
}

/** A promise and its resolve (Node 20 has no Promise.withResolvers). */
function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** A chunk's outputs on one lane. */
interface Part {
  readonly outs: readonly StepOutput[];
  readonly entry: InFlight;
}

/** Parts written by one lane operation. */
interface Batch {
  readonly parts: Part[];
  readonly written: Promise<void>;
}

const asError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));

/** `sink` and `publish` carry the bulk of a chunk (and dead letters); the alert lanes the outputs `alertLane` picks. */
export type Lane = 'sink' | 'publish' | 'alertSink' | 'alertPublish';

export class WritePipeline {
  private readonly lanes: Record<Lane, Promise<void>> = { sink: Promise.resolve(), publish: Promise.resolve(), alertSink: Promise.resolve(), alertPublish: Promise.resolve() };
  private acked: Promise<void> = Promise.resolve();
  private submitting: Promise<void> = Promise.resolve();
  private readonly inFlight: InFlight[] = [];
  private error: Error | null = null;
  private submitted = 0;
  private acknowledged = 0;
  private points = 0;
  private peakPoints = 0;
  /** Per lane, the batch queued and not yet started, which the next chunk's part joins. */
  private readonly joinable: Partial<Record<Lane, Batch>> = {};
  /** Submits waiting for room (the back-pressure holding the stepping). */
  private waiting = 0;
  /** Wall time (ms) the submits spent waiting for room, in all. */
  private waitedMs = 0;
  /** Resolved (and replaced) whenever points are written or a chunk leaves: what a waiting submit awaits. */
  private room = signal();

  constructor(private readonly o: WritePipelineOptions) {
    if (!(o.maxInFlight >= 1) || !(o.maxPointsInFlight >= 1) || !(o.slicePoints >= 1) || !(o.sliceRecords >= 1)) {
      throw new RangeError('maxInFlight, maxPointsInFlight, slicePoints and sliceRecords must be at least 1');
    }
  }

  /** Chunks submitted and not yet acknowledged. */
  get inFlightCount(): number {
    return this.inFlight.length;
  }

  /** Points submitted and not yet written (an output without points counts one). */
  get pointsInFlight(): number {
    return this.points;
  }

  get failure(): Error | null {
    return this.error;
  }

  /** Whether a submit is waiting for room: the bounds hold the stepping back. */
  get backPressured(): boolean {
    return this.waiting > 0;
  }

  /** `peakPointsInFlight`: the most points ever in flight at once; `backPressuredMs`: the time submits waited for room. */
  stats(): { submitted: number; acknowledged: number; peakPointsInFlight: number; backPressuredMs: number } {
    return { submitted: this.submitted, acknowledged: this.acknowledged, peakPointsInFlight: this.peakPoints, backPressuredMs: Math.round(this.waitedMs) };
  }

  /**
   * Starts writing a chunk once its points fit under `maxPointsInFlight` and fewer than
   * `maxInFlight` chunks are in flight; resolves when it is started (not written). `onAcked` runs
   * once it and every earlier chunk are written.
   */
  submit(outputs: readonly StepOutput[], onAcked: () => Promise<void> | void): Promise<void> {
    // chunks start in the order they were submitted, whichever bound each waits on
    const turn = this.submitting.then(() => this.start(outputs, onAcked));
    this.submitting = turn.catch(() => undefined);
    return turn;
  }

  private async start(outputs: readonly StepOutput[], onAcked: () => Promise<void> | void): Promise<void> {
    const { bulk, alerts } = this.split(outputs);
    const weight = Math.max(1, this.weigh(outputs));
    const waitFrom = performance.now();
    while (this.error === null && this.mustWait(weight)) {
      this.waiting++;
      await this.room.promise;
      this.waiting--;
    }
    this.waitedMs += performance.now() - waitFrom;
    if (this.error) throw this.error;
    this.submitted++;
    const entry: InFlight = { settled: Promise.resolve(), unwritten: weight };
    this.points += weight;
    if (this.points > this.peakPoints) this.peakPoints = this.points;
    const written: Array<Promise<void>> = [];
    for (const [lanes, outs] of [[BULK, bulk], [ALERT, alerts]] as const) {
      if (outs.length === 0) continue;
      written.push(this.onLaneJoined(lanes.sink, { outs, entry }, (parts) => this.writeSlices(parts)));
      if (this.o.publish) written.push(this.onLaneJoined(lanes.publish, { outs, entry }, (parts) => this.publishSlices(parts)));
    }
    const previous = this.acked;
    const done = Promise.all([previous, ...written]).then(async () => {
      if (this.error) throw this.error;
      await onAcked();
      this.acknowledged++;
    });
    this.acked = done;
    (entry as { settled: Promise<void> }).settled = done.then(
      () => this.leave(entry),
      (e: unknown) => {
        this.leave(entry);
        this.setError(asError(e));
      },
    );
    this.inFlight.push(entry);
  }

  /**
   * Writes a chunk's part on a lane, joined with the parts of the chunks submitted after it while
   * the lane was busy: the lane then makes one write of all of them (a slice at a time) instead of
   * one per chunk, so a lane that falls behind (InfluxDB slow under a close) catches up in fewer,
   * bigger writes, and an alert waits for one write ahead of it, not for one per chunk. The order
   * of the outputs on the lane is the order they were submitted in either way.
   */
  private onLaneJoined(lane: Lane, part: Part, write: (parts: readonly Part[]) => Promise<void>): Promise<void> {
    const open = this.joinable[lane];
    if (open) {
      open.parts.push(part);
      return open.written;
    }
    const parts: Part[] = [part];
    const batch: Batch = {
      parts,
      written: this.onLane(lane, () => {
        // started: later parts make a batch of their own
        if (this.joinable[lane] === batch) this.joinable[lane] = undefined;
        return write(parts);
      }),
    };
    this.joinable[lane] = batch;
    return batch.written;
  }

  /** Whether a chunk of this weight must wait: a bound is reached (a chunk always starts when nothing is in flight). */
  private mustWait(weight: number): boolean {
    if (this.inFlight.length === 0) return false;
    return this.inFlight.length >= this.o.maxInFlight || (this.points > 0 && this.points + weight > this.o.maxPointsInFlight);
  }

  /** The points a chunk will write, at most. */
  private weigh(outputs: readonly StepOutput[]): number {
    let n = 0;
    for (const out of outputs) n += this.weightOf(out);
    return n;
  }

  private weightOf(out: StepOutput): number {
    return Math.max(1, this.o.weigh?.(out) ?? 1);
  }

  /** `n` of the chunk's points are written (or, at its end, whatever it still counted). */
  private release(entry: InFlight, n: number): void {
    const k = Math.min(n, entry.unwritten);
    if (k <= 0) return;
    entry.unwritten -= k;
    this.points -= k;
    this.wake();
  }

  private wake(): void {
    const r = this.room;
    this.room = signal();
    r.resolve();
  }

  /**
   * Runs `fn` on a lane after what is queued there (a dead letter published between two chunks
   * keeps the one-publish-at-a-time order of the producer). Throws if the lane has failed.
   */
  onLane(lane: Lane, fn: () => Promise<void>): Promise<void> {
    // what is submitted after this write must be written after it: no joining a batch queued before
    this.joinable[lane] = undefined;
    const p = this.lanes[lane].then(() => {
      if (this.error) throw this.error;
      return fn();
    });
    // the lane's next write waits for this one; a failure stops the lane (later writes throw it)
    const next = p.catch((e: unknown) => {
      this.setError(asError(e));
      throw asError(e);
    });
    next.catch(() => undefined);
    this.lanes[lane] = next;
    return p;
  }

  /** A chunk's outputs by lane, in their order (no copy when every output takes the bulk lanes). */
  private split(outputs: readonly StepOutput[]): { bulk: readonly StepOutput[]; alerts: readonly StepOutput[] } {
    const pick = this.o.alertLane;
    if (pick === undefined) return { bulk: outputs, alerts: [] };
    const bulk: StepOutput[] = [];
    const alerts: StepOutput[] = [];
    for (const out of outputs) (pick(out) ? alerts : bulk).push(out);
    return { bulk, alerts };
  }

  /** Resolves once every submitted chunk is acknowledged; throws the pipeline's failure. */
  async idle(): Promise<void> {
    while (this.inFlight.length > 0 && this.error === null) await this.inFlight[this.inFlight.length - 1].settled;
    if (this.error) throw this.error;
  }

  private leave(entry: InFlight): void {
    const i = this.inFlight.indexOf(entry);
    if (i >= 0) this.inFlight.splice(i, 1);
    this.release(entry, entry.unwritten);
    this.wake();
  }

  private setError(e: Error): void {
    if (this.error) return;
    this.error = e;
    // submits waiting for room wake up and throw it
    this.wake();
    this.o.onError?.(e);
  }

  /** Makes and writes the points of these parts a slice at a time; each slice written leaves its chunks' counts. */
  private async writeSlices(parts: readonly Part[]): Promise<void> {
    let points: Point[] = [];
    let owed = new Map<InFlight, number>();
    const settle = () => {
      for (const [entry, n] of owed) this.release(entry, n);
      points = [];
      owed = new Map();
    };
    for (const { outs, entry } of parts) {
      for (const out of outs) {
        for (const p of this.o.toPoints(out)) points.push(p);
        owed.set(entry, (owed.get(entry) ?? 0) + this.weightOf(out));
        if (points.length >= this.o.slicePoints) {
          await this.o.writePoints(points);
          settle();
        }
      }
    }
    if (points.length > 0) await this.o.writePoints(points);
    settle();
  }

  private async publishSlices(parts: readonly Part[]): Promise<void> {
    const publish = this.o.publish;
    if (!publish) return;
    let records: ProduceRecord[] = [];
    for (const { outs } of parts) {
      for (const out of outs) {
        const r = this.o.toRecord(out);
        if (r === null) continue;
        records.push(r);
        if (records.length >= this.o.sliceRecords) {
          await publish(records);
          records = [];
        }
      }
    }
    if (records.length > 0) await publish(records);
  }
}
