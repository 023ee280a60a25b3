import type { HistoryPoint } from './protocol.ts';

/** Of one facility at one point: absent (not a facility of the entity then), a null LTV, a number. */
const ABSENT = 0;
const NULL = 1;
const NUMBER = 2;

/** One entity's points, oldest first, in flat typed arrays: `len` points of `ids.length` LTVs each. */
interface Series {
  ids: string[];
  ts: Float64Array;
  ltv: Float64Array;
  kind: Uint8Array;
  len: number;
}

const emptySeries = (ids: string[], cap: number): Series => ({ ids, ts: new Float64Array(cap), ltv: new Float64Array(cap * ids.length), kind: new Uint8Array(cap * ids.length), len: 0 });

const sameIds = (a: readonly string[], b: readonly { readonly id: string }[]): boolean => a.length === b.length && a.every((id, i) => id === b[i]!.id);

/**
 * The board's recent LTV history per entity (what the snapshot's charts draw), kept in typed
 * arrays: about 8 + 9 bytes per facility a point instead of a `{ ts, ltv: {...} }` object per point
 * (some 260 bytes of heap). The board keeps 200,000 points in all (`BOARD_HISTORY_TOTAL`), which as
 * objects were some 52 MB of a long-running `ccm process` at 10,000 entities and here are a few.
 * `points` gives back exactly the points pushed (the facilities of each point, null LTVs as null).
 */
export class HistoryStore {
  private readonly series = new Map<string, Series>();

  /** Appends a point, dropping the oldest ones beyond `limit`. */
  push(entity: string, ts: number, facilities: readonly { readonly id: string; readonly ltv: number | null }[], limit: number): void {
    let s = this.series.get(entity);
    if (s === undefined) {
      s = emptySeries(
        facilities.map((f) => f.id),
        Math.min(limit, 4),
      );
      this.series.set(entity, s);
    } else if (!sameIds(s.ids, facilities)) {
      s = this.relayout(s, facilities);
      this.series.set(entity, s);
    }
    if (s.len >= limit) this.dropOldest(s, s.len - limit + 1);
    if (s.len === s.ts.length) s = this.grow(entity, s, limit);
    const n = s.ids.length;
    s.ts[s.len] = ts;
    for (let j = 0; j < n; j++) {
      const at = s.len * n + j;
      // the entity's facilities come first in `ids`, in their order (relayout keeps it so)
      const f = j < facilities.length ? facilities[j] : undefined;
      if (f === undefined) s.kind[at] = ABSENT;
      else if (f.ltv === null) s.kind[at] = NULL;
      else {
        s.kind[at] = NUMBER;
        s.ltv[at] = f.ltv;
      }
    }
    s.len++;
  }

  /** The entity's points, oldest first (empty when it has none). */
  points(entity: string): HistoryPoint[] {
    const s = this.series.get(entity);
    if (s === undefined) return [];
    const out: HistoryPoint[] = [];
    for (let i = 0; i < s.len; i++) out.push(this.pointAt(s, i));
    return out;
  }

  /** The entity's latest point. */
  last(entity: string): HistoryPoint | undefined {
    const s = this.series.get(entity);
    return s === undefined || s.len === 0 ? undefined : this.pointAt(s, s.len - 1);
  }

  entities(): IterableIterator<string> {
    return this.series.keys();
  }

  private pointAt(s: Series, i: number): HistoryPoint {
    const ltv: Record<string, number | null> = {};
    const n = s.ids.length;
    for (let j = 0; j < n; j++) {
      const k = s.kind[i * n + j];
      if (k === NULL) ltv[s.ids[j]!] = null;
      else if (k === NUMBER) ltv[s.ids[j]!] = s.ltv[i * n + j]!;
    }
    return { ts: s.ts[i]!, ltv };
  }

  private dropOldest(s: Series, k: number): void {
    const n = s.ids.length;
    s.ts.copyWithin(0, k, s.len);
    s.ltv.copyWithin(0, k * n, s.len * n);
    s.kind.copyWithin(0, k * n, s.len * n);
    s.len -= k;
  }

  private grow(entity: string, s: Series, limit: number): Series {
    const g = emptySeries(s.ids, Math.max(1, Math.min(limit, s.ts.length * 2)));
    g.ts.set(s.ts.subarray(0, s.len));
    g.ltv.set(s.ltv.subarray(0, s.len * s.ids.length));
    g.kind.set(s.kind.subarray(0, s.len * s.ids.length));
    g.len = s.len;
    this.series.set(entity, g);
    return g;
  }

  /** The facilities changed (a new sheet version): the points kept move to the new facilities plus the old ones they still name. */
  private relayout(s: Series, facilities: readonly { readonly id: string }[]): Series {
    const old: HistoryPoint[] = [];
    for (let i = 0; i < s.len; i++) old.push(this.pointAt(s, i));
    const named = new Set(old.flatMap((p) => Object.keys(p.ltv)));
    const ids = [...facilities.map((f) => f.id), ...s.ids.filter((id) => named.has(id) && !facilities.some((f) => f.id === id))];
    const r = emptySeries(ids, Math.max(4, s.len + 1));
    for (const p of old) this.write(r, p);
    return r;
  }

  private write(s: Series, p: HistoryPoint): void {
    const n = s.ids.length;
    s.ts[s.len] = p.ts;
    for (let j = 0; j < n; j++) {
      const at = s.len * n + j;
      const id = s.ids[j]!;
      const v = Object.hasOwn(p.ltv, id) ? p.ltv[id] : undefined;
      if (v === undefined) s.kind[at] = ABSENT;
      else if (v === null) s.kind[at] = NULL;
      else {
        s.kind[at] = NUMBER;
        s.ltv[at] = v;
      }
    }
    s.len++;
  }
}
