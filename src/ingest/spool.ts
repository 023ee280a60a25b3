import { appendFileSync, mkdirSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { ErrorCode, MonitorError } from '../domain/errors.ts';
import { join } from 'node:path';
import type { ProduceRecord } from '../bus/bus.ts';

/**
 * The ingestor's outbox while Kafka is away (docs/reliability.md "Ingest while Kafka is away"): a
 * FIFO of records not yet acknowledged by Kafka, bounded in memory and on disk.
 *
 *   [ disk segments: the oldest ] [ memory: the newest, at most memoryRecords ]
 *
 * - New records go to memory. When memory holds more than `memoryRecords`, its oldest records are
 *   appended to the newest disk segment (a segment is a file of NDJSON lines, cut at
 *   `segmentBytes`): the disk only ever holds records older than memory's, so order is kept.
 * - The sender takes the oldest records (disk first, then memory) and acknowledges them once Kafka
 *   has; a disk segment is deleted when all its records are acknowledged.
 * - When the disk holds more than `maxBytes`, its oldest segment is dropped whole (the oldest
 *   quotes matter least to a live monitor) and its records are counted as dropped, per source.
 *   Without a directory, memory alone drops its oldest records past `memoryRecords`.
 * - `persist()` (on stop) writes memory to disk, so a restart sends what a stop could not; a
 *   restart reads the segments left in the directory first. A crash (kill -9) loses what was in
 *   memory (at most `memoryRecords`) and may send again the acknowledged part of the head segment
 *   (at most one segment); the processor's points are idempotent, so a resent quote changes nothing.
 *
 * Synchronous file I/O on purpose: it runs only while Kafka is down, on small files, and it keeps
 * the order of appends and reads without locks.
 */
export interface SpoolOptions {
  /** Directory of the disk segments; null = memory only. */
  readonly dir: string | null;
  /** Records kept in memory before they go to disk. */
  readonly memoryRecords: number;
  /** Bytes the disk segments may hold in all; past it the oldest segment is dropped. */
  readonly maxBytes: number;
  /** Size at which a segment is closed and a new one begun. */
  readonly segmentBytes?: number;
  /** Called with the source of each dropped record (the ingestor counts them per source). */
  readonly onDrop?: (source: string, count: number) => void;
}

interface Entry {
  readonly record: ProduceRecord;
  readonly line: string;
}

interface Segment {
  readonly seq: number;
  readonly path: string;
  bytes: number;
  lines: number;
}

const SEGMENT_SUFFIX = '.ndjson';
/** Holds the pid of the process that owns the directory: two ingestors must not share a spool. */
const LOCK_FILE = 'LOCK';
const DEFAULT_SEGMENT_BYTES = 4 * 1024 * 1024;

/** The `source` a record is counted under when dropped: the quote's or the dead letter's. */
export function sourceOf(r: ProduceRecord): string {
  const v = r.value as { source?: unknown } | null;
  return v !== null && typeof v === 'object' && typeof v.source === 'string' ? v.source : 'unknown';
}

export class Spool {
  private memory: Entry[] = [];
  /** Closed and open segments, oldest first (the last one is appended to). */
  private segments: Segment[] = [];
  /** The head segment's records, loaded when the sender reaches it, and how many were taken. */
  private head: { seq: number; entries: Entry[]; taken: number } | null = null;
  private nextSeq = 0;
  /** What the last `peek` handed out: the head segment it came from (null: memory). */
  private lease: { readonly seq: number | null } | null = null;
  private droppedCount = 0;
  private readonly segmentBytes: number;

  constructor(private readonly o: SpoolOptions) {
    // at least eight segments fit in the limit, so a drop takes an eighth of the disk at most
    this.segmentBytes = Math.max(1, Math.min(o.segmentBytes ?? DEFAULT_SEGMENT_BYTES, Math.floor(o.maxBytes / 8)));
    if (o.dir !== null) this.open(o.dir);
  }

  /** Records waiting (memory and disk). */
  get size(): number {
    const onDisk = this.segments.reduce((s, g) => s + g.lines, 0) - (this.head?.taken ?? 0);
    return onDisk + this.memory.length;
  }

  /** Bytes of the disk segments. */
  get diskBytes(): number {
    return this.segments.reduce((s, g) => s + g.bytes, 0);
  }

  get dropped(): number {
    return this.droppedCount;
  }

  push(records: readonly ProduceRecord[]): void {
    for (const record of records) this.memory.push({ record, line: JSON.stringify({ topic: record.topic, key: record.key, value: record.value, ts: record.ts, ...(record.partition === undefined ? {} : { partition: record.partition }) }) });
    if (this.memory.length > this.o.memoryRecords) this.spill(this.memory.length - this.o.memoryRecords);
  }

  /** The oldest `max` records, not removed (the sender acknowledges them with `ack`). */
  peek(max: number): ProduceRecord[] {
    const out: ProduceRecord[] = [];
    if (this.segments.length > 0) {
      const head = this.loadHead();
      this.lease = { seq: head.seq };
      for (let i = head.taken; i < head.entries.length && out.length < max; i++) out.push(head.entries[i].record);
      // a segment's records are sent before anything newer: memory waits until the disk is empty
      return out;
    }
    this.lease = { seq: null };
    for (let i = 0; i < this.memory.length && out.length < max; i++) out.push(this.memory[i].record);
    return out;
  }

  /**
   * Removes the `n` oldest records (those `peek` returned, now acknowledged by Kafka). They are
   * the oldest wherever they are now: records peeked from memory may have been spilled to disk
   * meanwhile, some or all of them (a spill moves only the overflow), so the count is taken from
   * the disk's head first and the rest from memory. (The long-outages fault test found the first
   * version, which took them all from the disk's head, publishing 990 records twice.)
   */
  ack(n: number): void {
    const lease = this.lease;
    this.lease = null;
    if (n <= 0 || lease === null) return;
    // the segment they came from was dropped (disk full) while they were sent: nothing to remove
    if (lease.seq !== null && this.segments[0]?.seq !== lease.seq) return;
    let left = n;
    while (left > 0 && this.segments.length > 0) {
      const head = this.loadHead();
      const k = Math.min(left, head.entries.length - head.taken);
      head.taken += k;
      left -= k;
      if (head.taken >= head.entries.length) this.dropHeadSegment(false);
      if (lease.seq !== null) return;
    }
    if (left > 0) this.memory.splice(0, left);
  }

  /** Writes memory to disk (on stop), so a restart sends it. No-op without a directory. */
  persist(): void {
    if (this.o.dir === null || this.memory.length === 0) return;
    this.spill(this.memory.length);
  }

  /** Releases the directory (on stop, after `persist`). */
  close(): void {
    if (this.o.dir === null) return;
    try {
      if (readFileSync(join(this.o.dir, LOCK_FILE), 'utf8').trim() === String(process.pid)) unlinkSync(join(this.o.dir, LOCK_FILE));
    } catch {
      // no lock: nothing to release
    }
  }

  private open(dir: string): void {
    mkdirSync(dir, { recursive: true });
    this.lock(dir);
    const seqs = readdirSync(dir)
      .filter((n) => n.endsWith(SEGMENT_SUFFIX) && /^\d+\.ndjson$/.test(n))
      .map((n) => Number(n.slice(0, -SEGMENT_SUFFIX.length)))
      .sort((a, b) => a - b);
    for (const seq of seqs) {
      const path = this.pathOf(seq);
      const text = readFileSync(path, 'utf8');
      this.segments.push({ seq, path, bytes: statSync(path).size, lines: text.split('\n').filter((l) => l !== '').length });
    }
    this.nextSeq = (seqs.at(-1) ?? -1) + 1;
    // a segment left by a stopped process is closed: new records start a new one
    if (this.segments.length > 0) this.nextSeq++;
  }

  private lock(dir: string): void {
    const path = join(dir, LOCK_FILE);
    let holder: number | null = null;
    try {
      holder = Number(readFileSync(path, 'utf8').trim());
    } catch {
      // no lock file: the directory is free
    }
    if (holder !== null && Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
      const problem = `ingest.spool.dir: ${dir} is in use by process ${holder}; give each ccm ingest a directory of its own`;
      throw new MonitorError(problem, { code: ErrorCode.CONFIG_INVALID, problems: [problem] });
    }
    writeFileSync(path, String(process.pid));
  }

  private pathOf(seq: number): string {
    return join(this.o.dir as string, `${String(seq).padStart(12, '0')}${SEGMENT_SUFFIX}`);
  }

  /** Moves the `n` oldest memory records to the tail of the disk (or drops them without a directory). */
  private spill(n: number): void {
    const moved = this.memory.splice(0, n);
    if (this.o.dir === null) {
      this.countDropped(moved.map((e) => e.record));
      return;
    }
    let tail = this.segments.at(-1);
    let i = 0;
    while (i < moved.length) {
      // the head segment is being read: never append to it, start a new one
      if (tail === undefined || tail.bytes >= this.segmentBytes || (this.head !== null && tail.seq === this.head.seq)) {
        const seq = this.nextSeq++;
        tail = { seq, path: this.pathOf(seq), bytes: 0, lines: 0 };
        this.segments.push(tail);
      }
      let chunk = '';
      let lines = 0;
      while (i < moved.length && tail.bytes + Buffer.byteLength(chunk) < this.segmentBytes) {
        chunk += `${moved[i].line}\n`;
        lines++;
        i++;
      }
      appendFileSync(tail.path, chunk);
      tail.bytes += Buffer.byteLength(chunk);
      tail.lines += lines;
    }
    while (this.diskBytes > this.o.maxBytes && this.segments.length > 1) this.dropHeadSegment(true);
  }

  private loadHead(): { seq: number; entries: Entry[]; taken: number } {
    const first = this.segments[0];
    if (this.head !== null && this.head.seq === first.seq) return this.head;
    const entries: Entry[] = [];
    for (const line of readFileSync(first.path, 'utf8').split('\n')) {
      if (line === '') continue;
      try {
        const r = JSON.parse(line) as ProduceRecord;
        entries.push({ record: r, line });
      } catch {
        // a line cut by a crash in the middle of an append: it was never acknowledged to anyone
      }
    }
    first.lines = entries.length;
    this.head = { seq: first.seq, entries, taken: 0 };
    return this.head;
  }

  private dropHeadSegment(counted: boolean): void {
    const first = this.segments.shift();
    if (first === undefined) return;
    if (counted) {
      const head = this.head !== null && this.head.seq === first.seq ? this.head : null;
      const records = head !== null ? head.entries.slice(head.taken).map((e) => e.record) : readLines(first.path);
      this.countDropped(records);
    }
    if (this.head !== null && this.head.seq === first.seq) this.head = null;
    try {
      unlinkSync(first.path);
    } catch {
      // already gone
    }
  }

  private countDropped(records: readonly ProduceRecord[]): void {
    if (records.length === 0) return;
    this.droppedCount += records.length;
    const bySource = new Map<string, number>();
    for (const r of records) bySource.set(sourceOf(r), (bySource.get(sourceOf(r)) ?? 0) + 1);
    for (const [source, count] of bySource) this.o.onDrop?.(source, count);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readLines(path: string): ProduceRecord[] {
  const out: ProduceRecord[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line === '') continue;
    try {
      out.push(JSON.parse(line) as ProduceRecord);
    } catch {
      // cut line
    }
  }
  return out;
}
