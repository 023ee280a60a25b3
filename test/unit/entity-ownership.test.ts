import { describe, expect, it } from 'vitest';
import { EntityOwnership } from '../../src/processor/entity-ownership.ts';
import type { ConsumedRecord } from '../../src/bus/bus.ts';
import type { AlertStateRecord } from '../../src/domain/step/step-types.ts';
import { RELEASED_ENTITY_TS } from '../../src/domain/step/step-types.ts';
import { aSheet } from './step-helpers.ts';
import { anEntityRecord } from '../support/builders.ts';

const entityRecord = (partition: number, offset: number, id: string, value: unknown = { id, versions: [aSheet({ id })] }): ConsumedRecord =>
  anEntityRecord(partition, offset, id, value);
const ids = (events: ReadonlyArray<{ kind: string; id?: string }>) => events.map((e) => e.id);

describe('entity ownership', () => {
  it('turns the records of owned partitions into entity events and ignores the others', () => {
    const o = new EntityOwnership();
    o.assign([0]);
    const { events, rejected } = o.accept([entityRecord(0, 0, 'a'), entityRecord(1, 0, 'b'), entityRecord(0, 1, 'c')]);
    expect(ids(events)).toEqual(['a', 'c']);
    expect(rejected).toEqual([]);
    expect(o.owns('a') && o.owns('c') && !o.owns('b')).toBe(true);
    expect(o.entityCount).toBe(2);
  });

  it('tells when the owned partitions are read to the end offsets of their assignment', () => {
    const o = new EntityOwnership();
    o.assign([0, 1]);
    o.readTo([
      { partition: 0, offset: '2' },
      { partition: 1, offset: '1' },
      { partition: 2, offset: '9' },
    ]);
    o.accept([entityRecord(0, 0, 'a'), entityRecord(0, 1, 'b')]);
    expect(o.isReadToEnd()).toBe(false);
    o.accept([entityRecord(1, 0, 'c')]);
    expect(o.isReadToEnd()).toBe(true);
  });

  it('releases the entities of a revoked partition with the release timestamp, not as tombstones', () => {
    const o = new EntityOwnership();
    o.assign([0, 1]);
    o.accept([entityRecord(0, 0, 'a'), entityRecord(1, 0, 'b')]);
    const a = o.assign([1, 2]);
    expect(a.released).toEqual([{ kind: 'entity', id: 'a', entity: null, ts: RELEASED_ENTITY_TS }]);
    expect([...a.releasedIds]).toEqual(['a']);
    expect(a.added).toEqual([2]);
    expect(o.owns('a')).toBe(false);
    expect(o.partitions).toEqual([1, 2]);
  });

  it('does not apply again the records of a partition kept through a rebalance', () => {
    const o = new EntityOwnership();
    o.assign([0]);
    o.accept([entityRecord(0, 0, 'a'), entityRecord(0, 1, 'b')]);
    o.assign([0]);
    // the group never commits `entities`: a kept partition is re-delivered from its start
    const again = o.accept([entityRecord(0, 0, 'a'), entityRecord(0, 1, 'b'), entityRecord(0, 2, 'c')]);
    expect(ids(again.events)).toEqual(['c']);
  });

  it('applies a revoked and re-assigned partition from its start again', () => {
    const o = new EntityOwnership();
    o.assign([0]);
    o.accept([entityRecord(0, 0, 'a')]);
    o.assign([]);
    o.assign([0]);
    expect(ids(o.accept([entityRecord(0, 0, 'a')]).events)).toEqual(['a']);
  });

  it('gives an entity taken over the statuses its previous owner held, only when it is new here', () => {
    const o = new EntityOwnership();
    o.assign([0]);
    o.accept([entityRecord(0, 0, 'a')]);
    o.assign([0, 1]);
    o.readTo([
      { partition: 0, offset: '1' },
      { partition: 1, offset: '1' },
    ]);
    const statuses: AlertStateRecord[] = [{ key: 'b/loan-1/ltv', status: 'margin_call', cureDeadline: 5, since: 1 }];
    o.takeOver(new Map([
      ['a', [{ key: 'a/loan-1/ltv', status: 'warn', cureDeadline: null, since: 1 }]],
      ['b', statuses],
    ]));
    const { events } = o.accept([entityRecord(0, 0, 'a'), entityRecord(1, 0, 'b')]);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ kind: 'entity', id: 'b', statuses });
    // read to the end: the handover is over, a later new entity starts from ok
    o.readTo([{ partition: 1, offset: '3' }]);
    expect(o.accept([entityRecord(1, 1, 'c')]).events[0]).not.toHaveProperty('statuses');
  });

  it('removes an entity on a tombstone and sends undecodable records back with their reason', () => {
    const o = new EntityOwnership();
    o.assign([0]);
    o.accept([entityRecord(0, 0, 'a')]);
    const { events, rejected } = o.accept([entityRecord(0, 1, 'a', null), entityRecord(0, 2, 'x', 'not json')]);
    expect(events).toEqual([{ kind: 'entity', id: 'a', entity: null, ts: 1_001 }]);
    expect(o.owns('a')).toBe(false);
    expect(rejected.map((r) => [r.record.offset, r.reason])).toEqual([['2', 'not JSON']]);
  });
});
