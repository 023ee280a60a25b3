import { describe, expect, it } from 'vitest';
import type { ConsumedRecord } from '../../src/bus/bus.ts';
import { decodeEntity, EntityDecoder, type DecodedEntity } from '../../src/processor/decode.ts';
import { EntityOwnership } from '../../src/processor/entity-ownership.ts';
import { ContagionStage } from '../../src/processor/contagion-stage.ts';
import { defaultDomainParams } from '../../src/domain/valuation/valuation.ts';
import type { Entity } from '../../src/domain/sheet/sheet.ts';
import { aCatalog, aCatalogModel, aSheet, anEntityRecord } from '../support/builders.ts';

/**
 * The processor's one decoder for its two readers of the entities topic (src/processor/decode.ts
 * EntityDecoder): a record read by both gives both the same objects, and what it gives is always
 * what decodeEntity gives for that record.
 */
const record = (partition: number, offset: number, id: string, value: unknown = { id, versions: [aSheet({ id })] }): ConsumedRecord =>
  anEntityRecord(partition, offset, id, value);
const entityOf = (d: DecodedEntity): Entity | null => {
  if (!d.ok) throw new Error(d.reason);
  return d.value.entity;
};

describe('the entity decoder', () => {
  it('gives the second reader of a record the objects the first one got', () => {
    const decoder = new EntityDecoder();
    const r = record(0, 3, 'a');
    const first = entityOf(decoder.decode(r));
    const second = decoder.decode({ ...r, value: Buffer.from(r.value as Buffer) });
    expect(entityOf(second)).toBe(first);
    expect(second).toEqual(decodeEntity(r));
  });

  it('decodes anew a later record of the entity, an earlier one read again, and the same offset of another partition', () => {
    const decoder = new EntityDecoder();
    const old = record(0, 3, 'a');
    const newer = record(0, 4, 'a', { id: 'a', versions: [aSheet({ id: 'a', cash: 5 })] });
    const held = entityOf(decoder.decode(old));
    const next = decoder.decode(newer);
    expect(entityOf(next)).not.toBe(held);
    expect(next).toEqual(decodeEntity(newer));
    expect(entityOf(next)?.versions[0].cash).toBe(5);
    // a reader still behind gets the old record's own content, not the newer entity
    expect(decoder.decode(old)).toEqual(decodeEntity(old));
    const otherPartition = record(1, 4, 'a');
    expect(decoder.decode(otherPartition)).toEqual(decodeEntity(otherPartition));
  });

  it('forgets an entity at its tombstone, and never keeps what does not decode', () => {
    const decoder = new EntityDecoder();
    const r = record(0, 0, 'a');
    const held = entityOf(decoder.decode(r));
    expect(decoder.decode(record(0, 1, 'a', null))).toEqual({ ok: true, value: { id: 'a', entity: null } });
    const again = decoder.decode(r);
    expect(entityOf(again)).not.toBe(held);
    expect(again).toEqual(decodeEntity(r));
    const bad = record(0, 2, 'b', 'not json');
    expect(decoder.decode(bad)).toEqual({ ok: false, reason: 'not JSON' });
    expect(decoder.decode(bad)).toEqual({ ok: false, reason: 'not JSON' });
  });

  it('is what the entity ownership and the contagion stage decode with when given', () => {
    const decoder = new EntityDecoder();
    const seen: string[] = [];
    const decode = (who: string) => (r: ConsumedRecord) => {
      seen.push(`${who} ${r.partition}:${r.offset}`);
      return decoder.decode(r);
    };
    const ownership = new EntityOwnership(decode('ownership'));
    ownership.assign([0]);
    const r = record(0, 0, 'a');
    const [event] = ownership.accept([r]).events;
    const stage = new ContagionStage({ params: defaultDomainParams(aCatalog([aCatalogModel()])), owns: () => true, writesBook: () => true, decode: decode('stage') });
    stage.applyRecord(r, { initial: true });
    stage.fork({ owns: () => true, writesBook: () => true }).applyRecord(record(0, 1, 'b'));
    expect(seen).toEqual(['ownership 0:0', 'stage 0:0', 'stage 0:1']);
    expect(event.kind === 'entity' ? event.entity : undefined).toBe(entityOf(decoder.decode(r)));
    expect(stage.size).toBe(1);
  });
});
