/**
 * Poison points on the real InfluxDB (docs/reliability.md "Poison records"): InfluxDB refuses a
 * point stamped in year 9999 and one whose series key is longer than it takes (a 70,000-character
 * tag); the sink says so as SINK_POINTS_REFUSED, and writing the batch through
 * `writeIsolatingRefused` writes every good point and hands exactly the poison ones over.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { isMonitorError } from '../../src/domain/errors.ts';
import { writeIsolatingRefused } from '../../src/sink/refused-points.ts';
import type { Point } from '../../src/sink/sink.ts';
import { influxSink } from '../support/pipeline.ts';
import { influxClient } from '../support/influx-query.ts';
import { serviceEnv, uniquePrefix } from '../support/services.ts';

const env = serviceEnv('default');
const sink = influxSink(env);
const run = uniquePrefix('poison-points');
const T0 = Date.UTC(2025, 9, 1);

afterAll(async () => {
  await sink.deleteRun(run);
  await sink.close();
});

const good = (i: number): Point => ({ measurement: 'price', tags: { instrument: 'BTC', source: `s${i % 3}`, run }, fields: { value: 80_000 + i }, ts: T0 + i * 1000 });

describe('points InfluxDB refuses', () => {
  it('are refused as such, isolated by halving the batch, and every other point is written', async () => {
    const poison: Point[] = [
      { measurement: 'price', tags: { instrument: 'BTC', source: 'year-9999', run }, fields: { value: 1 }, ts: Date.UTC(9999, 0, 1) },
      { measurement: 'price', tags: { instrument: 'BTC', source: 'x'.repeat(70_000), run }, fields: { value: 1 }, ts: T0 },
    ];
    const points = [...Array.from({ length: 150 }, (_, i) => good(i)), poison[0], ...Array.from({ length: 150 }, (_, i) => good(150 + i)), poison[1], good(300)];
    await sink.ensure();
    const whole = await sink.write(points).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isMonitorError(whole) && whole.code).toBe('SINK_POINTS_REFUSED');
    expect(isMonitorError(whole) && whole.retriable).toBe(false);
    const refused: Array<{ point: Point; reason: string }> = [];
    let writes = 0;
    const n = await writeIsolatingRefused(
      points,
      (ps) => {
        writes++;
        return sink.write(ps);
      },
      async (point, reason) => void refused.push({ point, reason }),
    );
    expect(n).toBe(2);
    expect(refused.map((r) => r.point.tags.source.slice(0, 9))).toEqual(['year-9999', 'xxxxxxxxx']);
    for (const r of refused) expect(r.reason).toMatch(/influx write/);
    // about 2 log2(n) writes per refused point, not one per point
    expect(writes).toBeLessThan(40);
    const rows = await influxClient(env).query<{ count: number }>(`SELECT count("value") AS count FROM "price" WHERE "run" = '${run}'`);
    expect(rows[0]?.count).toBe(301);
  });
});
