import type { TopicOffset } from '../bus/bus.ts';

/**
 * Which quote offsets may be committed while several chunks of outputs are being written
 * (docs/processor.md "The write pipeline"). The merger's `committable()` knows only what is still
 * buffered in it: once records are released they are out of its buffer, but their outputs may not
 * be acknowledged yet. The ledger holds, per partition, the smallest offset of every record that
 * was released and whose outputs are not acknowledged:
 *
 * - `open(records)` registers a drain's released records at once (call it in the same synchronous
 *   section as `release`, so no commit can see them neither buffered nor registered);
 * - `ReleasedBatch.cut(to)` turns the records stepped so far into a `Segment`, pending until the
 *   pipeline acknowledges every output of it (`ack`);
 * - `cap(committable)` lowers each partition's offset to the smallest one still pending (in a
 *   segment or in the part of an open batch not yet cut).
 *
 * A segment that never gets acknowledged (a failed write) holds the commits back for good.
 * Records of a partition can be released out of offset order (the merger orders by event time),
 * which is why the bound is a minimum per partition and not the last record's offset.
 */
export interface Segment {
  /** Per partition, the smallest offset among the segment's records. */
  readonly mins: ReadonlyMap<number, bigint>;
  /** How many records the segment holds. */
  readonly records: number;
}

const BLOCK = 512;

function mergeMin(into: Map<number, bigint>, partition: number, offset: bigint): void {
  const cur = into.get(partition);
  if (cur === undefined || offset < cur) into.set(partition, offset);
}

export class ReleasedBatch {
  private readonly partitions: number[];
  private readonly offsets: bigint[];
  /** suffixMins[b]: per partition, the smallest offset of records [b * BLOCK, length). */
  private readonly suffixMins: Array<Map<number, bigint>>;
  private from = 0;

  constructor(
    private readonly ledger: CommitLedger,
    records: ReadonlyArray<{ readonly partition: number; readonly offset: string }>,
  ) {
    this.partitions = records.map((r) => r.partition);
    this.offsets = records.map((r) => BigInt(r.offset));
    const blocks = Math.ceil(records.length / BLOCK);
    this.suffixMins = new Array<Map<number, bigint>>(blocks + 1);
    this.suffixMins[blocks] = new Map();
    const acc = new Map<number, bigint>();
    for (let j = records.length - 1; j >= 0; j--) {
      mergeMin(acc, this.partitions[j], this.offsets[j]);
      if (j % BLOCK === 0) this.suffixMins[j / BLOCK] = new Map(acc);
    }
  }

  get length(): number {
    return this.offsets.length;
  }

  /** Records not yet cut into a segment. */
  get remaining(): number {
    return this.offsets.length - this.from;
  }

  /** Per partition, the smallest offset of the records not yet cut. */
  tailMins(): Map<number, bigint> {
    if (this.from >= this.offsets.length) return new Map();
    const nextBlock = Math.ceil(this.from / BLOCK);
    const out = new Map(this.suffixMins[nextBlock]);
    for (let j = this.from; j < Math.min(nextBlock * BLOCK, this.offsets.length); j++) mergeMin(out, this.partitions[j], this.offsets[j]);
    return out;
  }

  /** Records [cut so far, to) become a pending segment. */
  cut(to: number): Segment {
    if (to < this.from || to > this.offsets.length) throw new RangeError(`cut at ${to} outside [${this.from}, ${this.offsets.length}]`);
    const mins = new Map<number, bigint>();
    for (let j = this.from; j < to; j++) mergeMin(mins, this.partitions[j], this.offsets[j]);
    const seg: Segment = { mins, records: to - this.from };
    this.from = to;
    this.ledger.hold(seg);
    if (this.from === this.offsets.length) this.ledger.close(this);
    return seg;
  }
}

export class CommitLedger {
  private readonly pending = new Set<Segment>();
  private readonly open_ = new Set<ReleasedBatch>();

  /** Registers released records as not yet written; cut them into segments as they are stepped. */
  open(records: ReadonlyArray<{ readonly partition: number; readonly offset: string }>): ReleasedBatch {
    const b = new ReleasedBatch(this, records);
    if (b.length > 0) this.open_.add(b);
    return b;
  }

  /** @internal ReleasedBatch.cut */
  hold(seg: Segment): void {
    if (seg.records > 0) this.pending.add(seg);
  }

  /** @internal ReleasedBatch.cut */
  close(b: ReleasedBatch): void {
    this.open_.delete(b);
  }

  /** Every output derived from the segment's records is acknowledged. */
  ack(seg: Segment): void {
    this.pending.delete(seg);
  }

  /** Segments waiting for their acknowledgement. */
  get pendingSegments(): number {
    return this.pending.size;
  }

  /** Records released but not yet written (pending segments and open batches). */
  get unwrittenRecords(): number {
    let n = 0;
    for (const s of this.pending) n += s.records;
    for (const b of this.open_) n += b.remaining;
    return n;
  }

  /** Per partition, the smallest offset released and not yet written. */
  floor(): Map<number, bigint> {
    const out = new Map<number, bigint>();
    for (const s of this.pending) for (const [p, o] of s.mins) mergeMin(out, p, o);
    for (const b of this.open_) for (const [p, o] of b.tailMins()) mergeMin(out, p, o);
    return out;
  }

  /** `committable` (the merger's) lowered to what is written. */
  cap(committable: readonly TopicOffset[]): TopicOffset[] {
    const floor = this.floor();
    if (floor.size === 0) return [...committable];
    return committable.map((c) => {
      const h = floor.get(c.partition);
      return h !== undefined && h < BigInt(c.offset) ? { partition: c.partition, offset: h.toString() } : c;
    });
  }
}
