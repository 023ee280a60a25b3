import { randomUUID } from 'node:crypto';
import type tls from 'node:tls';
import { Kafka, Partitioners, type Admin, type Consumer, type ConsumerRunConfig, type KafkaMessage, type Producer, type RetryOptions, type SASLOptions } from 'kafkajs';
import { ErrorCode, MonitorError } from '../domain/errors.ts';
import type { Logger } from '../logger.ts';
import type { Bus, ConsumedRecord, ProduceRecord, SubscribeOptions, Subscription, TopicOffset, TopicSpec } from './bus.ts';
import { kafkaLogCreator, kafkaLogLevelOf } from './kafka-logger.ts';
import { RangeAssigner } from './range-assigner.ts';
import { topicConfigEntries } from './topics.ts';

/**
 * The Bus port on Apache Kafka through kafkajs 2.2.4 (ARCHITECTURE.md "Kafka contracts").
 * - Producer: idempotent, acks all (-1), one request in flight (kafkajs requires it for idempotence),
 *   Kafka's murmur2 default partitioner; the record timestamp is the event time.
 * - Topics are created explicitly (auto-create is off: kafkajs does not retry the first
 *   UNKNOWN_TOPIC_OR_PARTITION under KRaft, notes/kafka-broker.md 5) with the configs of topics.ts.
 * - Subscriptions: eachBatch, offsets committed only by `commitOffsets` (autoCommit off), range
 *   assignment, LeaveGroup on stop. A consumer that fails for good (non-retriable cause) reports
 *   through `onCrash`; retriable failures (broker restart, coordinator moves) restart it.
 * - readToEnd uses a throwaway consumer group (seek to the start offsets, stop at the end offsets
 *   taken at call time, then delete the group); empty ranges return without a consumer.
 * Brokers are given as 127.0.0.1:port, not localhost (Node may try ::1 first).
 */
export interface KafkaBusOptions {
  readonly brokers: string[];
  readonly clientId: string;
  readonly logger: Logger;
  readonly ssl?: boolean | tls.ConnectionOptions;
  readonly sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string };
  readonly connectionTimeoutMs?: number;
  /** Consumer-group session timeout (broker minimum group.min.session.timeout.ms; tests use a short one). Default 30000. */
  readonly sessionTimeoutMs?: number;
  /** Default 3000 (kafkajs); must be well below the session timeout. */
  readonly heartbeatIntervalMs?: number;
  /** Longest time the broker holds a fetch when no data is there. Default 500 (kafkajs: 5000). */
  readonly maxWaitTimeMs?: number;
  /** Upper bound on one readToEnd call. Default 120000. */
  readonly readTimeoutMs?: number;
}

/**
 * Retries with exponential backoff (kafkajs: factor 0.2 jitter, multiplier 2): about two minutes of
 * attempts in all, enough to ride out a broker restart.
 */
const RETRY: RetryOptions = { initialRetryTime: 300, maxRetryTime: 30_000, retries: 10 };

interface SubscriptionEntry {
  readonly consumer: Consumer;
  assignment: ReadonlyMap<string, readonly number[]>;
  /** Being restarted after a lost group coordinator: commits wait (retriable) until it has joined. */
  restarting: boolean;
}

export class KafkaBus implements Bus {
  private readonly kafka: Kafka;
  private readonly log: Logger;
  private producerReady: Promise<Producer> | undefined;
  private adminReady: Promise<Admin> | undefined;
  /** Subscriptions of this bus by group: commits of an active group go through its consumer. */
  private readonly subscriptions = new Map<string, Set<SubscriptionEntry>>();
  private readonly readers = new Set<Consumer>();

  constructor(private readonly opts: KafkaBusOptions) {
    this.log = opts.logger.child({ component: 'kafka-bus' });
    this.kafka = new Kafka({
      clientId: opts.clientId,
      brokers: opts.brokers,
      ssl: opts.ssl,
      sasl: opts.sasl as SASLOptions | undefined,
      connectionTimeout: opts.connectionTimeoutMs ?? 3000,
      retry: RETRY,
      logLevel: kafkaLogLevelOf(opts.logger.level),
      logCreator: kafkaLogCreator(opts.logger),
    });
  }

  async ensureTopics(specs: readonly TopicSpec[]): Promise<void> {
    await this.call('ensureTopics', async () => {
      const admin = await this.admin();
      const existing = new Set(await admin.listTopics());
      const missing = specs.filter((s) => !existing.has(s.topic));
      if (missing.length === 0) return;
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((s) => ({ topic: s.topic, numPartitions: s.partitions, replicationFactor: 1, configEntries: topicConfigEntries(s) })),
      });
      this.log.info({ topics: missing.map((s) => s.topic) }, 'created topics');
    });
  }

  async deleteTopics(topics: readonly string[]): Promise<void> {
    await this.call('deleteTopics', async () => {
      const admin = await this.admin();
      const existing = new Set(await admin.listTopics());
      const present = topics.filter((t) => existing.has(t));
      if (present.length > 0) await admin.deleteTopics({ topics: present });
    });
    // kafkajs keeps every topic it produced to in its metadata refreshes, and a refresh that names
    // a deleted topic fails every later send: start a fresh producer after deleting topics.
    const old = this.producerReady;
    this.producerReady = undefined;
    if (old) await old.then((p) => p.disconnect()).catch(() => undefined);
  }

  async listTopics(): Promise<string[]> {
    return this.call('listTopics', async () => (await (await this.admin()).listTopics()).filter((t) => !t.startsWith('__')).sort());
  }

  async partitionCount(topic: string): Promise<number> {
    return this.call('partitionCount', async () => {
      const { topics } = await (await this.admin()).fetchTopicMetadata({ topics: [topic] });
      return topics[0]?.partitions.length ?? 0;
    });
  }

  async publish(records: readonly ProduceRecord[]): Promise<void> {
    await this.send(records.map((r) => ({ ...r, value: r.value === null ? null : JSON.stringify(r.value) })));
  }

  async publishRaw(
    records: ReadonlyArray<{ topic: string; key: string | null; value: Buffer | string | null; ts: number; partition?: number }>,
  ): Promise<void> {
    await this.send(records);
  }

  async readToEnd(
    topic: string,
    options: { partitions?: readonly number[]; from?: readonly TopicOffset[]; to?: readonly TopicOffset[] } = {},
  ): Promise<ConsumedRecord[]> {
    const offsets = await this.call('readToEnd', async () => this.withLeaderRetry(topic, async (admin) => admin.fetchTopicOffsets(topic)));
    const wanted = options.partitions ?? offsets.map((o) => o.partition);
    // [start, end) per partition: start = max(log start, from), end = min(high watermark now, to)
    const ranges = new Map<number, { start: bigint; end: bigint }>();
    for (const p of wanted) {
      const o = offsets.find((x) => x.partition === p);
      if (o === undefined) throw new MonitorError(`topic ${topic} has no partition ${p}`, { code: ErrorCode.BUS_FAILED });
      const low = BigInt(o.low);
      const high = BigInt(o.high);
      const from = options.from?.find((x) => x.partition === p);
      const to = options.to?.find((x) => x.partition === p);
      const start = from === undefined || BigInt(from.offset) < low ? low : BigInt(from.offset);
      const end = to === undefined || BigInt(to.offset) > high ? high : BigInt(to.offset);
      if (start < end) ranges.set(p, { start, end });
    }
    if (ranges.size === 0) return [];
    const seeks = offsets.map((o) => ({ partition: o.partition, offset: String(ranges.get(o.partition)?.start ?? o.high) }));
    return this.readRanges(topic, ranges, seeks);
  }

  async endOffsets(topic: string): Promise<TopicOffset[]> {
    return this.call('endOffsets', async () => {
      const offsets = await this.withLeaderRetry(topic, async (admin) => admin.fetchTopicOffsets(topic));
      return offsets.map((o) => ({ partition: o.partition, offset: o.high })).sort((a, b) => a.partition - b.partition);
    });
  }

  async offsetsForTimestamp(topic: string, ts: number): Promise<TopicOffset[]> {
    return this.call('offsetsForTimestamp', async () => {
      // kafkajs answers the high watermark where no record is at or after ts, as the port says
      const offsets = await this.withLeaderRetry(topic, async (admin) => admin.fetchTopicOffsetsByTimestamp(topic, ts));
      return offsets.map((o) => ({ partition: o.partition, offset: o.offset })).sort((a, b) => a.partition - b.partition);
    });
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    const heartbeatIntervalMs = this.opts.heartbeatIntervalMs ?? 3000;
    const consumer = this.kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: options.sessionTimeoutMs ?? this.opts.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: heartbeatIntervalMs,
      maxWaitTimeInMs: this.opts.maxWaitTimeMs ?? 500,
      partitionAssigners: [RangeAssigner],
      retry: { ...RETRY, restartOnFailure: async (e) => isRetriable(e) },
    });
    const entry: SubscriptionEntry = { consumer, assignment: new Map(), restarting: false };
    let stopped = false;
    let failed = false;
    // Restarts after a lost group coordinator (below): attempts since the last successful join.
    let coordinatorRestarts = 0;
    let restartTimer: NodeJS.Timeout | null = null;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      coordinatorRestarts = 0;
      entry.restarting = false;
      entry.assignment = new Map(Object.entries(payload.memberAssignment).map(([t, ps]) => [t, [...ps].sort((a, b) => a - b)]));
      this.log.info({ groupId: options.groupId, assignment: payload.memberAssignment }, 'partitions assigned');
      options.onAssignment?.(entry.assignment);
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (payload.restart) {
        entry.restarting = true;
        this.log.warn({ groupId: options.groupId, err: payload.error }, 'consumer crashed on a retriable error; restarting');
        return;
      }
      // kafkajs gives up for good (KafkaJSGroupCoordinatorNotFound is "non-retriable") when the
      // member rejoins while the broker holding its group is shutting down: every lookup of the
      // coordinator fails until the broker is back. That is transient (the Kafka restart fault
      // test hits it when the consumer is not blocked in a batch at the stop), so restart it here
      // with backoff; the committed offsets are where it resumes.
      if (!stopped && !failed && coordinatorLost(payload.error) && coordinatorRestarts < COORDINATOR_RESTARTS) {
        const delayMs = Math.min(300 * 2 ** coordinatorRestarts, 10_000);
        coordinatorRestarts++;
        entry.restarting = true;
        this.log.warn({ groupId: options.groupId, err: payload.error, attempt: coordinatorRestarts, delayMs }, 'consumer lost its group coordinator; restarting it');
        restartTimer = setTimeout(() => {
          restartTimer = null;
          if (stopped) return;
          // a failure to start comes back through CRASH (or throws before joining): same path
          consumer
            .connect()
            .then(() => consumer.run(runConfig))
            .catch((err: unknown) => {
              this.log.error({ groupId: options.groupId, err }, 'consumer restart failed');
              this.forget(options.groupId, entry);
              options.onCrash?.(err instanceof Error ? err : new Error(String(err)));
            });
        }, delayMs);
        return;
      }
      this.log.error({ groupId: options.groupId, err: payload.error }, 'consumer crashed');
      this.forget(options.groupId, entry);
      options.onCrash?.(payload.error);
    });
    const runConfig: ConsumerRunConfig = {
      autoCommit: false,
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch, heartbeat, isRunning, isStale }) => {
        if (failed || !isRunning() || isStale() || batch.messages.length === 0) return;
        const records = batch.messages.map((m) => toConsumed(batch.topic, batch.partition, m));
        // keep the membership alive while a slow batch is written (notes/kafka-broker.md 5)
        const beat = setInterval(() => void heartbeat().catch(() => undefined), heartbeatIntervalMs);
        try {
          await options.onBatch(records);
        } catch (err) {
          // retriable: kafkajs redelivers the batch with backoff, then restarts the consumer
          if (isRetriable(err)) throw err;
          // not retriable (a bug, bad state): kafkajs would still retry it for minutes; stop now,
          // nothing of this batch is committed, and let the caller decide (STYLE.md 8)
          failed = true;
          this.log.error({ groupId: options.groupId, err }, 'batch handler failed; leaving the group');
          this.forget(options.groupId, entry);
          setImmediate(() => void consumer.disconnect().catch(() => undefined));
          options.onCrash?.(err instanceof Error ? err : new Error(String(err)));
          return;
        } finally {
          clearInterval(beat);
        }
        await heartbeat();
      },
    };
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [...options.topics], fromBeginning: options.fromBeginning });
      await consumer.run(runConfig);
    } catch (err) {
      await consumer.disconnect().catch(() => undefined);
      throw toBusError('subscribe', err);
    }
    const set = this.subscriptions.get(options.groupId) ?? new Set<SubscriptionEntry>();
    set.add(entry);
    this.subscriptions.set(options.groupId, set);
    const topics = options.topics.map((topic) => ({ topic }));
    return {
      assignment: () => entry.assignment,
      pause: () => consumer.pause(topics),
      resume: () => consumer.resume(topics),
      stop: async () => {
        if (stopped) return;
        stopped = true;
        if (restartTimer) clearTimeout(restartTimer);
        this.forget(options.groupId, entry);
        // disconnect waits for the running batch, then sends LeaveGroup so the others rebalance at once
        await consumer.disconnect();
      },
    };
  }

  async commitOffsets(groupId: string, topic: string, offsets: readonly TopicOffset[]): Promise<void> {
    if (offsets.length === 0) return;
    await this.call('commitOffsets', async () => {
      const members = [...(this.subscriptions.get(groupId) ?? [])];
      if (members.length === 0) {
        await this.commitAsLoneMember(groupId, topic, offsets);
        return;
      }
      // commit each partition through the member that owns it (any member of the generation is accepted)
      const byMember = new Map<SubscriptionEntry, TopicOffset[]>();
      for (const o of offsets) {
        const owner = members.find((m) => m.assignment.get(topic)?.includes(o.partition) === true) ?? members[0];
        byMember.set(owner, [...(byMember.get(owner) ?? []), o]);
      }
      for (const [member, own] of byMember) {
        if (member.restarting) throw new MonitorError(`kafka commitOffsets: the consumer of ${groupId} is restarting`, { code: ErrorCode.BUS_FAILED, retriable: true });
        try {
          await member.consumer.commitOffsets(own.map((o) => ({ topic, partition: o.partition, offset: o.offset })));
        } catch (err) {
          // The group rebalanced under us (the member was dropped or a new generation began): the
          // consumer rejoins on its own, so the same commit succeeds once it has; say retriable.
          const type = (rootCause(err) as { type?: string }).type;
          if (type !== undefined && REJOIN_ERRORS.includes(type)) {
            throw new MonitorError(`kafka commitOffsets: ${(err as Error).message} (the group is rejoining)`, { code: ErrorCode.BUS_FAILED, retriable: true, cause: err });
          }
          throw err;
        }
      }
    });
  }

  async committedOffsets(groupId: string, topic: string): Promise<TopicOffset[]> {
    return this.call('committedOffsets', async () => {
      const result = await (await this.admin()).fetchOffsets({ groupId, topics: [topic] });
      const partitions = result.find((r) => r.topic === topic)?.partitions ?? [];
      return partitions.map((p) => ({ partition: p.partition, offset: p.offset })).sort((a, b) => a.partition - b.partition);
    });
  }

  async close(): Promise<void> {
    const consumers = [...this.subscriptions.values()].flatMap((s) => [...s].map((e) => e.consumer));
    this.subscriptions.clear();
    await Promise.allSettled([...consumers, ...this.readers].map((c) => c.disconnect()));
    this.readers.clear();
    const producer = this.producerReady;
    const admin = this.adminReady;
    this.producerReady = undefined;
    this.adminReady = undefined;
    await Promise.allSettled([producer?.then((p) => p.disconnect()), admin?.then((a) => a.disconnect())]);
  }

  private forget(groupId: string, entry: SubscriptionEntry): void {
    const set = this.subscriptions.get(groupId);
    set?.delete(entry);
    if (set?.size === 0) this.subscriptions.delete(groupId);
  }

  private async send(
    records: ReadonlyArray<{ topic: string; key: string | null; value: Buffer | string | null; ts: number; partition?: number }>,
  ): Promise<void> {
    if (records.length === 0) return;
    // One produce request carries one record batch per partition, and the broker refuses a batch
    // over message.max.bytes (1 MiB by default): send in chunks well below that.
    const MAX_CHUNK_BYTES = 512 * 1024;
    let start = 0;
    while (start < records.length) {
      let bytes = 0;
      let end = start;
      while (end < records.length && (end === start || bytes < MAX_CHUNK_BYTES)) {
        const r = records[end];
        bytes += (r.value === null ? 0 : typeof r.value === 'string' ? Buffer.byteLength(r.value) : r.value.length) + (r.key?.length ?? 0) + 64;
        end++;
      }
      await this.sendChunk(records.slice(start, end));
      start = end;
    }
  }

  private async sendChunk(
    records: ReadonlyArray<{ topic: string; key: string | null; value: Buffer | string | null; ts: number; partition?: number }>,
  ): Promise<void> {
    const byTopic = new Map<string, Array<{ key: string | null; value: Buffer | string | null; timestamp: string; partition?: number }>>();
    for (const r of records) {
      if (!Number.isFinite(r.ts)) throw new MonitorError(`record timestamp must be a finite number (topic ${r.topic})`, { code: ErrorCode.BUS_FAILED });
      const list = byTopic.get(r.topic) ?? [];
      list.push({ key: r.key, value: r.value, timestamp: String(Math.trunc(r.ts)), ...(r.partition === undefined ? {} : { partition: r.partition }) });
      byTopic.set(r.topic, list);
    }
    await this.call('publish', async () => {
      const producer = await this.producer();
      await producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
    });
  }

  private async readRanges(
    topic: string,
    ranges: ReadonlyMap<number, { start: bigint; end: bigint }>,
    seeks: ReadonlyArray<{ partition: number; offset: string }>,
  ): Promise<ConsumedRecord[]> {
    const groupId = `${this.opts.clientId}.read.${randomUUID()}`;
    const consumer = this.kafka.consumer({
      groupId,
      maxWaitTimeInMs: 100,
      sessionTimeout: this.opts.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: this.opts.heartbeatIntervalMs ?? 3000,
      retry: RETRY,
    });
    this.readers.add(consumer);
    const out: ConsumedRecord[] = [];
    const pending = new Set(ranges.keys());
    let timer: NodeJS.Timeout | undefined;
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        timer = setTimeout(
          () => reject(new MonitorError(`readToEnd ${topic}: end offsets not reached in time`, { code: ErrorCode.BUS_FAILED, retriable: true })),
          this.opts.readTimeoutMs ?? 120_000,
        );
        consumer.on(consumer.events.CRASH, ({ payload }) => {
          if (!payload.restart) reject(toBusError('readToEnd', payload.error));
        });
        consumer
          .run({
            autoCommit: false,
            eachBatchAutoResolve: true,
            eachBatch: async ({ batch }) => {
              const range = ranges.get(batch.partition);
              if (range === undefined || !pending.has(batch.partition)) return;
              for (const m of batch.messages) {
                const offset = BigInt(m.offset);
                if (offset >= range.start && offset < range.end) out.push(toConsumed(topic, batch.partition, m));
                // offsets of compacted topics have gaps: any record at or past end-1 closes the range
                if (offset >= range.end - 1n) pending.delete(batch.partition);
              }
              if (pending.size === 0) resolve();
            },
          })
          .catch(reject);
        // run() has created the group synchronously, so seeks are taken before the first fetch (as kafkajs's admin.setOffsets does)
        for (const s of seeks) consumer.seek({ topic, partition: s.partition, offset: s.offset });
      });
    } catch (err) {
      throw toBusError('readToEnd', err);
    } finally {
      clearTimeout(timer);
      this.readers.delete(consumer);
      await consumer.disconnect().catch(() => undefined);
      await this.admin()
        .then((a) => a.deleteGroups([groupId]))
        .catch((err: unknown) => this.log.debug({ err, groupId }, 'could not delete throwaway group'));
    }
    return out.sort((a, b) => a.partition - b.partition || compareOffsets(a.offset, b.offset));
  }

  /**
   * Commits for a group none of our members is in. Like kafkajs's admin.setOffsets it refuses a
   * group that has members elsewhere (a commit there would race their own), but it joins with a
   * short fetch wait, where setOffsets waits for a full default fetch (5 s) before it returns.
   */
  private async commitAsLoneMember(groupId: string, topic: string, offsets: readonly TopicOffset[]): Promise<void> {
    const admin = await this.admin();
    const { groups } = await admin.describeGroups([groupId]);
    const state = groups[0]?.state ?? 'Dead';
    if (state !== 'Empty' && state !== 'Dead') {
      throw new MonitorError(`kafka commitOffsets: group ${groupId} has active members elsewhere (state ${state})`, { code: ErrorCode.BUS_FAILED, retriable: true });
    }
    const consumer = this.kafka.consumer({ groupId, maxWaitTimeInMs: 100, retry: RETRY, sessionTimeout: this.opts.sessionTimeoutMs ?? 30_000 });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic] });
      await consumer.run({ autoCommit: false, eachBatch: async () => {} });
      consumer.pause([{ topic }]);
      await consumer.commitOffsets(offsets.map((o) => ({ topic, partition: o.partition, offset: o.offset })));
    } finally {
      await consumer.disconnect().catch(() => undefined);
    }
  }

  /**
   * kafkajs's admin gives up at once on NOT_LEADER_OR_FOLLOWER / LEADER_NOT_AVAILABLE from
   * ListOffsets (seen right after createTopics, while its metadata is stale): refresh the topic's
   * metadata and try again, a few times with backoff.
   */
  private async withLeaderRetry<T>(topic: string, fn: (admin: Admin) => Promise<T>): Promise<T> {
    const admin = await this.admin();
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn(admin);
      } catch (err) {
        if (attempt >= 8 || !isRetriable(err)) throw err;
        this.log.debug({ err, topic, attempt }, 'offset lookup failed on a retriable error; refreshing metadata');
        await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 2000)));
        await admin.fetchTopicMetadata({ topics: [topic] }).catch(() => undefined);
      }
    }
  }

  private producer(): Promise<Producer> {
    if (this.producerReady === undefined) {
      const producer = this.kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        createPartitioner: Partitioners.DefaultPartitioner,
        // bounded like the Java producer's delivery.timeout.ms: a publish fails rather than hangs
        // when Kafka stays down (downstream drops duplicates by eventId). kafkajs warns once about it.
        retry: RETRY,
      });
      this.producerReady = producer.connect().then(() => producer);
      this.producerReady.catch(() => (this.producerReady = undefined));
    }
    return this.producerReady;
  }

  private admin(): Promise<Admin> {
    if (this.adminReady === undefined) {
      const admin = this.kafka.admin({ retry: RETRY });
      this.adminReady = admin.connect().then(() => admin);
      this.adminReady.catch(() => (this.adminReady = undefined));
    }
    return this.adminReady;
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toBusError(what, err);
    }
  }
}

function toConsumed(topic: string, partition: number, m: KafkaMessage): ConsumedRecord {
  return {
    topic,
    partition,
    offset: m.offset,
    key: m.key === null ? null : m.key.toString('utf8'),
    value: m.value,
    ts: Number(m.timestamp),
  };
}

function compareOffsets(a: string, b: string): number {
  const d = BigInt(a) - BigInt(b);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}

function rootCause(e: unknown): unknown {
  let cur = e;
  for (let i = 0; i < 10 && cur instanceof Error && cur.cause !== undefined && cur.cause !== null; i++) cur = cur.cause;
  return cur;
}

/**
 * Retriable when the root cause is: kafkajs errors carry `retriable` (connection refused, leader
 * moved, coordinator loading...), ours carry it too; anything else (a bug in onBatch) is not.
 */
/** kafkajs error types of a commit that races a rebalance. */
const REJOIN_ERRORS = ['UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION', 'REBALANCE_IN_PROGRESS', 'NOT_COORDINATOR', 'COORDINATOR_NOT_AVAILABLE'];

/** Restarts of a consumer that lost its group coordinator, at most, between two joins (~80 s of backoff). */
const COORDINATOR_RESTARTS = 12;

/** kafkajs could not find the group's coordinator (its brokers are restarting). */
function coordinatorLost(e: unknown): boolean {
  for (let cur = e, i = 0; i < 10 && cur instanceof Error; i++, cur = cur.cause) {
    if (cur.name === 'KafkaJSGroupCoordinatorNotFound') return true;
  }
  return false;
}

function isRetriable(e: unknown): boolean {
  const root = rootCause(e);
  if (root instanceof MonitorError) return root.retriable;
  return typeof root === 'object' && root !== null && (root as { retriable?: unknown }).retriable === true;
}

function toBusError(what: string, err: unknown): MonitorError {
  if (err instanceof MonitorError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const retriable =
    isRetriable(err) ||
    (err instanceof Error && ['KafkaJSNumberOfRetriesExceeded', 'KafkaJSConnectionError', 'KafkaJSRequestTimeoutError'].includes(err.name));
  return new MonitorError(`kafka ${what}: ${message}`, { code: ErrorCode.BUS_FAILED, retriable, cause: err });
}
