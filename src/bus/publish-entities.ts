import type { Bus, ProduceRecord } from './bus.ts';
import type { Entity } from '../domain/sheet/sheet.ts';

/**
 * The `entities` topic contract (ARCHITECTURE.md "Kafka contracts"): compacted, keyed by entity
 * id, each value the entity's whole list of sheet versions `{ id, versions }`; a null value (a
 * tombstone) removes an entity. Publishes a book: every entity of it, and a tombstone for each
 * entity alive on the topic that the book no longer holds. Used by `ccm entities publish`, the
 * demo of `ccm run`, replays (their own entities topic) and the tests and benchmarks.
 */
export async function publishEntities(
  bus: Pick<Bus, 'readToEnd' | 'publish'>,
  topic: string,
  entities: readonly Entity[],
  nowMs: number,
): Promise<{ published: number; removed: string[] }> {
  const present = new Map<string, boolean>();
  for (const r of await bus.readToEnd(topic)) if (r.key !== null) present.set(r.key, r.value !== null);
  const ids = new Set(entities.map((e) => e.id));
  const records: ProduceRecord[] = entities.map((e) => ({ topic, key: e.id, value: { id: e.id, versions: e.versions }, ts: nowMs }));
  const removed = [...present].filter(([id, alive]) => alive && !ids.has(id)).map(([id]) => id);
  for (const id of removed) records.push({ topic, key: id, value: null, ts: nowMs });
  await bus.publish(records);
  return { published: entities.length, removed };
}
