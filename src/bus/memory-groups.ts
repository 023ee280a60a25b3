import type { ConsumedRecord, SubscribeOptions, Subscriber, Subscription, TopicOffset } from './bus.ts';
import { toConsumed, type MemoryLog } from './memory-log.ts';

/**
 * The consumer groups of MemoryBus, with Kafka's semantics where callers can tell:
 * - groups keep committed offsets, and `onBatch` resolving does NOT commit;
 * - members of one group split each topic's partitions like Kafka's RangeAssignor; a rebalance
 *   restarts a moved partition at the group's committed offset (at-least-once, as in Kafka);
 * - batches are delivered asynchronously, one batch per partition at a time, and delivery goes on
 *   as records are published (`notify`);
 * - a batch handler that throws a retriable error (MonitorError retriable) gets the same batch again
 *   after a backoff; any other error stops the member and reaches `onCrash`.
 */
interface PartitionCursor {
  position: number;
  busy: boolean;
  /** Consecutive retriable failures of the current batch. */
  retries: number;
}

interface Member {
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
export const MAX_BATCH_RECORDS = 500;
const RETRY_BACKOFF_MS = 50;
const MAX_RETRY_BACKOFF_MS = 5000;

/** Retriable per our MonitorError or an error's own `retriable` flag (kafkajs's convention). */
function isRetriable(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { retriable?: unknown }).retriable === true;
}

export class MemoryGroups implements Subscriber {
  private readonly groups = new Map<string, Group>();
  private readonly subscriptions = new WeakMap<Member, Subscription>();
  private closed = false;

  constructor(
    private readonly log: MemoryLog,
    private readonly maxBatchRecords: number = MAX_BATCH_RECORDS,
  ) {}

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    for (const topic of options.topics) this.log.partitionsOf(topic);
    const group = this.group(options.groupId);
    const member: Member = { options, cursors: new Map(), paused: false, stopped: false, inFlight: new Set() };
    group.members.push(member);
    this.rebalance(group);
    const subscription: Subscription = {
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
    this.subscriptions.set(member, subscription);
    return subscription;
  }

  async commitOffsets(groupId: string, topic: string, offsets: readonly TopicOffset[]): Promise<void> {
    this.log.partitionsOf(topic);
    const committed = this.group(groupId).committed;
    const byPartition = committed.get(topic) ?? new Map<number, number>();
    for (const o of offsets) byPartition.set(o.partition, Number(o.offset));
    committed.set(topic, byPartition);
  }

  async committedOffsets(groupId: string, topic: string): Promise<TopicOffset[]> {
    const n = this.log.partitionsOf(topic);
    const byPartition = this.groups.get(groupId)?.committed.get(topic);
    return Array.from({ length: n }, (_, partition) => ({ partition, offset: String(byPartition?.get(partition) ?? -1) }));
  }

  /**
   * The member of this subscription leaves at once, as a member that dies does (a SIGKILL, then
   * the session timeout): nothing it has in flight is waited for; the others get its partitions.
   */
  expel(subscription: Subscription): void {
    for (const group of this.groups.values()) {
      const i = group.members.findIndex((m) => this.subscriptions.get(m) === subscription);
      if (i < 0) continue;
      const [m] = group.members.splice(i, 1);
      m.stopped = true;
      m.cursors.clear();
      this.rebalance(group);
    }
  }

  /** The groups that ever had a member or a commit, whose id starts with `prefix`. */
  listGroups(prefix: string): string[] {
    return [...this.groups.keys()].filter((g) => g.startsWith(prefix)).sort();
  }

  /** Records were appended to these topics: deliver them to their subscribers. */
  notify(topics: ReadonlySet<string>): void {
    for (const group of this.groups.values()) {
      for (const member of group.members) {
        if (member.options.topics.some((t) => topics.has(t))) this.pump(member, group);
      }
    }
  }

  /** A deleted topic: its committed offsets go with it. */
  forgetTopic(topic: string): void {
    for (const group of this.groups.values()) group.committed.delete(topic);
  }

  async close(): Promise<void> {
    this.closed = true;
    const members = [...this.groups.values()].flatMap((g) => g.members);
    for (const m of members) m.stopped = true;
    await Promise.allSettled(members.flatMap((m) => [...m.inFlight]));
  }

  private group(groupId: string): Group {
    let group = this.groups.get(groupId);
    if (group === undefined) {
      group = { committed: new Map(), members: [] };
      this.groups.set(groupId, group);
    }
    return group;
  }

  /** Range assignment per topic (Kafka's RangeAssignor): members in join order, the first ones take one extra. */
  private rebalance(group: Group): void {
    const members = group.members;
    const wanted = new Map<Member, Map<string, number[]>>(members.map((m) => [m, new Map()]));
    const topics = new Set(members.flatMap((m) => m.options.topics));
    for (const topic of topics) {
      if (!this.log.has(topic)) continue;
      const subscribers = members.filter((m) => m.options.topics.includes(topic));
      const n = this.log.partitionsOf(topic);
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
    return member.options.fromBeginning ? 0 : (this.log.partition(topic, partition)?.length ?? 0);
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
    const records = this.log.partition(topic, partition);
    if (records === undefined || cursor.position >= records.length) return;
    cursor.busy = true;
    const from = cursor.position;
    const to = Math.min(records.length, from + this.maxBatchRecords);
    const batch: ConsumedRecord[] = [];
    for (let o = from; o < to; o++) batch.push(toConsumed(topic, partition, o, records[o]));
    const current = () => member.cursors.get(topic)?.get(partition) === cursor;
    const run = (async () => {
      await Promise.resolve();
      if (member.stopped || member.paused || !current()) {
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
          if (current()) this.deliver(member, group, topic, partition, cursor);
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
      if (current()) this.deliver(member, group, topic, partition, cursor);
    })();
    member.inFlight.add(run);
    void run.finally(() => member.inFlight.delete(run));
  }
}

function assignmentOf(member: Member): ReadonlyMap<string, readonly number[]> {
  return new Map([...member.cursors].map(([topic, parts]) => [topic, [...parts.keys()].sort((a, b) => a - b)]));
}
