import { ErrorCode, MonitorError } from '../domain/errors.ts';
import type { Bus, ConsumedRecord, ProduceRecord, SubscribeOptions, Subscription, TopicOffset, TopicSpec } from './bus.ts';
import { partitionForKey } from './murmur2.ts';

/**
 * The Bus port in memory (STYLE.md 14): the embedded default mode and the tests. Same semantics
 * as KafkaBus where callers can tell:
 * - keys pick partitions with Kafka's murmur2 (same partition numbers as Kafka); null keys go round robin;
 * - offsets count from 0 per partition; timestamps are the records' event times;
 * - consumer groups keep committed offsets, and `onBatch` resolving does NOT commit;
 * - members of one group split each topic's partitions like Kafka's RangeAssignor; a rebalance
 *   restarts a moved partition at the group's committed offset (at-least-once, as in Kafka);
 * - batches are delivered asynchronously, one batch per partition at a time, and delivery goes on
 *   as records are published.
 * - a batch handler that throws a retriable error (MonitorError retriable) gets the same batch again
 *   after a backoff; any other error stops the member and reaches `onCrash`.
 * Differences: compaction and retention are not applied (every record is kept), publishing to
 * or subscribing to a missing topic fails at once (Kafka would retry, then fail).
 */
interface StoredRecord {
  readonly key: string | null;
  readonly value: Buffer | null;
  readonly ts: number;
}

interface TopicLog {
  readonly spec: TopicSpec;
  readonly partitions: StoredRecord[][];
}

interface PartitionCursor {
  position: number;
  busy: boolean;
  /** Consecutive retriable failures of the current batch. */
  retries: number;
}

interface Member {
  readonly id: number;
  readonly options: SubscribeOptions;
  /** topic -> partition -> cursor */
  readonly cursors: Map<string, Map<number, PartitionCursor>>;
  paused: boolean;
  stopped: boolean;
  readonly inFlight: Set<Promise<void>>;
}

interface Group {
  /** topic -> partition -> next offset to read */
  readonly committed: Map<string, Map<number, number>>;
  readonly members: Member[];
}

/** Records per onBatch call (kafkajs hands over what one fetch returned; this keeps batches bounded). */
const MAX_BATCH_RECORDS = 500;
const RETRY_BACKOFF_MS = 50;
const MAX_RETRY_BACKOFF_MS = 5000;

/** Retriable per our MonitorError or an error's own `retriable` flag (kafkajs's convention). */
function isRetriable(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { retriable?: unknown }).retriable === true;
}

export class MemoryBus implements Bus {
  private readonly topics = new Map<string, TopicLog>();
  private readonly groups = new Map<string, Group>();
  private readonly roundRobin = new Map<string, number>();
  private nextMemberId = 0;
  private closed = false;

  constructor(private readonly options: { maxBatchRecords?: number } = {}) {}

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
      for (const group of this.groups.values()) group.committed.delete(topic);
    }
  }

  async listTopics(): Promise<string[]> {
    return [...this.topics.keys()].sort();
  }

  async partitionCount(topic: string): Promise<number> {
    return this.log(topic).partitions.length;
  }

  async publish(records: readonly ProduceRecord[]): Promise<void> {
    this.publishEncoded(
      records.map((r) => ({ ...r, value: r.value === null ? null : Buffer.from(JSON.stringify(r.value), 'utf8') })),
    );
  }

  async publishRaw(
    records: ReadonlyArray<{ topic: string; key: string | null; value: Buffer | string | null; ts: number; partition?: number }>,
  ): Promise<void> {
    this.publishEncoded(
      records.map((r) => ({ ...r, value: r.value === null ? null : Buffer.isBuffer(r.value) ? Buffer.from(r.value) : Buffer.from(r.value, 'utf8') })),
    );
  }

  async readToEnd(
    topic: string,
    options: { partitions?: readonly number[]; from?: readonly TopicOffset[]; to?: readonly TopicOffset[] } = {},
  ): Promise<ConsumedRecord[]> {
    const log = this.log(topic);
    const partitions = options.partitions ?? log.partitions.map((_, p) => p);
    const out: ConsumedRecord[] = [];
    for (const p of partitions) {
      const records = log.partitions[p];
      if (records === undefined) throw new MonitorError(`topic ${topic} has no partition ${p}`, { code: ErrorCode.BUS_FAILED });
      const from = offsetFor(options.from, p) ?? 0;
      const to = Math.min(offsetFor(options.to, p) ?? records.length, records.length);
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

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    for (const topic of options.topics) this.log(topic);
    const group = this.group(options.groupId);
    const member: Member = { id: this.nextMemberId++, options, cursors: new Map(), paused: false, stopped: false, inFlight: new Set() };
    group.members.push(member);
    this.rebalance(group);
    return {
      assignment: () => assignmentOf(member),
      pause: () => {
        member.paused = true;
      },
      resume: () => {
        member.paused = false;
        this.pump(member, group);
      },
      stop: async () => {
        if (member.stopped) return;
        member.stopped = true;
        const i = group.members.indexOf(member);
        if (i >= 0) group.members.splice(i, 1);
        while (member.inFlight.size > 0) await Promise.allSettled([...member.inFlight]);
        member.cursors.clear();
        this.rebalance(group);
      },
    };
  }

  async commitOffsets(groupId: string, topic: string, offsets: readonly TopicOffset[]): Promise<void> {
    this.log(topic);
    const committed = this.group(groupId).committed;
    const byPartition = committed.get(topic) ?? new Map<number, number>();
    for (const o of offsets) byPartition.set(o.partition, Number(o.offset));
    committed.set(topic, byPartition);
  }

  async committedOffsets(groupId: string, topic: string): Promise<TopicOffset[]> {
    const log = this.log(topic);
    const byPartition = this.groups.get(groupId)?.committed.get(topic);
    return log.partitions.map((_, partition) => ({ partition, offset: String(byPartition?.get(partition) ?? -1) }));
  }

  async close(): Promise<void> {
    this.closed = true;
    const members = [...this.groups.values()].flatMap((g) => g.members);
    for (const m of members) m.stopped = true;
    await Promise.allSettled(members.flatMap((m) => [...m.inFlight]));
  }

  private log(topic: string): TopicLog {
    const log = this.topics.get(topic);
    if (log === undefined) throw new MonitorError(`topic ${topic} does not exist (ensureTopics first)`, { code: ErrorCode.BUS_FAILED });
    return log;
  }

  private group(groupId: string): Group {
    let group = this.groups.get(groupId);
    if (group === undefined) {
      group = { committed: new Map(), members: [] };
      this.groups.set(groupId, group);
    }
    return group;
  }

  private publishEncoded(records: ReadonlyArray<{ topic: string; key: string | null; value: Buffer | null; ts: number; partition?: number }>): void {
    if (this.closed) throw new MonitorError('bus is closed', { code: ErrorCode.BUS_FAILED });
    // validate all before appending any, so a bad batch leaves nothing half-written
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
      return { log, partition, record: { key: r.key, value: r.value, ts: r.ts } };
    });
    for (const p of placed) p.log.partitions[p.partition].push(p.record);
    const topics = new Set(records.map((r) => r.topic));
    for (const group of this.groups.values()) {
      for (const member of group.members) {
        if (member.options.topics.some((t) => topics.has(t))) this.pump(member, group);
      }
    }
  }

  /** Range assignment per topic (Kafka's RangeAssignor): members in join order, the first ones take one extra. */
  private rebalance(group: Group): void {
    const members = group.members;
    const wanted = new Map<Member, Map<string, number[]>>(members.map((m) => [m, new Map()]));
    const topics = new Set(members.flatMap((m) => m.options.topics));
    for (const topic of topics) {
      const log = this.topics.get(topic);
      if (log === undefined) continue;
      const subscribers = members.filter((m) => m.options.topics.includes(topic));
      const n = log.partitions.length;
      const per = Math.floor(n / subscribers.length);
      const extra = n % subscribers.length;
      let next = 0;
      subscribers.forEach((m, i) => {
        const count = per + (i < extra ? 1 : 0);
        wanted.get(m)?.set(
          topic,
          Array.from({ length: count }, (_, k) => next + k),
        );
        next += count;
      });
    }
    for (const member of members) {
      const target = wanted.get(member) ?? new Map<string, number[]>();
      const cursors = new Map<string, Map<number, PartitionCursor>>();
      for (const [topic, partitions] of target) {
        const old = member.cursors.get(topic);
        const now = new Map<number, PartitionCursor>();
        for (const p of partitions) {
          // a partition kept across the rebalance keeps its position; a moved one starts at the commit
          now.set(p, old?.get(p) ?? { position: this.startOffset(group, member, topic, p), busy: false, retries: 0 });
        }
        cursors.set(topic, now);
      }
      member.cursors.clear();
      for (const [t, c] of cursors) member.cursors.set(t, c);
    }
    // Assignment callbacks and deliveries run after the caller's turn, as in Kafka.
    setImmediate(() => {
      for (const member of members) {
        if (member.stopped) continue;
        member.options.onAssignment?.(assignmentOf(member));
        this.pump(member, group);
      }
    });
  }

  private startOffset(group: Group, member: Member, topic: string, partition: number): number {
    const committed = group.committed.get(topic)?.get(partition);
    if (committed !== undefined && committed >= 0) return committed;
    return member.options.fromBeginning ? 0 : (this.topics.get(topic)?.partitions[partition]?.length ?? 0);
  }

  private pump(member: Member, group: Group): void {
    if (member.stopped || member.paused || this.closed) return;
    for (const [topic, partitions] of member.cursors) {
      for (const [partition, cursor] of partitions) {
        if (!cursor.busy) this.deliver(member, group, topic, partition, cursor);
      }
    }
  }

  private deliver(member: Member, group: Group, topic: string, partition: number, cursor: PartitionCursor): void {
    const records = this.topics.get(topic)?.partitions[partition];
    if (records === undefined || cursor.position >= records.length) return;
    cursor.busy = true;
    const from = cursor.position;
    const to = Math.min(records.length, from + (this.options.maxBatchRecords ?? MAX_BATCH_RECORDS));
    const batch: ConsumedRecord[] = [];
    for (let o = from; o < to; o++) batch.push(toConsumed(topic, partition, o, records[o]));
    const run = (async () => {
      await Promise.resolve();
      if (member.stopped || member.paused || member.cursors.get(topic)?.get(partition) !== cursor) {
        cursor.busy = false;
        return;
      }
      try {
        await member.options.onBatch(batch);
      } catch (err) {
        if (isRetriable(err)) {
          // as KafkaBus: a retriable failure redelivers the same batch after a backoff
          cursor.retries += 1;
          await new Promise((r) => setTimeout(r, Math.min(RETRY_BACKOFF_MS * 2 ** (cursor.retries - 1), MAX_RETRY_BACKOFF_MS)));
          cursor.busy = false;
          if (member.cursors.get(topic)?.get(partition) === cursor) this.deliver(member, group, topic, partition, cursor);
          return;
        }
        // as KafkaBus: a handler failing for good stops the member; the caller decides what to do
        member.stopped = true;
        cursor.busy = false;
        const i = group.members.indexOf(member);
        if (i >= 0) group.members.splice(i, 1);
        member.cursors.clear();
        this.rebalance(group);
        member.options.onCrash?.(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      cursor.position = Math.max(cursor.position, to);
      cursor.retries = 0;
      cursor.busy = false;
      if (member.cursors.get(topic)?.get(partition) === cursor) this.deliver(member, group, topic, partition, cursor);
    })();
    member.inFlight.add(run);
    void run.finally(() => member.inFlight.delete(run));
  }
}

function toConsumed(topic: string, partition: number, offset: number, r: StoredRecord): ConsumedRecord {
  return { topic, partition, offset: String(offset), key: r.key, value: r.value === null ? null : Buffer.from(r.value), ts: r.ts };
}

function offsetFor(offsets: readonly TopicOffset[] | undefined, partition: number): number | undefined {
  const o = offsets?.find((x) => x.partition === partition);
  return o === undefined ? undefined : Number(o.offset);
}

function assignmentOf(member: Member): ReadonlyMap<string, readonly number[]> {
  return new Map([...member.cursors].map(([topic, parts]) => [topic, [...parts.keys()].sort((a, b) => a - b)]));
}
