import { describe, expect, it } from 'vitest';
import { MemorySink } from '../../src/sink/memory-sink.ts';
import type { Point } from '../../src/sink/sink.ts';

const p = (run: string, ts: number, fields: Record<string, number>, instrument = 'BTC'): Point => ({ measurement: 'index', tags: { run, instrument }, fields, ts });

describe('MemorySink', () => {
  it('keeps one point per series and time when the same points are written twice', async () => {
    const sink = new MemorySink();
    const points = [p('live', 1, { value: 1 }), p('live', 2, { value: 2 })];
    await sink.write(points);
    await sink.write(points);
    expect(sink.points('index')).toHaveLength(2);
  });

  it('merges a rewrite into the stored point field by field, as InfluxDB does', async () => {
    const sink = new MemorySink();
    await sink.write([p('live', 1, { value: 1, sources: 3 })]);
    await sink.write([p('live', 1, { value: 5 })]);
    expect(sink.points('index')[0].fields).toEqual({ value: 5, sources: 3 });
  });

  it('tells series apart by any tag, whatever the order of the tags', async () => {
    const sink = new MemorySink();
    await sink.write([
      { measurement: 'price', tags: { source: 'a', instrument: 'BTC', run: 'live' }, fields: { value: 1 }, ts: 1 },
      { measurement: 'price', tags: { run: 'live', instrument: 'BTC', source: 'a' }, fields: { value: 2 }, ts: 1 },
      { measurement: 'price', tags: { run: 'live', instrument: 'BTC', source: 'b' }, fields: { value: 3 }, ts: 1 },
    ]);
    expect(sink.series()).toEqual(['price,instrument=BTC,run=live,source=a', 'price,instrument=BTC,run=live,source=b']);
    expect(sink.points('price').map((x) => x.fields.value)).toEqual([2, 3]);
  });

  it('lists the runs present and deletes one run without touching the others', async () => {
    const sink = new MemorySink();
    await sink.write([p('live', 1, { value: 1 }), p('replay-a', 1, { value: 2 }), p('replay-a', 2, { value: 3 }, 'ETH')]);
    expect(await sink.listRuns()).toEqual(['live', 'replay-a']);
    await sink.deleteRun('replay-a');
    expect(await sink.listRuns()).toEqual(['live']);
    expect(sink.points()).toHaveLength(1);
  });

  it('answers ping until closed and refuses writes after', async () => {
    const sink = new MemorySink();
    await sink.ensure();
    expect(await sink.ping()).toBe(true);
    await sink.close();
    expect(await sink.ping()).toBe(false);
    await expect(sink.write([p('live', 1, { value: 1 })])).rejects.toMatchObject({ code: 'SINK_WRITE_FAILED' });
  });
});
