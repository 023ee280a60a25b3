import type { Bus, ProduceRecord } from '../bus/bus.ts';
import type { StreamRecord } from '../bus/stream-file.ts';

/**
 * One paced publisher for every stream that is put on the bus on a clock: a replay (`--speed`,
 * or `--max`), the demo of `ccm run` (the simulator on an accelerated clock) and the latency
 * benchmark's producer (a fixed offered load, each quote stamped when it is sent).
 *
 * Pacing maps event time to wall time: a record of event time `ts` is due at
 * `wallStart + (ts - originTs) / speed`. Without `speed` every record is sent as fast as the bus
 * acknowledges, in batches. Records go out in the order given (callers hand them in event-time
 * order), to one partition when `partition` is set (a replay topic's exact order).
 */
export interface PacedPublisherOptions {
  readonly bus: Pick<Bus, 'publish'>;
  readonly topic: string;
  readonly records: AsyncIterable<StreamRecord> | Iterable<StreamRecord>;
  /** Event-time ms per wall ms; undefined = as fast as acknowledged. */
  readonly speed?: number;
  /** The event time that maps to the start (default: the first record's). */
  readonly originTs?: number;
  readonly partition?: number;
  /** Most records in one publish call. */
  readonly batchSize?: number;
  /** How long a paced publisher waits between two looks at what is due (ms): a record is sent at most this late. */
  readonly tickMs?: number;
  /** Rewrites a record as it is sent (the benchmark stamps it with the wall clock). */
  readonly stamp?: (record: ProduceRecord, wallMs: number) => ProduceRecord;
  /**
   * A failed publish: return 'continue' to drop that batch and go on (the demo, which must not
   * die on a hiccup of the in-process bus), or 'stop' to end with the error (the default).
   */
  readonly onPublishError?: (err: unknown, batch: readonly ProduceRecord[]) => 'continue' | 'stop';
  /** Wall clock and sleep, so a test can drive time. */
  readonly clock?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface PacedPublication {
  readonly published: number;
  readonly firstTs: number | null;
  readonly lastTs: number | null;
}

export interface PacedPublisher {
  /** Resolves once every record is acknowledged (or stop() was called); rejects on a publish error. */
  readonly done: Promise<PacedPublication>;
  /** The event time the pacing has reached now (for a paced publisher; the last sent ts otherwise). */
  eventNow(): number;
  stop(): void;
}

const DEFAULT_BATCH = 5000;
const DEFAULT_TICK_MS = 100;
const defaultSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function startPacedPublisher(o: PacedPublisherOptions): PacedPublisher {
  const clock = o.clock ?? Date.now;
  const sleep = o.sleep ?? defaultSleep;
  const batchSize = o.batchSize ?? DEFAULT_BATCH;
  const tickMs = o.tickMs ?? DEFAULT_TICK_MS;
  const wallStart = clock();
  let origin: number | null = o.originTs ?? null;
  let stopped = false;
  let published = 0;
  let firstTs: number | null = null;
  let lastTs: number | null = null;

  const eventNow = (): number => {
    if (o.speed === undefined || origin === null) return lastTs ?? origin ?? 0;
    return origin + (clock() - wallStart) * o.speed;
  };

  const send = async (batch: ProduceRecord[]): Promise<void> => {
    if (batch.length === 0) return;
    const now = clock();
    const out = o.stamp ? batch.map((r) => (o.stamp as NonNullable<PacedPublisherOptions['stamp']>)(r, now)) : batch;
    try {
      await o.bus.publish(out);
      published += out.length;
    } catch (err) {
      if ((o.onPublishError?.(err, out) ?? 'stop') === 'stop') throw err;
    }
  };

  const run = async (): Promise<PacedPublication> => {
    let batch: ProduceRecord[] = [];
    for await (const r of o.records) {
      if (stopped) break;
      firstTs ??= r.ts;
      origin ??= r.ts;
      lastTs = r.ts;
      if (o.speed !== undefined) {
        // wait until this record is due, sending what is already due first
        while (!stopped && r.ts > eventNow()) {
          await send(batch);
          batch = [];
          // one look per tick: what fell due meanwhile goes out in one batch (a record is at
          // most a tick late, and a dense stream is not sent one record per call)
          await sleep(tickMs);
        }
        if (stopped) break;
      }
      batch.push({ topic: o.topic, key: r.key, value: r.value, ts: r.ts, ...(o.partition === undefined ? {} : { partition: o.partition }) });
      if (batch.length >= batchSize) {
        await send(batch);
        batch = [];
      }
    }
    if (!stopped) await send(batch);
    return { published, firstTs, lastTs };
  };

  return {
    done: run(),
    eventNow,
    stop: () => {
      stopped = true;
    },
  };
}
