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
 * processor commits there), so an alert written early commits nothing early. At most
 * `maxInFlight` chunks are submitted and not yet acknowledged, and beside them at most
 * `maxLightInFlight` light ones (few bulk outputs): `submit` waits for the oldest of its weight
 * beforehand, which is the back-pressure (the processor steps no further, so the consumer fetches
 * no more) and the bound on the outputs held.
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
  /** The outputs that go on the alert lanes (default: none, every output on the bulk lanes). */
  readonly alertLane?: (out: StepOutput) => boolean;
  /**
   * A chunk with at most this many outputs on the bulk lanes is light (default: none is). Light
   * chunks do not count toward `maxInFlight` but toward `maxLightInFlight`: live, the few quotes a
   * drain steps while a window close is written are submitted, and their alerts written, instead
   * of waiting for the close's points.
   */
  readonly lightOutputs?: number;
  /** Light chunks submitted and not yet acknowledged, at most (default 0). */
  readonly maxLightInFlight?: number;
  /** Called once, with the first failure. */
  readonly onError?: (e: Error) => void;
}

const BULK = { sink: 'sink', publish: 'publish' } as const;
const ALERT = { sink: 'alertSink', publish: 'alertPublish' } as const;

interface InFlight {
  /** Settles (never rejects) once the chunk is acknowledged or has failed, after leaving `inFlight`. */
  readonly settled: Promise<void>;
  readonly light: boolean;
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
  submit(outputs: readonly StepOutput[], onAcked: () => Promise<void> | void): Promise<void> {
    // chunks start in the order they were submitted, whichever bound each waits on
    const turn = this.submitting.then(() => this.start(outputs, onAcked));
    this.submitting = turn.catch(() => undefined);
    return turn;
  }

  private async start(outputs: readonly StepOutput[], onAcked: () => Promise<void> | void): Promise<void> {
    const { bulk, alerts } = this.split(outputs);
    const light = bulk.length <= (this.o.lightOutputs ?? -1) && (this.o.maxLightInFlight ?? 0) > 0;
    for (let oldest = this.oldestBlocking(light); oldest !== undefined && this.error === null; oldest = this.oldestBlocking(light)) await oldest.settled;
    if (this.error) throw this.error;
    this.submitted++;
    const written: Array<Promise<void>> = [];
    for (const [lanes, outs] of [[BULK, bulk], [ALERT, alerts]] as const) {
      if (outs.length === 0) continue;
      written.push(this.onLane(lanes.sink, () => this.writeSlices(outs)));
      if (this.o.publish) written.push(this.onLane(lanes.publish, () => this.publishSlices(outs)));
    }
    const previous = this.acked;
    const done = Promise.all([previous, ...written]).then(async () => {
      if (this.error) throw this.error;
      await onAcked();
      this.acknowledged++;
    });
    this.acked = done;
    const entry: InFlight = {
      light,
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
  onLane(lane: Lane, fn: () => Promise<void>): Promise<void> {
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

  /** The oldest chunk in flight a new chunk of this weight waits for, if its bound is reached. */
  private oldestBlocking(light: boolean): InFlight | undefined {
    const same = this.inFlight.filter((c) => c.light === light);
    return same.length >= (light ? (this.o.maxLightInFlight ?? 0) : this.o.maxInFlight) ? same[0] : undefined;
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
