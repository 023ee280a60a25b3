import { describe, expect, it } from 'vitest';
import type { ProduceRecord } from '../../src/bus/bus.ts';
import type { StreamRecord } from '../../src/bus/stream-file.ts';
import { startPacedPublisher } from '../../src/replay/paced-publisher.ts';

/** A bus that records each publish call with the (fake) wall time it happened at. */
function recordingBus(clock: () => number, failOn: (batch: readonly ProduceRecord[]) => boolean = () => false) {
  const calls: Array<{ at: number; records: readonly ProduceRecord[] }> = [];
  return {
    calls,
    publish: async (records: readonly ProduceRecord[]) => {
      if (failOn(records)) throw new Error('broker said no');
      calls.push({ at: clock(), records });
    },
  };
}

/** Wall time that moves only when the publisher sleeps. */
function fakeTime(start = 1_000_000) {
  let now = start;
  return { clock: () => now, sleep: async (ms: number) => void (now += ms) };
}

const recs = (tss: readonly number[]): StreamRecord[] => tss.map((ts, i) => ({ topic: 'quotes', key: `k${i}`, ts, value: { i } }));

describe('the paced publisher', () => {
  it('sends every record in order, in batches, as fast as acknowledged without a speed', async () => {
    const t = fakeTime();
    const bus = recordingBus(t.clock);
    const r = await startPacedPublisher({ bus, topic: 'out', records: recs([5, 6, 7, 8, 9]), batchSize: 2, partition: 0, ...t }).done;
    expect(r).toEqual({ published: 5, firstTs: 5, lastTs: 9 });
    expect(bus.calls.map((c) => c.records.length)).toEqual([2, 2, 1]);
    expect(bus.calls.flatMap((c) => c.records.map((x) => x.key))).toEqual(['k0', 'k1', 'k2', 'k3', 'k4']);
    expect(bus.calls.every((c) => c.at === 1_000_000 && c.records.every((x) => x.topic === 'out' && x.partition === 0))).toBe(true);
  });

  it('sends a record no earlier than it is due on the event-time clock and at most one tick late', async () => {
    const t = fakeTime();
    const bus = recordingBus(t.clock);
    // speed 60: one minute of event time per wall second
    const tss = [0, 30_000, 60_000, 61_000, 600_000];
    await startPacedPublisher({ bus, topic: 'out', records: recs(tss), speed: 60, originTs: 0, tickMs: 100, ...t }).done;
    const sentAt = new Map(bus.calls.flatMap((c) => c.records.map((x) => [x.ts, c.at - 1_000_000] as const)));
    for (const ts of tss) {
      const due = ts / 60;
      expect(sentAt.get(ts)).toBeGreaterThanOrEqual(due);
      expect(sentAt.get(ts)).toBeLessThanOrEqual(due + 100);
    }
  });

  it('tells the event time its clock has reached, and stops when asked, leaving the rest unsent', async () => {
    const t = fakeTime();
    const bus = recordingBus(t.clock);
    let p: ReturnType<typeof startPacedPublisher> | null = null;
    const seen: number[] = [];
    // speed 1000: the third record (event time 3,600 s) is due 3.6 wall seconds in; stop at 1 s
    p = startPacedPublisher({
      bus,
      topic: 'out',
      records: recs([0, 500_000, 3_600_000]),
      speed: 1000,
      originTs: 0,
      tickMs: 100,
      clock: t.clock,
      sleep: async (ms) => {
        await t.sleep(ms);
        seen.push((p as NonNullable<typeof p>).eventNow());
        if (t.clock() - 1_000_000 >= 1000) p?.stop();
      },
    });
    expect(p.eventNow()).toBe(0);
    expect(await p.done).toMatchObject({ published: 2 });
    expect(bus.calls.flatMap((c) => c.records.map((x) => x.ts))).toEqual([0, 500_000]);
    expect(seen[0]).toBe(100_000);
    expect(seen.at(-1)).toBe(1_000_000);
  });

  it('rewrites each record as it is sent when given a stamp', async () => {
    const t = fakeTime();
    const bus = recordingBus(t.clock);
    await startPacedPublisher({ bus, topic: 'out', records: recs([0, 500]), speed: 1, originTs: 0, tickMs: 10, stamp: (r, wall) => ({ ...r, ts: wall }), ...t }).done;
    for (const c of bus.calls) for (const r of c.records) expect(r.ts).toBe(c.at);
  });

  it('ends with the error of a failed publish, or drops that batch and goes on when told to continue', async () => {
    const t = fakeTime();
    const failing = recordingBus(t.clock, (b) => b.some((r) => r.key === 'k1'));
    await expect(startPacedPublisher({ bus: failing, topic: 'out', records: recs([0, 1, 2]), batchSize: 1, ...t }).done).rejects.toThrow('broker said no');

    const dropped: string[] = [];
    const tolerant = recordingBus(t.clock, (b) => b.some((r) => r.key === 'k1'));
    const r = await startPacedPublisher({
      bus: tolerant,
      topic: 'out',
      records: recs([0, 1, 2]),
      batchSize: 1,
      onPublishError: (_err, batch) => {
        dropped.push(...batch.map((x) => String(x.key)));
        return 'continue';
      },
      ...t,
    }).done;
    expect(dropped).toEqual(['k1']);
    expect(r.published).toBe(2);
    expect(tolerant.calls.flatMap((c) => c.records.map((x) => x.key))).toEqual(['k0', 'k2']);
  });
});
