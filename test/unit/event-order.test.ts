import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compareEventOrder } from '../../src/bus/event-order.ts';

describe('event order of records', () => {
  it('orders by event time, then partition, then offset', () => {
    const r = (ts: number, partition: number, offset: string) => ({ ts, partition, offset });
    const sorted = [r(2, 0, '1'), r(1, 1, '0'), r(1, 0, '10'), r(1, 0, '9')].sort(compareEventOrder);
    expect(sorted).toEqual([r(1, 0, '9'), r(1, 0, '10'), r(1, 1, '0'), r(2, 0, '1')]);
  });

  it('compares offsets as numbers beyond 2^53', () => {
    const a = { ts: 0, partition: 0, offset: '9007199254740993' };
    const b = { ts: 0, partition: 0, offset: '9007199254740992' };
    expect(compareEventOrder(a, b)).toBeGreaterThan(0);
    expect(compareEventOrder(b, a)).toBeLessThan(0);
    expect(compareEventOrder(a, { ...a })).toBe(0);
  });

  it('is a total order consistent with the tuple (ts, partition, offset)', () => {
    const rec = fc.record({ ts: fc.integer({ min: 0, max: 5 }), partition: fc.integer({ min: 0, max: 3 }), offset: fc.integer({ min: 0, max: 50 }).map(String) });
    fc.assert(
      fc.property(rec, rec, (a, b) => {
        const tuple = Math.sign(a.ts - b.ts) || Math.sign(a.partition - b.partition) || Math.sign(Number(a.offset) - Number(b.offset));
        expect(Math.sign(compareEventOrder(a, b))).toBe(tuple);
      }),
    );
  });
});
