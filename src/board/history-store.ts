import type { HistoryPoint } from './protocol.ts';

/**
 * One entity's points, oldest first, in one typed array: `len` rows of `1 + ids.length` numbers,
 * the point's time then its facilities' LTVs (NaN for a null LTV). `absent` marks, once the
 * facilities changed, the LTVs a point did not have (null while none is absent: the usual case).
 */
interface Series {
  ids: string[];
  rows: Float64Array;
  absent: Uint8Array | null;
  len: number;
}

const width = (s: { readonly ids: readonly string[] }): number => 1 + s.ids.length;
const newSeries = (ids: string[], cap: number, withAbsent: boolean): Series => ({ ids, rows: new Float64Array(cap * (1 + ids.length)), absent: withAbsent ? new Uint8Array(cap * ids.length) : null, len: 0 });
const capacity = (s: Series): number => s.rows.length / width(s);
const sameIds = (a: readonly string[], b: readonly { readonly id: string }[]): boolean => a.length === b.length && a.every((id, i) => id === b[i]!.id);

/**
 * The board's recent LTV history per entity (what the snapshot's charts draw), kept in one typed
 * array per entity: 8 bytes per number instead of a `{ ts, ltv: {...} }` object per point (some
 * 260 bytes of heap). The board keeps 200,000 points in all (`BOARD_HISTORY_TOTAL`), which as
 * objects were some 52 MB of a long-running `ccm process` at 10,000 entities. `points` gives back
 * the points pushed: each point's facilities, a null LTV as null (a NaN one too: JSON says null).
 */
export class HistoryStore {
  private readonly series = new Map<string, Series>();

  /** Appends a point, dropping the oldest ones beyond `limit`. */
  push(entity: string, ts: number, facilities: readonly { readonly id: string; readonly ltv: number | null }[], limit: number): void {
    let s = this.series.get(entity);
    if (s === undefined) {
      s = newSeries(
        facilities.map((f) => f.id),
        Math.min(limit, 4),
        false,
      );
      this.series.set(entity, s);
    } else if (!sameIds(s.ids, facilities)) {
      s = relayout(s, facilities);
      this.series.set(entity, s);
    }
    if (s.len >= limit) dropOldest(s, s.len - limit + 1);
    if (s.len === capacity(s)) {
      s = resized(s, Math.max(1, Math.min(limit, capacity(s) * 2)));
      this.series.set(entity, s);
    }
    const n = s.ids.length;
    const at = s.len * (n + 1);
    s.rows[at] = ts;
    // the entity's facilities come first in `ids`, in their order (relayout keeps it so); any after them are absent
    for (let j = 0; j < n; j++) {
      const f = j < facilities.length ? facilities[j] : undefined;
      s.rows[at + 1 + j] = f?.ltv ?? NaN;
      if (s.absent !== null) s.absent[s.len * n + j] = f === undefined ? 1 : 0;
    }
    s.len++;
  }

  /** The entity's points, oldest first (empty when it has none). */
  points(entity: string): HistoryPoint[] {
    const s = this.series.get(entity);
    return s === undefined ? [] : allPoints(s);
  }

  /** The entity's latest point. */
  last(entity: string): HistoryPoint | undefined {
    const s = this.series.get(entity);
    return s === undefined || s.len === 0 ? undefined : pointAt(s, s.len - 1);
  }

  entities(): IterableIterator<string> {
    return this.series.keys();
  }
}

function allPoints(s: Series): HistoryPoint[] {
  const out: HistoryPoint[] = [];
  for (let i = 0; i < s.len; i++) out.push(pointAt(s, i));
  return out;
}

function pointAt(s: Series, i: number): HistoryPoint {
  const ltv: Record<string, number | null> = {};
  const n = s.ids.length;
  const at = i * (n + 1);
  for (let j = 0; j < n; j++) {
    if (s.absent !== null && s.absent[i * n + j] === 1) continue;
    const v = s.rows[at + 1 + j]!;
    ltv[s.ids[j]!] = Number.isNaN(v) ? null : v;
  }
  return { ts: s.rows[at]!, ltv };
}

function dropOldest(s: Series, k: number): void {
  const n = s.ids.length;
  s.rows.copyWithin(0, k * (n + 1), s.len * (n + 1));
  s.absent?.copyWithin(0, k * n, s.len * n);
  s.len -= k;
}

function resized(s: Series, cap: number): Series {
  const r = newSeries(s.ids, cap, s.absent !== null);
  r.rows.set(s.rows.subarray(0, s.len * width(s)));
  if (s.absent !== null) r.absent!.set(s.absent.subarray(0, s.len * s.ids.length));
  r.len = s.len;
  return r;
}

/** The facilities changed (a new sheet version): the points kept move to the new facilities, then the old ones they still name. */
function relayout(s: Series, facilities: readonly { readonly id: string }[]): Series {
  const old = allPoints(s);
  const named = new Set(old.flatMap((p) => Object.keys(p.ltv)));
  const ids = [...facilities.map((f) => f.id), ...s.ids.filter((id) => named.has(id) && !facilities.some((f) => f.id === id))];
  const r = newSeries(ids, Math.max(4, s.len + 1), true);
  const n = ids.length;
  for (const p of old) {
    const at = r.len * (n + 1);
    r.rows[at] = p.ts;
    ids.forEach((id, j) => {
      const v = Object.hasOwn(p.ltv, id) ? p.ltv[id] : undefined;
      r.rows[at + 1 + j] = v ?? NaN;
      r.absent![r.len * n + j] = v === undefined ? 1 : 0;
    });
    r.len++;
  }
  return r;
}
