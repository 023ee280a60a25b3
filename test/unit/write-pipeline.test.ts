import { describe, expect, it } from 'vitest';
import { WritePipeline, type WritePipelineOptions } from '../../src/processor/write-pipeline.ts';
import type { StepOutput } from '../../src/domain/step/step-types.ts';
import type { ProduceRecord } from '../../src/bus/bus.ts';
import type { Point } from '../../src/sink/sink.ts';

/** A promise resolved (or rejected) from outside: a write held open by the test. */
function gate(): { promise: Promise<void>; open: () => void; fail: (e: Error) => void } {
  let open!: () => void;
  let fail!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    open = res;
    fail = rej;
  });
  return { promise, open, fail };
}
const tick = () => new Promise<void>((r) => setImmediate(r));
const settle = async () => {
  for (let i = 0; i < 5; i++) await tick();
};

/** `n` price outputs of one chunk; `alert_state`-like ordering is checked through the eventIds. */
const outs = (chunk: number, n: number): StepOutput[] =>
  Array.from({ length: n }, (_, i) => ({ kind: 'price', eventId: `${chunk}.${i}`, instrument: 'BTC', source: 's', ts: chunk * 1000 + i, value: i }));

interface Log {
  sinkStarted: string[];
  sinkDone: string[];
  published: string[];
  pubStarted: string[];
  acked: number[];
  pointSlices: number[];
  recordSlices: number[];
}

/** A pipeline whose writes wait on gates the test opens (`holdSink`/`holdPublish`: per first eventId of a slice). */
function harness(over: Partial<WritePipelineOptions> = {}, pointsPerOutput = 1) {
  const log: Log = { sinkStarted: [], sinkDone: [], published: [], pubStarted: [], acked: [], pointSlices: [], recordSlices: [] };
  const holdSink = new Map<string, ReturnType<typeof gate>>();
  const holdPublish = new Map<string, ReturnType<typeof gate>>();
  const p = new WritePipeline({
    maxInFlight: 2,
    // no bound on points unless a test sets one: these tests are about chunks and lanes
    maxPointsInFlight: 1_000_000,
    slicePoints: 1_000,
    sliceRecords: 1_000,
    toPoints: (out) => Array.from({ length: pointsPerOutput }, (_, k): Point => ({ measurement: 'm', tags: { id: `${out.eventId}` }, fields: { k }, ts: 0 })),
    writePoints: async (points) => {
      const first = points[0].tags.id;
      log.sinkStarted.push(first);
      log.pointSlices.push(points.length);
      await holdSink.get(first)?.promise;
      log.sinkDone.push(first);
    },
    toRecord: (out): ProduceRecord => ({ topic: 't', key: 'k', value: out.eventId, ts: 0 }),
    publish: async (records) => {
      const first = records[0].value as string;
      log.pubStarted.push(first);
      log.recordSlices.push(records.length);
      await holdPublish.get(first)?.promise;
      for (const r of records) log.published.push(r.value as string);
    },
    ...over,
  });
  const hold = (m: Map<string, ReturnType<typeof gate>>, id: string) => {
    const g = gate();
    m.set(id, g);
    return g;
  };
  return { p, log, holdSink: (id: string) => hold(holdSink, id), holdPublish: (id: string) => hold(holdPublish, id) };
}

describe('write pipeline', () => {
  it('returns from submit while the chunk is written, and writes it to the sink and the topics at once', async () => {
    const { p, log, holdSink, holdPublish } = harness();
    const s = holdSink('1.0');
    const pub = holdPublish('1.0');
    await p.submit(outs(1, 3), () => void log.acked.push(1));
    await settle();
    // both lanes started; neither finished; submit did not wait
    expect(log.sinkStarted).toEqual(['1.0']);
    expect(log.pubStarted).toEqual(['1.0']);
    expect(log.acked).toEqual([]);
    expect(p.inFlightCount).toBe(1);
    s.open();
    await settle();
    expect(log.acked).toEqual([]); // the publish is not acknowledged yet
    pub.open();
    await p.idle();
    expect(log.acked).toEqual([1]);
    expect(p.inFlightCount).toBe(0);
  });

  it('keeps at most maxInFlight chunks unacknowledged: the next submit waits for the oldest', async () => {
    const { p, log, holdSink } = harness({ maxInFlight: 2 });
    const s1 = holdSink('1.0');
    await p.submit(outs(1, 2), () => void log.acked.push(1));
    await p.submit(outs(2, 2), () => void log.acked.push(2));
    let third = false;
    const t = p.submit(outs(3, 2), () => void log.acked.push(3)).then(() => (third = true));
    await settle();
    expect(third).toBe(false);
    expect(p.inFlightCount).toBe(2);
    // the sink lane is one write at a time: chunk 2 waits behind chunk 1
    expect(log.sinkStarted).toEqual(['1.0']);
    s1.open();
    await t;
    expect(third).toBe(true);
    await p.idle();
    expect(log.acked).toEqual([1, 2, 3]);
    expect(log.sinkStarted).toEqual(['1.0', '2.0', '3.0']);
  });

  it('publishes in submission order and acknowledges in order, even when a later chunk is written first', async () => {
    const { p, log, holdPublish } = harness({ maxInFlight: 2 });
    const pub1 = holdPublish('1.0');
    await p.submit(outs(1, 3), () => void log.acked.push(1));
    await p.submit(outs(2, 3), () => void log.acked.push(2));
    await settle();
    // chunk 2's points are written (the sink lane is free) but its records wait behind chunk 1's
    expect(log.sinkDone).toEqual(['1.0', '2.0']);
    expect(log.pubStarted).toEqual(['1.0']);
    expect(log.acked).toEqual([]);
    pub1.open();
    await p.idle();
    expect(log.published).toEqual(['1.0', '1.1', '1.2', '2.0', '2.1', '2.2']);
    expect(log.acked).toEqual([1, 2]);
  });

  it('writes a big chunk in slices, making the points of a slice only when the previous one is written', async () => {
    let made = 0;
    const { p, log, holdSink } = harness({
      slicePoints: 100,
      sliceRecords: 40,
      toPoints: (out) => {
        made++;
        return Array.from({ length: 15 }, (_, k): Point => ({ measurement: 'm', tags: { id: out.eventId }, fields: { k }, ts: 0 }));
      },
    });
    const s = holdSink('1.0');
    await p.submit(outs(1, 1_000), () => void log.acked.push(1));
    await settle();
    // the first slice is out: 7 outputs x 15 points (the first count over 100); nothing more made
    expect(log.pointSlices).toEqual([105]);
    expect(made).toBe(7);
    s.open();
    await p.idle();
    expect(made).toBe(1_000);
    expect(log.pointSlices.reduce((a, b) => a + b, 0)).toBe(15_000);
    expect(Math.max(...log.pointSlices)).toBeLessThanOrEqual(100 + 15 - 1);
    expect(log.recordSlices.every((n) => n <= 40)).toBe(true);
    expect(log.recordSlices.reduce((a, b) => a + b, 0)).toBe(1_000);
    expect(log.published).toEqual(outs(1, 1_000).map((o) => o.eventId));
    expect(log.acked).toEqual([1]);
  });

  it('never acknowledges a failed chunk nor any later one, and reports the failure once', async () => {
    const errors: Error[] = [];
    const { p, log, holdSink } = harness({ maxInFlight: 2, onError: (e) => errors.push(e) });
    const s1 = holdSink('1.0');
    await p.submit(outs(1, 1), () => void log.acked.push(1));
    await p.submit(outs(2, 1), () => void log.acked.push(2));
    s1.fail(new Error('influx said 400'));
    await expect(p.idle()).rejects.toThrow('influx said 400');
    await expect(p.submit(outs(3, 1), () => void log.acked.push(3))).rejects.toThrow('influx said 400');
    expect(log.acked).toEqual([]);
    // nothing written after the failure on that lane
    expect(log.sinkStarted).toEqual(['1.0']);
    expect(errors.map((e) => e.message)).toEqual(['influx said 400']);
  });

  it('acknowledges a chunk without outputs after the chunks before it', async () => {
    const { p, log, holdPublish } = harness();
    const pub = holdPublish('1.0');
    await p.submit(outs(1, 1), () => void log.acked.push(1));
    await p.submit([], () => void log.acked.push(2));
    await settle();
    expect(log.acked).toEqual([]);
    pub.open();
    await p.idle();
    expect(log.acked).toEqual([1, 2]);
  });

  it('runs a write on a lane after what is queued there (dead letters)', async () => {
    const { p, log, holdPublish } = harness();
    const pub = holdPublish('1.0');
    await p.submit(outs(1, 2), () => void log.acked.push(1));
    const order: string[] = [];
    const dl = p.onLane('publish', async () => void order.push(`dead letter after ${log.published.length}`));
    await settle();
    expect(order).toEqual([]);
    pub.open();
    await dl;
    expect(order).toEqual(['dead letter after 2']);
    await p.idle();
  });

  it('writes the chunks submitted while a lane is busy in one write, in their order', async () => {
    const { p, log, holdSink } = harness({ maxInFlight: 10 });
    const s1 = holdSink('1.0');
    await p.submit(outs(1, 3), () => void log.acked.push(1));
    await p.submit(outs(2, 2), () => void log.acked.push(2));
    await p.submit(outs(3, 2), () => void log.acked.push(3));
    await settle();
    expect(log.sinkStarted).toEqual(['1.0']);
    s1.open();
    await p.idle();
    // chunks 2 and 3 waited behind chunk 1 together: one write of their 4 points
    expect(log.sinkStarted).toEqual(['1.0', '2.0']);
    expect(log.pointSlices).toEqual([3, 4]);
    expect(log.published).toEqual(['1.0', '1.1', '1.2', '2.0', '2.1', '3.0', '3.1']);
    expect(log.acked).toEqual([1, 2, 3]);
    expect(p.pointsInFlight).toBe(0);
  });

  it('never joins a chunk to a write queued before a write of its own on the lane (a dead letter)', async () => {
    const { p, log, holdSink } = harness({ maxInFlight: 10 });
    const s1 = holdSink('1.0');
    await p.submit(outs(1, 1), () => void log.acked.push(1));
    await p.submit(outs(2, 1), () => void log.acked.push(2));
    const order: string[] = [];
    const dl = p.onLane('sink', async () => void order.push(`dead letter after ${log.sinkDone.join(',')}`));
    await p.submit(outs(3, 1), () => void log.acked.push(3));
    s1.open();
    await dl;
    await p.idle();
    expect(order).toEqual(['dead letter after 1.0,2.0']);
    expect(log.sinkStarted).toEqual(['1.0', '2.0', '3.0']);
    expect(log.acked).toEqual([1, 2, 3]);
  });

  it('skips the publish lane when outputs are not published', async () => {
    const { p, log } = harness({ publish: null });
    await p.submit(outs(1, 2), () => void log.acked.push(1));
    await p.idle();
    expect(log.published).toEqual([]);
    expect(log.sinkDone).toEqual(['1.0']);
    expect(log.acked).toEqual([1]);
  });

  describe('alert lane', () => {
    const alert = (chunk: number, i: number): StepOutput => ({
      kind: 'alert',
      eventId: `${chunk}.a${i}`,
      entity: 'e',
      facility: 'f',
      rule: 'ltv',
      from: 'ok',
      to: 'warn',
      value: 0.7,
      threshold: 0.65,
      at: chunk * 1000 + i,
    });
    const isAlert = (out: StepOutput) => out.kind === 'alert';

    it("writes a later chunk's alert while an earlier chunk's bulk points are still being written, and acknowledges in order", async () => {
      const { p, log, holdSink } = harness({ alertLane: isAlert });
      const bulk = holdSink('1.0');
      await p.submit(outs(1, 3), () => void log.acked.push(1));
      await p.submit([alert(2, 0)], () => void log.acked.push(2));
      await settle();
      // the alert's point and record are written; the first chunk's points still wait
      expect(log.sinkDone).toEqual(['2.a0']);
      expect(log.published).toContain('2.a0');
      // and nothing is acknowledged out of order
      expect(log.acked).toEqual([]);
      bulk.open();
      await p.idle();
      expect(log.acked).toEqual([1, 2]);
    });

    it('takes the alerts out of a mixed chunk and writes the rest on the bulk lanes, each in its order', async () => {
      const { p, log, holdSink } = harness({ alertLane: isAlert });
      const bulk = holdSink('1.0');
      await p.submit([...outs(1, 2), alert(1, 0), alert(1, 1)], () => void log.acked.push(1));
      await settle();
      expect(log.sinkDone).toEqual(['1.a0']);
      expect(log.pointSlices).toEqual([2, 2]);
      bulk.open();
      await p.idle();
      expect(log.published.filter((e) => e.includes('.a'))).toEqual(['1.a0', '1.a1']);
      expect(log.published.filter((e) => !e.includes('.a'))).toEqual(['1.0', '1.1']);
      expect(log.acked).toEqual([1]);
    });

    it("publishes alerts one write at a time in submission order, whatever the bulk lanes do", async () => {
      const { p, log, holdPublish } = harness({ alertLane: isAlert });
      const first = holdPublish('1.a0');
      await p.submit([alert(1, 0)], () => void log.acked.push(1));
      await p.submit([...outs(2, 1), alert(2, 0)], () => void log.acked.push(2));
      await settle();
      // the second chunk's bulk record went out; its alert waits for the first chunk's alert
      expect(log.published).toEqual(['2.0']);
      expect(log.pubStarted).toEqual(['1.a0', '2.0']);
      first.open();
      await p.idle();
      expect(log.published).toEqual(['2.0', '1.a0', '2.a0']);
      expect(log.acked).toEqual([1, 2]);
    });

    it('lets the chunks after a close pass it while its points are written, up to the bound on points, and still acknowledges in order', async () => {
      // a close of 3 points; then chunks of 1 point each (an alert, a price); the bound is 5 points
      const { p, log, holdSink } = harness({ alertLane: isAlert, maxInFlight: 10, maxPointsInFlight: 5 });
      const close = holdSink('1.0');
      await p.submit(outs(1, 3), () => void log.acked.push(1));
      await p.submit([alert(2, 0)], () => void log.acked.push(2));
      await settle();
      // the alert's point is written while the close's are held: 3 points in flight
      expect(log.sinkDone).toEqual(['2.a0']);
      expect(p.pointsInFlight).toBe(3);
      await p.submit(outs(3, 1), () => void log.acked.push(3));
      await p.submit(outs(4, 1), () => void log.acked.push(4));
      let fifth = false;
      const t5 = p.submit([alert(5, 0)], () => void log.acked.push(5)).then(() => (fifth = true));
      await settle();
      // 3 + 1 + 1 points in flight: the fifth chunk's point would pass the bound, so it waits
      expect(p.pointsInFlight).toBe(5);
      expect(fifth).toBe(false);
      expect(log.acked).toEqual([]);
      close.open();
      await t5;
      await p.idle();
      expect(log.acked).toEqual([1, 2, 3, 4, 5]);
      expect(p.stats().peakPointsInFlight).toBe(5);
      expect(p.pointsInFlight).toBe(0);
    });
  });
});
