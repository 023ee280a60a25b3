import type { ProduceRecord } from '../bus/bus.ts';
import type { StepOutput } from '../domain/step/step-types.ts';
import type { Point } from '../sink/sink.ts';

/**
 * Writes the processor's outputs while the next events are stepped (docs/processor.md "The write
 * pipeline"). A chunk of outputs goes through two lanes at once:
 *
 * - the sink lane: points, converted and written a slice at a time (`slicePoints`);
 * - the publish lane: output records, built and published a slice at a time (`sliceRecords`).
 *
 * Each lane runs one write at a time, in submission order, so the records of the compacted
 * `alert-state` topic (and `alerts`) reach Kafka in the order `step` emitted them, and a point
 * rewritten by a later chunk is written after the earlier one. A chunk is acknowledged once both
 * lanes have written all of it and every earlier chunk is acknowledged; `onAcked` callbacks run
 * in submission order (the processor commits there). At most `maxInFlight` chunks are submitted
 * and not yet acknowledged: `submit` waits for the oldest beforehand, which is the back-pressure
 * (the processor steps no further, so the consumer fetches no more).
 *
 * The first failure (a write that gave up, a failing `onAcked`) fails the pipeline for good: the
 * failed chunk and every later one are never acknowledged, `submit` and `idle` throw it.
 */
export interface WritePipelineOptions {
  /** Chunks submitted and not yet acknowledged, at most (1 = no overlap between chunks' writes). */
  readonly maxInFlight: number;
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
  /** Called once, with the first failure. */
  readonly onError?: (e: Error) => void;
}

interface InFlight {
  /** Settles (never rejects) once the chunk is acknowledged or has failed, after leaving `inFlight`. */
  readonly settled: Promise<void>;
}

const asError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));

export class WritePipeline {
  private sinkLane: Promise<void> = Promise.resolve();
  private publishLane: Promise<void> = Promise.resolve();
  private acked: Promise<void> = Promise.resolve();
  private readonly inFlight: InFlight[] = [];
  private error: Error | null = null;
  private submitted = 0;
  private acknowledged = 0;

  constructor(private readonly o: WritePipelineOptions) {
    if (!(o.maxInFlight >= 1) || !(o.slicePoints >= 1) || !(o.sliceRecords >= 1)) throw new RangeError('maxInFlight, slicePoints and sliceRecords must be at least 1');
  }

  /** Chunks submitted and not yet acknowledged. */
  get inFlightCount(): number {
    return this.inFlight.length;
  }

  get failure(): Error | null {
    return this.error;
  }

  stats(): { submitted: number; acknowledged: number } {
    return { submitted: this.submitted, acknowledged: this.acknowledged };
  }

  /**
   * Starts writing a chunk once fewer than `maxInFlight` are in flight; resolves when it is started
   * (not written). `onAcked` runs once it and every earlier chunk are written.
   */
  async submit(outputs: readonly StepOutput[], onAcked: () => Promise<void> | void): Promise<void> {
    while (this.inFlight.length >= this.o.maxInFlight && this.error === null) await this.inFlight[0].settled;
    if (this.error) throw this.error;
    this.submitted++;
    const written = outputs.length === 0 ? [] : [this.onLane('sink', () => this.writeSlices(outputs)), ...(this.o.publish ? [this.onLane('publish', () => this.publishSlices(outputs))] : [])];
    const previous = this.acked;
    const done = Promise.all([previous, ...written]).then(async () => {
      if (this.error) throw this.error;
      await onAcked();
      this.acknowledged++;
    });
    this.acked = done;
    const entry: InFlight = {
      settled: done.then(
        () => this.leave(entry),
        (e: unknown) => {
          this.leave(entry);
          this.setError(asError(e));
        },
      ),
    };
    this.inFlight.push(entry);
  }

  /**
   * Runs `fn` on a lane after what is queued there (a dead letter published between two chunks
   * keeps the one-publish-at-a-time order of the producer). Throws if the lane has failed.
   */
  onLane(lane: 'sink' | 'publish', fn: () => Promise<void>): Promise<void> {
    const before = lane === 'sink' ? this.sinkLane : this.publishLane;
    const p = before.then(() => {
      if (this.error) throw this.error;
      return fn();
    });
    // the lane's next write waits for this one; a failure stops the lane (later writes throw it)
    const next = p.catch((e: unknown) => {
      this.setError(asError(e));
      throw asError(e);
    });
    next.catch(() => undefined);
    if (lane === 'sink') this.sinkLane = next;
    else this.publishLane = next;
    return p;
  }

  /** Resolves once every submitted chunk is acknowledged; throws the pipeline's failure. */
  async idle(): Promise<void> {
    while (this.inFlight.length > 0 && this.error === null) await this.inFlight[this.inFlight.length - 1].settled;
    if (this.error) throw this.error;
  }

  private leave(entry: InFlight): void {
    const i = this.inFlight.indexOf(entry);
    if (i >= 0) this.inFlight.splice(i, 1);
  }

  private setError(e: Error): void {
    if (this.error) return;
    this.error = e;
    this.o.onError?.(e);
  }

  private async writeSlices(outputs: readonly StepOutput[]): Promise<void> {
    let points: Point[] = [];
    for (const out of outputs) {
      for (const p of this.o.toPoints(out)) points.push(p);
      if (points.length >= this.o.slicePoints) {
        await this.o.writePoints(points);
        points = [];
      }
    }
    if (points.length > 0) await this.o.writePoints(points);
  }

  private async publishSlices(outputs: readonly StepOutput[]): Promise<void> {
    const publish = this.o.publish;
    if (!publish) return;
    let records: ProduceRecord[] = [];
    for (const out of outputs) {
      const r = this.o.toRecord(out);
      if (r === null) continue;
      records.push(r);
      if (records.length >= this.o.sliceRecords) {
        await publish(records);
        records = [];
      }
    }
    if (records.length > 0) await publish(records);
  }
}
