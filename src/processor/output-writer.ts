import type { ConsumedRecord, ProduceRecord, Publisher, Subscriber, TopicOffset } from '../bus/bus.ts';
import type { Sink } from '../sink/sink.ts';
import type { Quote } from '../domain/market/quote.ts';
import type { StepOutput } from '../domain/step/step-types.ts';
import { toPoints } from '../sink/to-points.ts';
import { CommitLedger, type Segment } from './commit-ledger.ts';
import type { EventMerger } from './event-merger.ts';
import { isAlertLaneOutput, type DeadLetterStage, type OutputRecords } from './output-records.ts';
import type { ProcessorMetrics } from './processor-metrics.ts';
import type { WriteBounds } from './processor-options.ts';
import type { RetryPolicy } from './retry-policy.ts';
import { WritePipeline } from './write-pipeline.ts';
import { writeIsolatingRefused } from '../sink/refused-points.ts';
import type { Point } from '../sink/sink.ts';

/**
 * The write path (docs/processor.md "The write pipeline"): the runtime loop hands it each chunk
 * of outputs with the segment of released quote records they derive from; it writes them through
 * the WritePipeline (points to the sink, records to the output topics, alerts on their own
 * lanes), and once a chunk is acknowledged, in submission order: releases its segment from the
 * CommitLedger, counts it, shows it to `onOutputs`, and commits the quote offsets that are now
 * fully written. Dead letters and handover records go through the same lanes. Every write goes
 * through the one retry policy.
 */
export interface OutputWriterOptions {
  readonly sink: Sink;
  /** Output records, handover records and dead letters. */
  readonly publisher: Publisher;
  /** false: outputs and handovers are not published (points only); dead letters still are. */
  readonly publishOutputs: boolean;
  /** The quote group's commits. */
  readonly committer: Pick<Subscriber, 'commitOffsets'>;
  readonly quoteGroupId: string;
  readonly quotesTopic: string;
  readonly run: string;
  readonly records: OutputRecords;
  readonly bounds: WriteBounds;
  readonly retry: RetryPolicy;
  readonly metrics: ProcessorMetrics;
  readonly onOutputs?: (outputs: readonly StepOutput[]) => void;
  /** The first write that gave up for good. */
  readonly onError: (e: Error) => void;
}

export const WRITE_WHAT = { sink: 'sink write', publish: 'publish outputs', deadLetter: 'dead letter', handover: 'publish statuses', commit: 'commit' } as const;

/**
 * The points `toPoints` makes of an output, at most, counted without making them (the write
 * pipeline's bound on points in flight; making them twice costs as much CPU as writing them).
 * At most, not exactly: toPoints drops a point whose fields are all absent.
 * test/unit/points-at-most.test.ts checks it against toPoints.
 */
export function pointsAtMost(out: StepOutput): number {
  switch (out.kind) {
    case 'valuation': {
      const v = out.valuation;
      let items = 0;
      for (let i = 0; i < v.fleet.length; i++) if (out.itemsChanged === undefined || out.itemsChanged[i] !== false) items++;
      return 1 + v.facilities.length + items + (v.stress.length > 0 ? 1 : 0);
    }
    case 'contagion_entity':
      return 1 + out.entity.facilities.length;
    case 'contagion_book':
      return 1 + out.models.length + out.lenders.length;
    case 'alert_state':
      return 0;
    case 'price':
    case 'index':
    case 'alert':
    case 'data_quality':
    case 'exposure':
    case 'spread':
      return 1;
  }
}

export class OutputWriter {
  readonly ledger = new CommitLedger();
  private readonly pipeline: WritePipeline;
  private merger: EventMerger | null = null;
  /** Commits run one at a time, each with the offsets written when it runs. */
  private commitLane: Promise<void> = Promise.resolve();
  private lastCommitted = '';
  private alerts = 0;

  constructor(private readonly o: OutputWriterOptions) {
    const { bounds, retry, publisher } = o;
    this.pipeline = new WritePipeline({
      maxInFlight: bounds.maxInFlight,
      maxPointsInFlight: bounds.maxPointsInFlight,
      weigh: pointsAtMost,
      slicePoints: bounds.slicePoints,
      sliceRecords: bounds.sliceRecords,
      toPoints: (out) => toPoints(out, o.run),
      writePoints: async (points) => {
        o.metrics.sinkBatch.observe(points.length);
        await this.writeIsolating(points);
      },
      toRecord: (out) => o.records.of(out),
      publish: o.publishOutputs ? (records) => retry.run(WRITE_WHAT.publish, () => publisher.publish(records)) : null,
      alertLane: isAlertLaneOutput,
      onError: o.onError,
    });
  }

  /** The merger whose buffered records hold commits back (set once the quotes are subscribed). */
  attach(merger: EventMerger): void {
    this.merger = merger;
  }

  /** Chunks submitted and not yet acknowledged. */
  get inFlightCount(): number {
    return this.pipeline.inFlightCount;
  }

  /** What is in flight on the write path (the bounds of WriteBounds), and whether the stepping waits for room. */
  load(): { chunksInFlight: number; pointsInFlight: number; peakPointsInFlight: number; backPressured: boolean; backPressuredMs: number } {
    const p = this.pipeline;
    const { peakPointsInFlight, backPressuredMs } = p.stats();
    return { chunksInFlight: p.inFlightCount, pointsInFlight: p.pointsInFlight, peakPointsInFlight, backPressured: p.backPressured, backPressuredMs };
  }

  get alertsWritten(): number {
    return this.alerts;
  }

  /**
   * Hands a chunk's outputs to the pipeline (waiting while the points in flight would pass `maxPointsInFlight`, or `maxInFlight` chunks are unacknowledged).
   * Once they are acknowledged, in order: the segment they derive from leaves the ledger, the
   * metrics and `onOutputs` see them, and offsets are committed.
   */
  async submit(outputs: readonly StepOutput[], quotes: readonly Quote[], segment: Segment | null): Promise<void> {
    await this.pipeline.submit(outputs, async () => {
      if (segment) this.ledger.ack(segment);
      for (const out of outputs) {
        if (out.kind === 'alert') {
          this.alerts++;
          this.o.metrics.alerts.inc({ rule: out.rule });
        }
      }
      const now = Date.now();
      for (const q of quotes) this.o.metrics.latencyS.observe(Math.max(0, now - q.receivedAt) / 1000);
      if (outputs.length > 0) this.o.onOutputs?.(outputs);
      if (segment) await this.commit();
    });
  }

  /**
   * Writes the dead letter of a record that does not decode, on the pipeline's lanes: one publish
   * at a time on the producer, and written before the record's offset can be committed (its
   * segment is cut after this returns).
   */
  async deadLetter(r: ConsumedRecord, reason: string, stage: DeadLetterStage): Promise<void> {
    const d = this.o.records.deadLetter(r, reason, stage);
    this.o.metrics.deadLetters.inc({ reason: d.reasonCode });
    const { publisher, retry } = this.o;
    await Promise.all([
      this.pipeline.onLane('publish', () => retry.run(WRITE_WHAT.deadLetter, () => publisher.publish([d.record]))),
      this.pipeline.onLane('sink', () => this.writeIsolating([d.point])),
    ]);
  }

  /**
   * Writes points through the retry policy; a batch InfluxDB refuses for its content is cut down
   * to the points it refuses (src/sink/refused-points.ts), each dead-lettered (stage `sink`) while
   * the rest is written, so one poison point never stops the partition.
   */
  private async writeIsolating(points: readonly Point[]): Promise<void> {
    const { sink, retry, publisher } = this.o;
    await writeIsolatingRefused(
      points,
      (batch) => retry.run(WRITE_WHAT.sink, () => sink.write(batch)),
      async (point, reason) => {
        const d = this.o.records.refusedPoint(point, reason);
        this.o.metrics.deadLetters.inc({ reason: d.reasonCode });
        await retry.run(WRITE_WHAT.deadLetter, () => publisher.publish([d.record]));
        // its count point is written if the sink takes it; a refused count point is not retried
        if (point.measurement !== d.point.measurement) {
          await writeIsolatingRefused([d.point], (b) => retry.run(WRITE_WHAT.sink, () => sink.write(b)), async () => undefined);
        }
      },
    );
  }

  /** Publishes records after every chunk in flight (handover statuses land after the window-close records of the same keys). */
  async publishAfterInFlight(records: readonly ProduceRecord[]): Promise<void> {
    if (!this.o.publishOutputs || records.length === 0) return;
    await this.pipeline.idle();
    await this.o.retry.run(WRITE_WHAT.handover, () => this.o.publisher.publish(records));
  }

  /** Resolves once every chunk submitted is acknowledged; throws the pipeline's failure. */
  idle(): Promise<void> {
    return this.pipeline.idle();
  }

  /** The quote offsets processed to: the merger's committable offsets lowered to what is written. */
  processedOffsets(): TopicOffset[] {
    return this.merger === null ? [] : this.ledger.cap(this.merger.committable());
  }

  /** Commits what is written. Commits run one at a time and each takes the offsets when it runs, so they never go backwards. */
  commit(): Promise<void> {
    const run = this.commitLane.then(async () => {
      if (this.merger === null) return;
      const offsets = this.processedOffsets();
      const sig = JSON.stringify(offsets);
      if (offsets.length === 0 || sig === this.lastCommitted) return;
      await this.o.retry.run(WRITE_WHAT.commit, () => this.o.committer.commitOffsets(this.o.quoteGroupId, this.o.quotesTopic, offsets));
      this.lastCommitted = sig;
    });
    this.commitLane = run.catch(() => undefined);
    return run;
  }
}
