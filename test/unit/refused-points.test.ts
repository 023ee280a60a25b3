import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ErrorCode, MonitorError } from '../../src/domain/errors.ts';
import { writeIsolatingRefused } from '../../src/sink/refused-points.ts';
import type { Point } from '../../src/sink/sink.ts';

const point = (i: number): Point => ({ measurement: 'price', tags: { i: String(i) }, fields: { value: i }, ts: i });
const refusedErr = () => new MonitorError('influx write: 400 partial write', { code: ErrorCode.SINK_POINTS_REFUSED });

/** A sink that refuses any batch holding a poison point, and writes the others. */
function refusingSink(poison: ReadonlySet<number>) {
  const written = new Set<number>();
  let writes = 0;
  const write = async (ps: readonly Point[]) => {
    writes++;
    if (ps.some((p) => poison.has(p.fields.value))) throw refusedErr();
    for (const p of ps) written.add(p.fields.value);
  };
  return { write, written, writes: () => writes };
}

describe('writeIsolatingRefused', () => {
  it('writes every point but the refused ones and hands exactly those over, for any batch and poison set', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 300 }), fc.array(fc.nat(), { maxLength: 6 }), async (n, picks) => {
        const poison = new Set(picks.map((p) => p % n));
        const sink = refusingSink(poison);
        const refused: number[] = [];
        const count = await writeIsolatingRefused(Array.from({ length: n }, (_, i) => point(i)), sink.write, async (p) => void refused.push(p.fields.value));
        expect(count).toBe(poison.size);
        expect(refused.sort((a, b) => a - b)).toEqual([...poison].sort((a, b) => a - b));
        expect(sink.written.size).toBe(n - poison.size);
        // halving: about 2 log2(n) writes per refused point
        expect(sink.writes()).toBeLessThanOrEqual(1 + poison.size * 2 * Math.ceil(Math.log2(n) + 1));
      }),
      { numRuns: 60 },
    );
  });

  it('throws any other failure as it is, without cutting the batch', async () => {
    let writes = 0;
    const down = new MonitorError('influx write: ECONNREFUSED', { code: ErrorCode.SINK_WRITE_FAILED, retriable: true });
    await expect(
      writeIsolatingRefused(
        [point(1), point(2)],
        async () => {
          writes++;
          throw down;
        },
        async () => undefined,
      ),
    ).rejects.toBe(down);
    expect(writes).toBe(1);
  });
});
