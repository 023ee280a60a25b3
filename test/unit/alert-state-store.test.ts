import { describe, expect, it } from 'vitest';
import { MemoryBus } from '../../src/bus/memory-bus.ts';
import { AlertStateStore, alertStateRecord } from '../../src/processor/alert-state-store.ts';
import { DEAD_LETTER_STAGE, isAlertLaneOutput, OutputRecords, UNKNOWN_SOURCE } from '../../src/processor/output-records.ts';
import { MEASUREMENT } from '../../src/sink/measurements.ts';
import type { AlertStateRecord, StepOutput } from '../../src/domain/step/step-types.ts';
import type { ConsumedRecord } from '../../src/bus/bus.ts';

const TOPIC = 'ccm.alert-state';
const MIN = 60_000;
const status = (key: string, s: string, since: number): AlertStateRecord => ({ key, status: s, cureDeadline: null, since });

async function storeWith(records: ReadonlyArray<{ run: string; s: AlertStateRecord | null; key?: string; ts: number; asOf?: number }>) {
  const bus = new MemoryBus();
  await bus.ensureTopics([{ topic: TOPIC, partitions: 2, compacted: true }]);
  await bus.publish(
    records.map((r) => (r.s === null ? { topic: TOPIC, key: `${r.run}/${r.key}`, value: null, ts: r.ts } : alertStateRecord(TOPIC, r.run, r.s, r.ts, r.asOf))),
  );
  return new AlertStateStore({ reader: bus, topic: TOPIC, run: 'live' });
}

describe('alert-state store', () => {
  it("reads only this run's records, keys without the run prefix", async () => {
    const store = await storeWith([
      { run: 'live', s: status('a/l1/ltv', 'warn', 1), ts: 0 },
      { run: 'replay1', s: status('a/l1/ltv', 'liquidation', 1), ts: 0 },
    ]);
    const read = await store.read();
    expect(read.map((r) => [r.key, r.value?.status])).toEqual([['a/l1/ltv', 'warn']]);
  });

  it('restores a window-close record only when its window was closed by the checkpoint', async () => {
    const store = await storeWith([
      { run: 'live', s: status('a/l1/ltv', 'warn', 10), ts: 0 },
      // written at the close of the window [MIN, 2 MIN): after a checkpoint at 90 s it is the crashed run's
      { run: 'live', s: status('a/l1/ltv', 'margin_call', 70_000), ts: MIN },
    ]);
    const owns = () => true;
    expect((await store.persistedAt(90_000, MIN, owns)).map((r) => r.status)).toEqual(['warn']);
    expect((await store.persistedAt(2 * MIN, MIN, owns)).map((r) => r.status)).toEqual(['margin_call']);
  });

  it('restores a handover record only when its clock is not past the checkpoint', async () => {
    const store = await storeWith([{ run: 'live', s: status('a/-/dscr', 'breach', 5), ts: 100_000, asOf: 100_000 }]);
    expect(await store.persistedAt(99_999, MIN, () => true)).toEqual([]);
    expect(await store.persistedAt(100_000, MIN, () => true)).toEqual([status('a/-/dscr', 'breach', 5)]);
  });

  it('leaves out keys of entities held elsewhere and keys whose latest record is a tombstone', async () => {
    const store = await storeWith([
      { run: 'live', s: status('a/l1/ltv', 'warn', 1), ts: 0 },
      { run: 'live', s: status('b/l1/ltv', 'warn', 1), ts: 0 },
      { run: 'live', s: null, key: 'a/l1/ltv', ts: 0 },
    ]);
    expect(await store.persistedAt(10 * MIN, MIN, (e) => e === 'a')).toEqual([]);
    expect((await store.persistedAt(10 * MIN, MIN, () => true)).map((r) => r.key)).toEqual(['b/l1/ltv']);
  });

  it('gives the latest status of every key by entity for a handover', async () => {
    const store = await storeWith([
      { run: 'live', s: status('a/l1/ltv', 'warn', 1), ts: 0 },
      { run: 'live', s: status('a/l1/ltv', 'margin_call', 2), ts: MIN },
      { run: 'live', s: status('a/-/stale_data', 'stale', 3), ts: MIN },
      { run: 'live', s: status('b/l2/ltv', 'warn', 1), ts: 0 },
    ]);
    const byEntity = await store.latestByEntity();
    expect([...byEntity.keys()].sort()).toEqual(['a', 'b']);
    expect(byEntity.get('a')?.map((r) => `${r.key}=${r.status}`).sort()).toEqual(['a/-/stale_data=stale', 'a/l1/ltv=margin_call']);
  });

  it('stamps handover records with the clock and marks them asOf it', () => {
    const store = new AlertStateStore({ reader: new MemoryBus(), topic: TOPIC, run: 'demo' });
    expect(store.handoverRecords([status('a/l1/ltv', 'warn', 1)], 42)).toEqual([
      { topic: TOPIC, key: 'demo/a/l1/ltv', ts: 42, value: { key: 'a/l1/ltv', status: 'warn', cureDeadline: null, since: 1, asOf: 42 } },
    ]);
  });
});

describe('output records', () => {
  const topics = { quotes: 'q', entities: 'e', valuations: 'v', alerts: 'a', alertState: 's', deadletter: 'd' };
  const records = new OutputRecords(topics, 'live', () => 1_000);

  it('publishes alerts keyed by entity without the internal kind, with the run and a version', () => {
    const alert: StepOutput = { kind: 'alert', eventId: 'x1', entity: 'acme', facility: 'l1', rule: 'ltv', from: 'ok', to: 'warn', value: 0.7, threshold: 0.65, at: 5 };
    expect(records.of(alert)).toEqual({
      topic: 'a',
      key: 'acme',
      ts: 5,
      value: { v: 1, run: 'live', eventId: 'x1', entity: 'acme', facility: 'l1', rule: 'ltv', from: 'ok', to: 'warn', value: 0.7, threshold: 0.65, at: 5 },
    });
  });

  it('keys alert states by run and alert key, stamped with their window start', () => {
    const out: StepOutput = { kind: 'alert_state', key: 'acme/l1/ltv', status: 'warn', cureDeadline: null, since: 3, eventId: 'e', ts: 60_000 };
    expect(records.of(out)).toEqual({ topic: 's', key: 'live/acme/l1/ltv', ts: 60_000, value: { key: 'acme/l1/ltv', status: 'warn', cureDeadline: null, since: 3 } });
  });

  it('gives points-only outputs no record', () => {
    expect(records.of({ kind: 'price', eventId: 'p', instrument: 'BTC', source: 's', ts: 1, value: 1 })).toBeNull();
  });

  it('routes alerts and index changes to the alert lane, and nothing else', () => {
    expect(isAlertLaneOutput({ kind: 'index', eventId: 'i', instrument: 'BTC', ts: 0, value: 1, sources: 1, stale: false, rejected: 0, bySource: {} })).toBe(true);
    expect(isAlertLaneOutput({ kind: 'price', eventId: 'p', instrument: 'BTC', source: 's', ts: 1, value: 1 })).toBe(false);
  });

  it("dead-letters a record with its raw bytes, reason and place, counted under the reason's first word", () => {
    const r: ConsumedRecord = { topic: 'q', partition: 2, offset: '7', key: 'BTC', value: Buffer.from('{"source":"kraken","price":-1}'), ts: 1_700_000_000_009 };
    const d = records.deadLetter(r, 'schema: price: must be positive', DEAD_LETTER_STAGE.quotes);
    expect(d.reasonCode).toBe('schema');
    expect(d.record).toEqual({
      topic: 'd',
      key: 'kraken',
      ts: 1_000,
      value: { raw: '{"source":"kraken","price":-1}', reason: 'schema: price: must be positive', source: 'kraken', ts: 1_700_000_000_009, topic: 'q', partition: 2, offset: '7', stage: 'quotes' },
    });
    expect(d.point).toEqual({ measurement: MEASUREMENT.deadletter, tags: { source: 'kraken', reason: 'schema', run: 'live' }, fields: { count: 1 }, ts: 1_700_000_000_009 });
    const notJson = records.deadLetter({ ...r, value: Buffer.from('garbage') }, 'not JSON', DEAD_LETTER_STAGE.entities);
    expect(notJson.record.key).toBe(UNKNOWN_SOURCE);
  });
});
