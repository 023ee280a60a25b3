import { ErrorCode, MonitorError } from '../domain/errors.ts';
import type { ConsumedRecord, RawRecord, ReadRange, TopicAdmin, TopicOffset, TopicSpec } from './bus.ts';
import { partitionForKey } from './murmur2.ts';

/**
 * The topics of MemoryBus and their records: created, listed and deleted (TopicAdmin), appended
 * to, and read outside any group (the LogReader's offsets lookups and bounded reads). Keys pick
 * partitions with Kafka's murmur2 (the partitions Kafka would pick); null keys go round robin;
 * offsets count from 0 per partition; timestamps are the records' event times. Compaction and
 * retention are not applied (every record is kept); a missing topic fails at once (Kafka would
 * retry, then fail).
 */
export interface StoredRecord {
  readonly key: string | null;
  readonly value: Buffer | null;
  readonly ts: number;
}

interface TopicLog {
  readonly spec: TopicSpec;
  readonly partitions: StoredRecord[][];
}

export class MemoryLog implements TopicAdmin {
  private readonly topics = new Map<string, TopicLog>();
  private readonly roundRobin = new Map<string, number>();

  /** Called with the topics that were deleted (groups forget their offsets). */
  constructor(private readonly onDeleted: (topic: string) => void = () => undefined) {}

  async ensureTopics(specs: readonly TopicSpec[]): Promise<void> {
    for (const spec of specs) {
      if (this.topics.has(spec.topic)) continue;
      if (!Number.isInteger(spec.partitions) || spec.partitions < 1) {
        throw new MonitorError(`topic ${spec.topic}: partitions must be a positive integer`, { code: ErrorCode.BUS_FAILED });
      }
      this.topics.set(spec.topic, { spec, partitions: Array.from({ length: spec.partitions }, () => []) });
    }
  }

  async deleteTopics(topics: readonly string[]): Promise<void> {
    for (const topic of topics) {
      this.topics.delete(topic);
      this.onDeleted(topic);
    }
  }

  async listTopics(): Promise<string[]> {
    return [...this.topics.keys()].sort();
  }

  has(topic: string): boolean {
    return this.topics.has(topic);
  }

  /** The records of a partition (undefined when the topic or the partition does not exist). */
  partition(topic: string, partition: number): readonly StoredRecord[] | undefined {
    return this.topics.get(topic)?.partitions[partition];
  }

  /** The partition count of a topic; throws when it does not exist. */
  partitionsOf(topic: string): number {
    return this.log(topic).partitions.length;
  }

  /**
   * Appends records (values already encoded); validates all before appending any, so a bad batch
   * leaves nothing half-written. Returns the topics written to.
   */
  append(records: readonly RawRecord[]): Set<string> {
    const placed = records.map((r) => {
      const log = this.log(r.topic);
      const n = log.partitions.length;
      let partition: number;
      if (r.partition !== undefined) partition = r.partition;
      else if (r.key !== null) partition = partitionForKey(r.key, n);
      else {
        const next = this.roundRobin.get(r.topic) ?? 0;
        this.roundRobin.set(r.topic, next + 1);
        partition = next % n;
      }
      if (!Number.isInteger(partition) || partition < 0 || partition >= n) {
        throw new MonitorError(`topic ${r.topic} has no partition ${partition}`, { code: ErrorCode.BUS_FAILED });
      }
      if (!Number.isFinite(r.ts)) throw new MonitorError(`record timestamp must be a finite number (topic ${r.topic})`, { code: ErrorCode.BUS_FAILED });
      const value = r.value === null ? null : Buffer.isBuffer(r.value) ? Buffer.from(r.value) : Buffer.from(r.value, 'utf8');
      return { log, partition, record: { key: r.key, value, ts: r.ts } };
    });
    for (const p of placed) p.log.partitions[p.partition].push(p.record);
    return new Set(records.map((r) => r.topic));
  }

  async readToEnd(topic: string, range: ReadRange = {}): Promise<ConsumedRecord[]> {
    const log = this.log(topic);
    const partitions = range.partitions ?? log.partitions.map((_, p) => p);
    const out: ConsumedRecord[] = [];
    for (const p of partitions) {
      const records = log.partitions[p];
      if (records === undefined) throw new MonitorError(`topic ${topic} has no partition ${p}`, { code: ErrorCode.BUS_FAILED });
      const from = offsetFor(range.from, p) ?? 0;
      const to = Math.min(offsetFor(range.to, p) ?? records.length, records.length);
      for (let o = Math.max(0, from); o < to; o++) out.push(toConsumed(topic, p, o, records[o]));
    }
    return out;
  }

  async endOffsets(topic: string): Promise<TopicOffset[]> {
    return this.log(topic).partitions.map((records, partition) => ({ partition, offset: String(records.length) }));
  }

  async offsetsForTimestamp(topic: string, ts: number): Promise<TopicOffset[]> {
    // Kafka's ListOffsets by time: the first offset whose timestamp is >= ts, else the end offset.
    return this.log(topic).partitions.map((records, partition) => {
      const i = records.findIndex((r) => r.ts >= ts);
      return { partition, offset: String(i === -1 ? records.length : i) };
    });
  }

  private log(topic: string): TopicLog {
    const log = this.topics.get(topic);
    if (log === undefined) throw new MonitorError(`topic ${topic} does not exist (ensureTopics first)`, { code: ErrorCode.BUS_FAILED });
    return log;
  }
}

export function toConsumed(topic: string, partition: number, offset: number, r: StoredRecord): ConsumedRecord {
  return { topic, partition, offset: String(offset), key: r.key, value: r.value === null ? null : Buffer.from(r.value), ts: r.ts };
}

function offsetFor(offsets: readonly TopicOffset[] | undefined, partition: number): number | undefined {
  const o = offsets?.find((x) => x.partition === partition);
  return o === undefined ? undefined : Number(o.offset);
}
