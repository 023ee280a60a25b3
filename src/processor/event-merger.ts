import type { ConsumedRecord } from '../bus/bus.ts';
import { compareEventOrder } from '../bus/event-order.ts';

/**
 * Merges records of several partitions in event-time order behind a watermark (ARCHITECTURE.md
 * runtime rule 2). The watermark is the smallest "latest event time" over the partitions that
 * still hold data back; a partition no longer holds it back once it is caught up with its end
 * offset and has nothing buffered (`markCaughtUp`). Records with `ts` strictly below the
 * watermark are released in `(ts, partition, offset)` order, so a run through Kafka orders
 * exactly as the in-memory sort does. A record that arrives behind what was already released is
 * released at once and reported as late.
 */
export interface Released {
  readonly record: ConsumedRecord;
  /** How far (ms) behind the last released event time it arrived; 0 when in order. */
  readonly lateByMs: number;
}

const before = (a: ConsumedRecord, b: ConsumedRecord): boolean => compareEventOrder(a, b) < 0;

/** A binary min-heap on (ts, partition, offset). */
class RecordHeap {
  private readonly items: ConsumedRecord[] = [];
  get size(): number {
    return this.items.length;
  }
  /** The records held, in heap order. */
  records(): readonly ConsumedRecord[] {
    return this.items;
  }
  peek(): ConsumedRecord | undefined {
    return this.items[0];
  }
  push(r: ConsumedRecord): void {
    const a = this.items;
    a.push(r);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(a[i], a[p])) break;
      [a[i], a[p]] = [a[p], a[i]];
      i = p;
    }
  }
  pop(): ConsumedRecord | undefined {
    const a = this.items;
    if (a.length === 0) return undefined;
    const top = a[0];
    const last = a.pop() as ConsumedRecord;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && before(a[l], a[m])) m = l;
        if (r < a.length && before(a[r], a[m])) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }
}

interface PartitionState {
  maxTs: number;
  buffered: number;
  caughtUp: boolean;
  /** Next offset after the last record seen. */
  nextOffset: bigint;
}

export class EventMerger {
  private readonly heap = new RecordHeap();
  private readonly partitions = new Map<number, PartitionState>();
  private lastReleasedTs = -Infinity;

  constructor(partitions: Iterable<number>) {
    for (const p of partitions) this.partitions.set(p, { maxTs: -Infinity, buffered: 0, caughtUp: false, nextOffset: -1n });
  }

  get bufferedCount(): number {
    return this.heap.size;
  }

  get watermarkTs(): number {
    return this.lastReleasedTs;
  }

  private part(p: number): PartitionState {
    let s = this.partitions.get(p);
    if (!s) {
      s = { maxTs: -Infinity, buffered: 0, caughtUp: false, nextOffset: -1n };
      this.partitions.set(p, s);
    }
    return s;
  }

  /** After a restart: the partition resumes at `nextOffset` (its committed offset). */
  seed(partition: number, nextOffset: bigint): void {
    const s = this.part(partition);
    if (nextOffset > s.nextOffset) s.nextOffset = nextOffset;
  }

  push(records: readonly ConsumedRecord[]): void {
    for (const r of records) {
      const s = this.part(r.partition);
      // A batch delivered again after a rebalance (offsets not yet committed) is already here.
      if (BigInt(r.offset) < s.nextOffset) continue;
      if (r.ts > s.maxTs) s.maxTs = r.ts;
      s.buffered++;
      s.caughtUp = false;
      const next = BigInt(r.offset) + 1n;
      if (next > s.nextOffset) s.nextOffset = next;
      this.heap.push(r);
    }
  }

  /**
   * Partitions whose next offset has reached their end offset hold the watermark back no more:
   * nothing older can come from them until they deliver again.
   */
  markCaughtUp(endOffsets: ReadonlyArray<{ partition: number; offset: string }>): void {
    for (const e of endOffsets) {
      const s = this.part(e.partition);
      const end = BigInt(e.offset);
      if (end === 0n || (s.nextOffset >= 0n && s.nextOffset >= end)) s.caughtUp = true;
    }
  }

  /** Partitions not known to be caught up: the merger may be waiting on them. */
  waitingOn(): number[] {
    const out: number[] = [];
    for (const [p, s] of this.partitions) if (!s.caughtUp) out.push(p);
    return out;
  }

  /** Releases what the watermark allows; `all` releases everything buffered (end of input, shutdown drain). */
  release(all = false): Released[] {
    let wm = Infinity;
    if (!all) {
      for (const s of this.partitions.values()) {
        if (s.caughtUp) continue;
        if (s.buffered === 0) {
          wm = -Infinity; // a partition that may still deliver older data holds everything back
          break;
        }
        if (s.maxTs < wm) wm = s.maxTs;
      }
    }
    const out: Released[] = [];
    for (;;) {
      const top = this.heap.peek();
      if (!top) break;
      if (!all && !(top.ts < wm)) {
        // Equal timestamps: release only when every other partition has moved past them.
        break;
      }
      this.heap.pop();
      const s = this.part(top.partition);
      s.buffered--;
      const lateByMs = top.ts < this.lastReleasedTs ? this.lastReleasedTs - top.ts : 0;
      if (top.ts > this.lastReleasedTs) this.lastReleasedTs = top.ts;
      out.push({ record: top, lateByMs });
    }
    return out;
  }

  /**
   * How far the records are applied: per partition, the next offset after everything seen, and
   * whether a record below it is still buffered (seen, not yet released).
   */
  position(): { readonly next: ReadonlyMap<number, bigint>; isBuffered(partition: number, offset: string): boolean } {
    const next = new Map<number, bigint>();
    for (const [p, s] of this.partitions) if (s.nextOffset >= 0n) next.set(p, s.nextOffset);
    const buffered = new Set(this.heap.records().map((r) => `${r.partition}/${r.offset}`));
    return { next, isBuffered: (partition, offset) => buffered.has(`${partition}/${offset}`) };
  }

  /**
   * The offsets safe to commit: per partition, the smallest offset still buffered (not yet
   * processed), else the next offset after everything seen.
   */
  committable(): Array<{ partition: number; offset: string }> {
    const minBuffered = new Map<number, bigint>();
    // The heap is small relative to a fetch; a linear scan at commit time is cheap enough.
    for (const r of this.heap.records()) {
      const o = BigInt(r.offset);
      const m = minBuffered.get(r.partition);
      if (m === undefined || o < m) minBuffered.set(r.partition, o);
    }
    const out: Array<{ partition: number; offset: string }> = [];
    for (const [p, s] of this.partitions) {
      if (s.nextOffset < 0n) continue;
      const o = minBuffered.get(p) ?? s.nextOffset;
      out.push({ partition: p, offset: o.toString() });
    }
    return out.sort((a, b) => a.partition - b.partition);
  }
}
