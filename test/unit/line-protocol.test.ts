/**
 * Our line protocol (src/sink/line-protocol.ts) against npm `influx`'s writePoints, which wrote the
 * points before: the body npm `influx` would POST is taken from its pool (no InfluxDB needed; the
 * integration test test/integration/influx-sink.test.ts reads written points back from the real one).
 */
import fc from 'fast-check';
import { InfluxDB, type IPoint } from 'influx';
import { describe, expect, it } from 'vitest';
import { encodeLines, escapeTag, pointLine } from '../../src/sink/line-protocol.ts';
import type { Point } from '../../src/sink/sink.ts';
import { toPoints } from '../../src/sink/to-points.ts';

/** The body npm influx's writePoints makes of these points (precision ms). */
async function npmInfluxBody(points: readonly Point[]): Promise<string> {
  const influx = new InfluxDB({ host: '127.0.0.1', database: 'db' });
  let body = '';
  (influx as unknown as { _pool: { discard: (o: { body: string }) => Promise<void> } })._pool.discard = async (o) => {
    body = o.body;
  };
  const ipoints: IPoint[] = points.map((p) => ({ measurement: p.measurement, tags: { ...p.tags }, fields: { ...p.fields }, timestamp: p.ts }));
  await influx.writePoints(ipoints, { precision: 'ms' });
  return body;
}

/** A point with its field keys in sorted order: npm influx sorts them, we keep the point's order. */
function sortedFields(p: Point): Point {
  return { ...p, fields: Object.fromEntries(Object.entries(p.fields).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) };
}

// npm influx's escaper also rewrites the first `\'` of a value: no backslash in what we draw
const text = fc.string({ unit: fc.constantFrom('a', 'B', '7', '_', '-', '.', ',', '=', ' ', 'é', '/', ':'), minLength: 1, maxLength: 12 });
// a JS object lists integer-like keys first whatever their insertion: our keys start with a letter
const fieldKey = fc.tuple(fc.constantFrom('a', 'z', 'B'), text).map(([a, b]) => a + b);
const number = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer({ min: -1e9, max: 1e9 }), fc.constantFrom(0, -0, 1e21, 5e-324, 0.1 + 0.2));
const pointArb: fc.Arbitrary<Point> = fc.record({
  measurement: fc.constantFrom('price', 'facility', 'contagion_facility', 'stress'),
  tags: fc.dictionary(text, text, { minKeys: 0, maxKeys: 5 }),
  fields: fc.dictionary(fieldKey, number, { minKeys: 1, maxKeys: 8 }),
  ts: fc.integer({ min: 0, max: 4_102_444_800_000 }),
});

describe('line protocol', () => {
  it('writes every point as npm influx did, byte for byte (field keys in sorted order)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(pointArb, { minLength: 1, maxLength: 20 }), async (drawn) => {
        // npm influx leaves out the time of a point stamped 0 (InfluxDB would stamp it on arrival): not ours to copy
        const points = drawn.map(sortedFields).map((p) => (p.ts === 0 ? { ...p, ts: 1 } : p));
        expect(encodeLines(points)).toBe(await npmInfluxBody(points));
      }),
      { numRuns: 300, seed: 20261205 },
    );
  });

  it('writes the points of every kind of output as npm influx did', async () => {
    const ts = Date.UTC(2026, 0, 5, 10);
    const outputs = [
      { kind: 'price', instrument: 'gpu:rental:H100 SXM', source: 'vast,ai', value: 2.125, ts, eventId: 'e1' },
      { kind: 'index', instrument: 'BTC', value: 97_000.5, sources: 3, stale: false, rejected: 0, ts, eventId: 'e2' },
      { kind: 'alert', entity: 'miner=1', facility: null, rule: 'ltv', from: 'ok', to: 'margin_call', value: 0.81, threshold: 0.8, at: ts, eventId: 'e3' },
      { kind: 'spread', model: 'H100', rentalUsdPerGpuHour: 2, resaleUsdPerUnit: 20_000, rentalYieldAnnual: 0.876, ts, eventId: 'e4' },
    ] as unknown as Parameters<typeof toPoints>[0][];
    const points = outputs.flatMap((o) => toPoints(o, 'run 1')).map(sortedFields);
    expect(points.length).toBe(4);
    expect(encodeLines(points)).toBe(await npmInfluxBody(points));
  });

  it('escapes commas, equals signs and spaces in tags and keys, and nothing else', () => {
    expect(escapeTag('H100 SXM,80GB=x')).toBe('H100\\ SXM\\,80GB\\=x');
    expect(escapeTag('plain-Ωvalue')).toBe('plain-Ωvalue');
    const line = pointLine({ measurement: 'my price', tags: { 'a b': 'c,d', run: 'r' }, fields: { 'v=1': 1.5, w: -2 }, ts: 1_700_000_000_000 });
    expect(line).toBe('my\\ price,a\\ b=c\\,d,run=r v\\=1=1.5,w=-2 1700000000000');
  });

  it('joins the points one per line', () => {
    const p = (v: number): Point => ({ measurement: 'price', tags: { run: 'x' }, fields: { value: v }, ts: 5 });
    expect(encodeLines([p(1), p(2)])).toBe('price,run=x value=1 5\nprice,run=x value=2 5');
    expect(encodeLines([])).toBe('');
  });
});
