import { describe, expect, it } from 'vitest';
import { until } from '../support/poll.ts';
import { MemoryBus } from '../../src/bus/memory-bus.ts';
import type { Point } from '../../src/sink/sink.ts';
import { topicSpecs } from '../../src/bus/topics.ts';
import { MemorySink } from '../../src/sink/memory-sink.ts';
import { MEASUREMENT } from '../../src/sink/measurements.ts';
import { toPoints } from '../../src/sink/to-points.ts';
import { Processor } from '../../src/processor/processor.ts';
import type { StepOutput } from '../../src/domain/step/step-types.ts';
import { book, fallingStreamProcessorOptions, params, quotes, T0, topics } from '../support/falling-stream.ts';
import { fold } from '../support/pipeline.ts';

/**
 * Issue 12's latency: the write path's back-pressure is a bound on points in flight, not on
 * chunks, so a window close's points being written (slowly: the sink holds them here) no longer
 * stop the stepping: the quotes after the close are stepped and their alerts written meanwhile,
 * until the points in flight reach the bound, where the stepping waits. The outputs stay the fold's.
 */
const BOUND = 800;
/** The close held: the first after 6 minutes, when the falling prices cross LTV lines every few dozen quotes. */
const HOLD_FROM = T0 + 6 * 60_000;

/** A sink that holds the first write of a window close's stress points (from HOLD_FROM) until `release` (a slow InfluxDB under a close). */
class CloseHoldingSink extends MemorySink {
  held: { maxTs: number } | null = null;
  /** Alert points written while the close was held: [alert time, whether the close was still held]. */
  readonly alertsWhileHeld: number[] = [];
  private open: (() => void) | null = null;
  private done = false;

  override async write(points: readonly Point[]): Promise<void> {
    if (this.held !== null && !this.done) for (const p of points) if (p.measurement === MEASUREMENT.alert) this.alertsWhileHeld.push(p.ts);
    if (this.held === null && points.some((p) => p.measurement === MEASUREMENT.stress && p.ts >= HOLD_FROM)) {
      // the close's time (the write may also hold price points of quotes stepped after it)
      this.held = { maxTs: Math.max(...points.filter((p) => p.measurement === MEASUREMENT.stress).map((p) => p.ts)) };
      await new Promise<void>((r) => (this.open = r));
    }
    await super.write(points);
  }

  release(): void {
    this.done = true;
    this.open?.();
  }
}

describe('the points-in-flight bound', () => {
  it('steps the quotes after a close and writes their alerts while its points are held, up to the bound; the outputs are the fold', async () => {
    const bus = new MemoryBus({ maxBatchRecords: 300 });
    await bus.ensureTopics(topicSpecs('t.', { quotePartitions: 3, entityPartitions: 2 }));
    await bus.publish(book.entities.map((e) => ({ topic: topics.entities, key: e.id, value: e, ts: T0 })));
    await bus.publish(quotes.map((q) => ({ topic: topics.quotes, key: q.instrument, value: q, ts: q.ts })));
    const expected = fold(params, book.entities, await bus.readToEnd(topics.quotes));
    const sink = new CloseHoldingSink();
    const p = new Processor(
      fallingStreamProcessorOptions(bus, sink, {
        untilEnd: true,
        // many small chunks, so that chunks of quotes follow the close's; a bound on chunks would stop at 2
        write: { chunkQuotes: 10, chunkOutputs: 60, maxInFlight: 1_000, maxPointsInFlight: BOUND, slicePoints: 150, sliceRecords: 7 },
      }),
    );
    await p.start();
    await until('a close held and the stepping stopped by the bound on points', () => sink.held !== null && p.writeLoad().backPressured);
    const held = sink.held as unknown as { maxTs: number };
    const load = p.writeLoad();
    // the stepping went on past the close, chunk after chunk, and stopped at the bound, not at the end
    expect(load.chunksInFlight).toBeGreaterThan(2);
    expect(load.pointsInFlight).toBeLessThanOrEqual(BOUND);
    expect(p.stats().events).toBeLessThan(quotes.length);
    // alerts of quotes after the close were written while the close's points were held
    expect(sink.alertsWhileHeld.filter((ts) => ts > held.maxTs).length).toBeGreaterThan(0);
    sink.release();
    await p.done;
    await p.stop();
    expect(p.error).toBeNull();
    expect(p.writeLoad().peakPointsInFlight).toBeLessThanOrEqual(BOUND);
    expect(p.writeLoad().pointsInFlight).toBe(0);
    const want = new MemorySink();
    await want.write(expected.flatMap((o: StepOutput) => toPoints(o, 'mem')));
    expect(sink.points()).toEqual(want.points());
    expect(p.stats().alerts).toBe(expected.filter((o) => o.kind === 'alert').length);
  });
});
