import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CommitLedger, type Segment } from '../../src/processor/commit-ledger.ts';

const rec = (partition: number, offset: number) => ({ partition, offset: String(offset) });
const asMap = (offs: ReadonlyArray<{ partition: number; offset: string }>) => Object.fromEntries(offs.map((o) => [o.partition, Number(o.offset)]));

describe('commit ledger', () => {
  it('holds the commits at the first record not yet written, until its segment is acknowledged', () => {
    const l = new CommitLedger();
    const committable = [
      { partition: 0, offset: '10' },
      { partition: 1, offset: '7' },
    ];
    const b = l.open([rec(0, 3), rec(1, 5), rec(0, 4), rec(0, 5), rec(1, 6)]);
    // nothing cut yet: everything released holds back
    expect(asMap(l.cap(committable))).toEqual({ 0: 3, 1: 5 });
    const s1 = b.cut(2); // 0:3, 1:5
    expect(asMap(l.cap(committable))).toEqual({ 0: 3, 1: 5 });
    const s2 = b.cut(5); // 0:4, 0:5, 1:6
    expect(l.unwrittenRecords).toBe(5);
    // the later segment acknowledged first changes nothing: the earlier one still holds back
    l.ack(s2);
    expect(asMap(l.cap(committable))).toEqual({ 0: 3, 1: 5 });
    l.ack(s1);
    expect(asMap(l.cap(committable))).toEqual({ 0: 10, 1: 7 });
    expect(l.pendingSegments).toBe(0);
    expect(l.unwrittenRecords).toBe(0);
  });

  it('bounds by the smallest offset, not the last, when a partition is released out of offset order', () => {
    const l = new CommitLedger();
    // the merger orders by event time: offset 9 of partition 0 can come after offset 12
    const b = l.open([rec(0, 12), rec(0, 9), rec(0, 13)]);
    const s1 = b.cut(1);
    l.ack(s1);
    expect(asMap(l.cap([{ partition: 0, offset: '14' }]))).toEqual({ 0: 9 });
  });

  it('never raises an offset the merger holds back', () => {
    const l = new CommitLedger();
    l.open([rec(0, 50)]);
    expect(asMap(l.cap([{ partition: 0, offset: '20' }]))).toEqual({ 0: 20 });
  });

  it('caps at the smallest offset released and not acknowledged (any cuts, any acknowledgement order, several batches)', () => {
    const batchArb = fc.array(fc.record({ partition: fc.integer({ min: 0, max: 3 }), offset: fc.integer({ min: 0, max: 5_000 }) }), { minLength: 0, maxLength: 1_500 });
    fc.assert(
      fc.property(fc.array(batchArb, { minLength: 1, maxLength: 3 }), fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 20 }), fc.array(fc.boolean(), { minLength: 1, maxLength: 40 }), (batches, cutSizes, acks) => {
        const l = new CommitLedger();
        type Tracked = { seg: Segment; records: Array<{ partition: number; offset: number }> };
        const pending: Tracked[] = [];
        const uncut: Array<Array<{ partition: number; offset: number }>> = [];
        const opened = batches.map((records) => {
          const b = l.open(records.map((r) => rec(r.partition, r.offset)));
          uncut.push([...records]);
          return b;
        });
        let k = 0;
        let a = 0;
        const check = () => {
          const committable = [0, 1, 2, 3].map((p) => ({ partition: p, offset: '100000' }));
          const expected: Record<number, number> = { 0: 100000, 1: 100000, 2: 100000, 3: 100000 };
          for (const r of [...pending.flatMap((t) => t.records), ...uncut.flat()]) expected[r.partition] = Math.min(expected[r.partition], r.offset);
          expect(asMap(l.cap(committable))).toEqual(expected);
        };
        check();
        for (let i = 0; i < opened.length; i++) {
          const b = opened[i];
          let at = 0;
          while (at < b.length) {
            const to = Math.min(b.length, at + cutSizes[k++ % cutSizes.length]);
            const seg = b.cut(to);
            pending.push({ seg, records: uncut[i].splice(0, to - at) });
            at = to;
            check();
            // acknowledge some pending segment (not always the oldest)
            if (acks[a++ % acks.length] && pending.length > 0) {
              const t = pending.splice(a % pending.length, 1)[0];
              l.ack(t.seg);
              check();
            }
          }
        }
        for (const t of pending.splice(0)) l.ack(t.seg);
        check();
        expect(l.unwrittenRecords).toBe(0);
      }),
      { numRuns: 60 },
    );
  });

  it('refuses a cut outside the records not yet cut', () => {
    const l = new CommitLedger();
    const b = l.open([rec(0, 1), rec(0, 2)]);
    b.cut(1);
    expect(() => b.cut(0)).toThrow(RangeError);
    expect(() => b.cut(3)).toThrow(RangeError);
  });
});
