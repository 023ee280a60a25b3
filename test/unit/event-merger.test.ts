import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { EventMerger } from '../../src/processor/event-merger.ts';
import type { ConsumedRecord } from '../../src/bus/bus.ts';

const rec = (partition: number, offset: number, ts: number): ConsumedRecord => ({ topic: 'q', partition, offset: String(offset), key: null, value: null, ts });
const ids = (rs: Array<{ record: ConsumedRecord }>) => rs.map((r) => `${r.record.partition}:${r.record.offset}`);

describe('event-time merger', () => {
  it('holds records back while another partition may still deliver older ones', () => {
    const m = new EventMerger([0, 1]);
    m.push([rec(0, 0, 10), rec(0, 1, 20)]);
    expect(m.release()).toEqual([]);
    m.push([rec(1, 0, 15)]);
    expect(ids(m.release())).toEqual(['0:0']);
  });

  it('releases everything once every partition is caught up with its end offset', () => {
    const m = new EventMerger([0, 1]);
    m.push([rec(0, 0, 10), rec(0, 1, 20)]);
    // partition 1 is empty, partition 0 not yet known to be at its end: its newest record waits
    m.markCaughtUp([{ partition: 1, offset: '0' }]);
    expect(ids(m.release())).toEqual(['0:0']);
    m.markCaughtUp([{ partition: 0, offset: '2' }]);
    expect(ids(m.release())).toEqual(['0:1']);
    // new data on partition 1 holds partition 0 back again
    m.push([rec(1, 0, 30)]);
    m.push([rec(0, 2, 40)]);
    expect(ids(m.release())).toEqual([]);
    m.markCaughtUp([{ partition: 0, offset: '3' }, { partition: 1, offset: '1' }]);
    expect(ids(m.release())).toEqual(['1:0', '0:2']);
  });

  it('orders equal event times by partition and offset', () => {
    const m = new EventMerger([0, 1]);
    m.push([rec(1, 0, 10), rec(1, 1, 10)]);
    m.push([rec(0, 0, 10)]);
    expect(ids(m.release(true))).toEqual(['0:0', '1:0', '1:1']);
  });

  it('reports a record behind the released event time as late and still releases it', () => {
    const m = new EventMerger([0]);
    m.push([rec(0, 0, 100)]);
    m.release(true);
    m.push([rec(0, 1, 40)]);
    const r = m.release(true);
    expect(r[0].lateByMs).toBe(60);
  });

  it('ignores records delivered again after a rebalance', () => {
    const m = new EventMerger([0]);
    m.push([rec(0, 0, 10), rec(0, 1, 20)]);
    m.push([rec(0, 0, 10), rec(0, 1, 20), rec(0, 2, 30)]);
    expect(ids(m.release(true))).toEqual(['0:0', '0:1', '0:2']);
    m.push([rec(0, 1, 20)]);
    expect(m.bufferedCount).toBe(0);
  });

  it('commits only offsets below the oldest record still buffered', () => {
    const m = new EventMerger([0, 1]);
    m.seed(1, 7n);
    m.push([rec(0, 5, 10), rec(0, 6, 30)]);
    m.push([rec(1, 7, 20)]);
    m.release();
    expect(m.committable()).toEqual([
      { partition: 0, offset: '6' },
      { partition: 1, offset: '7' },
    ]);
  });

  it('releases in (ts, partition, offset) order whatever the batch interleaving', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 50 })), { maxLength: 60 }), fc.integer({ min: 1, max: 7 }), (pairs, chunk) => {
        // each partition's records are in ts order (as a producer publishing in event-time order makes them)
        const byPart = new Map<number, number[]>();
        for (const [p, ts] of pairs) byPart.set(p, [...(byPart.get(p) ?? []), ts]);
        const all: ConsumedRecord[] = [];
        for (const [p, tss] of byPart) tss.sort((a, b) => a - b).forEach((ts, i) => all.push(rec(p, i, ts)));
        const expected = [...all].sort((a, b) => a.ts - b.ts || a.partition - b.partition || Number(a.offset) - Number(b.offset));
        const m = new EventMerger([0, 1, 2]);
        const queues = [0, 1, 2].map((p) => all.filter((r) => r.partition === p));
        const out: ConsumedRecord[] = [];
        let turn = 0;
        while (queues.some((q) => q.length > 0)) {
          const q = queues[turn++ % 3];
          m.push(q.splice(0, chunk));
          m.markCaughtUp([0, 1, 2].map((p) => ({ partition: p, offset: String(byPart.get(p)?.length ?? 0) })));
          out.push(...m.release().map((r) => r.record));
        }
        m.markCaughtUp([0, 1, 2].map((p) => ({ partition: p, offset: String(byPart.get(p)?.length ?? 0) })));
        out.push(...m.release().map((r) => r.record));
        out.push(...m.release(true).map((r) => r.record));
        expect(out.map((r) => `${r.partition}:${r.offset}`)).toEqual(expected.map((r) => `${r.partition}:${r.offset}`));
      }),
      { numRuns: 300 },
    );
  });
});
