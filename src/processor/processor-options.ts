import type { LogReader, Publisher, Subscriber, TopicOffset } from '../bus/bus.ts';
import type { Sink } from '../sink/sink.ts';
import type { Logger } from '../logger.ts';
import type { DomainParams } from '../domain/params.ts';
import type { StepOutput } from '../domain/step/step-types.ts';
import type { ProcessorMetrics } from './processor-metrics.ts';

/** The topics one processor reads and writes (names from src/bus/topics.ts). */
export interface ProcessorTopics {
  readonly quotes: string;
  readonly entities: string;
  readonly valuations: string;
  readonly alerts: string;
  readonly alertState: string;
  readonly deadletter: string;
}

/** The ports of the Bus a processor uses: its two groups, its outputs, and reads outside the groups (restart, handover). */
export type ProcessorBus = Publisher & Subscriber & LogReader;

export interface ProcessorOptions {
  readonly bus: ProcessorBus;
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
  /** Run the book's fire-sale cascade at each window close (default true; contagion-stage.ts). */
  readonly contagion?: boolean;
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
  /**
   * Chunks submitted and not yet acknowledged, at most: a bound on the chunks held, beside the
   * one on points (most chunks of a live run are a drain's few quotes).
   */
  readonly maxInFlight: number;
  /**
   * Points submitted and not yet written, at most (an output without points counts one): the
   * back-pressure of the write path. A window close's points and the quotes stepped after it fit
   * together, so stepping, and the alerts, go on while the close is written (docs/processor.md
   * "The write pipeline").
   */
  readonly maxPointsInFlight: number;
  /** Points per InfluxDB write. */
  readonly slicePoints: number;
  /** Records per publish of the output topics. */
  readonly sliceRecords: number;
}

export const WRITE_DEFAULTS: WriteBounds = {
  chunkQuotes: 500,
  chunkOutputs: 2_000,
  maxInFlight: 32,
  maxPointsInFlight: 20_000,
  slicePoints: 5_000,
  sliceRecords: 500,
};

/** How often a drain is queued while quotes wait in the merger (a batch handler drains too). */
export const DRIVE_INTERVAL_MS = 100;
/** How often consumer lag is measured for `ccm_consumer_lag`. */
export const LAG_INTERVAL_MS = 2_000;
/** Default of `endOffsetPollMs`. */
export const END_OFFSET_POLL_MS = 200;
/** An end-offsets lookup that takes longer is given up (the next drain asks again). */
export const END_OFFSET_TIMEOUT_MS = 5_000;
