import { describe, expect, it } from 'vitest';
import { HistoryStore } from '../../src/board/history-store.ts';
import type { HistoryPoint } from '../../src/board/protocol.ts';
import { mulberry32 } from '../../src/ingest/simulate/prng.ts';

/** The board's history as it was kept before the store: an array of point objects per entity, spliced to the limit. */
class NaiveHistory {
  readonly byEntity = new Map<string, HistoryPoint[]>();
  push(entity: string, ts: number, facilities: readonly { id: string; ltv: number | null }[], limit: number): void {
    const h = this.byEntity.get(entity) ?? [];
    h.push({ ts, ltv: Object.fromEntries(facilities.map((f) => [f.id, f.ltv])) });
    if (h.length > limit) h.splice(0, h.length - limit);
    this.byEntity.set(entity, h);
  }
}

describe('the board history store', () => {
  it('gives back exactly the points an array of objects would keep: nulls, changed facilities, a shrinking limit', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const rnd = mulberry32(seed);
      const store = new HistoryStore();
      const naive = new NaiveHistory();
      const entities = ['a', 'b', 'c', 'd'];
      const facilitySets = [['f1'], ['f1', 'f2'], ['f2', 'f1', 'f3'], ['f3'], [], ['f4', 'f1']];
      const current = new Map(entities.map((e) => [e, facilitySets[0]!]));
      let limit = 30;
      for (let i = 0; i < 600; i++) {
        const e = entities[Math.floor(rnd() * entities.length)]!;
        if (rnd() < 0.05) current.set(e, facilitySets[Math.floor(rnd() * facilitySets.length)]!);
        if (rnd() < 0.02) limit = Math.max(1, limit - Math.floor(rnd() * 10));
        const facilities = current.get(e)!.map((id) => ({ id, ltv: rnd() < 0.15 ? null : rnd() * 1.2 }));
        store.push(e, 1_000 * i, facilities, limit);
        naive.push(e, 1_000 * i, facilities, limit);
        expect(store.last(e)).toEqual(naive.byEntity.get(e)!.at(-1));
      }
      for (const e of entities) expect(store.points(e), `seed ${seed}, entity ${e}`).toEqual(naive.byEntity.get(e) ?? []);
      expect([...store.entities()].sort()).toEqual([...naive.byEntity.keys()].sort());
    }
  });

  it('keeps a point of every entity up to the limit and no more', () => {
    const store = new HistoryStore();
    for (let i = 0; i < 25; i++) store.push('x', i, [{ id: 'f', ltv: i / 100 }], 20);
    const points = store.points('x');
    expect(points.map((p) => p.ts)).toEqual(Array.from({ length: 20 }, (_, i) => i + 5));
    expect(points.at(-1)).toEqual({ ts: 24, ltv: { f: 0.24 } });
    expect(store.points('nobody')).toEqual([]);
    expect(store.last('nobody')).toBeUndefined();
  });
});
