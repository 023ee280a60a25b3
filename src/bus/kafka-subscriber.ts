import type { Consumer, ConsumerRunConfig } from 'kafkajs';
import { ErrorCode, MonitorError } from '../domain/errors.ts';
import type { SubscribeOptions, Subscriber, Subscription, TopicOffset } from './bus.ts';
import type { KafkaConnection } from './kafka-connection.ts';
import { call, coordinatorLost, isRetriable, RETRY, rootCause, toBusError, toConsumed } from './kafka-support.ts';
import { RangeAssigner } from './range-assigner.ts';

/**
 * Consumer groups on Kafka: eachBatch, offsets committed only by `commitOffsets` (autoCommit
 * off), range assignment, LeaveGroup on stop. A consumer that fails for good (non-retriable
 * cause) reports through `onCrash`; retriable failures (broker restart, coordinator moves)
 * restart it.
 */
interface Member {
  readonly consumer: Consumer;
  assignment: ReadonlyMap<string, readonly number[]>;
  /** Being restarted after a lost group coordinator: commits wait (retriable) until it has joined. */
  restarting: boolean;
}

/** kafkajs error types of a commit that races a rebalance. */
const REJOIN_ERRORS = ['UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION', 'REBALANCE_IN_PROGRESS', 'NOT_COORDINATOR', 'COORDINATOR_NOT_AVAILABLE'];

/** Restarts of a consumer that lost its group coordinator, at most, between two joins (~80 s of backoff). */
const COORDINATOR_RESTARTS = 12;
const COORDINATOR_RESTART_DELAY_MS = { first: 300, max: 10_000 } as const;
/** Longest time the broker holds a fetch when no data is there, by default (kafkajs: 5000). */
export const DEFAULT_MAX_WAIT_TIME_MS = 500;

export class KafkaSubscriber implements Subscriber {
  /** Members of this bus by group: commits of an active group go through its consumer. */
  private readonly members = new Map<string, Set<Member>>();

  constructor(private readonly c: KafkaConnection) {}

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    const log = this.c.log;
    const heartbeatIntervalMs = this.c.heartbeatIntervalMs;
    const consumer = this.c.kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: options.sessionTimeoutMs ?? this.c.sessionTimeoutMs,
      heartbeatInterval: heartbeatIntervalMs,
      maxWaitTimeInMs: this.c.opts.maxWaitTimeMs ?? DEFAULT_MAX_WAIT_TIME_MS,
      partitionAssigners: [RangeAssigner],
      retry: { ...RETRY, restartOnFailure: async (e) => isRetriable(e) },
    });
    const member: Member = { consumer, assignment: new Map(), restarting: false };
    let stopped = false;
    let failed = false;
    // Restarts after a lost group coordinator (below): attempts since the last successful join.
    let coordinatorRestarts = 0;
    let restartTimer: NodeJS.Timeout | null = null;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      coordinatorRestarts = 0;
      member.restarting = false;
      member.assignment = new Map(Object.entries(payload.memberAssignment).map(([t, ps]) => [t, [...ps].sort((a, b) => a - b)]));
      log.info({ groupId: options.groupId, assignment: payload.memberAssignment }, 'partitions assigned');
      options.onAssignment?.(member.assignment);
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (payload.restart) {
        member.restarting = true;
        log.warn({ groupId: options.groupId, err: payload.error }, 'consumer crashed on a retriable error; restarting');
        return;
      }
      // kafkajs gives up for good (KafkaJSGroupCoordinatorNotFound is "non-retriable") when the
      // member rejoins while the broker holding its group is shutting down: every lookup of the
      // coordinator fails until the broker is back. That is transient (the Kafka restart fault
      // test hits it when the consumer is not blocked in a batch at the stop), so restart it here
      // with backoff; the committed offsets are where it resumes.
      if (!stopped && !failed && coordinatorLost(payload.error) && coordinatorRestarts < COORDINATOR_RESTARTS) {
        const delayMs = Math.min(COORDINATOR_RESTART_DELAY_MS.first * 2 ** coordinatorRestarts, COORDINATOR_RESTART_DELAY_MS.max);
        coordinatorRestarts++;
        member.restarting = true;
        log.warn({ groupId: options.groupId, err: payload.error, attempt: coordinatorRestarts, delayMs }, 'consumer lost its group coordinator; restarting it');
        restartTimer = setTimeout(() => {
          restartTimer = null;
          if (stopped) return;
          // a failure to start comes back through CRASH (or throws before joining): same path
          consumer
            .connect()
            .then(() => consumer.run(runConfig))
            .catch((err: unknown) => {
              log.error({ groupId: options.groupId, err }, 'consumer restart failed');
              this.forget(options.groupId, member);
              options.onCrash?.(err instanceof Error ? err : new Error(String(err)));
            });
        }, delayMs);
        return;
      }
      log.error({ groupId: options.groupId, err: payload.error }, 'consumer crashed');
      this.forget(options.groupId, member);
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
          log.error({ groupId: options.groupId, err }, 'batch handler failed; leaving the group');
          this.forget(options.groupId, member);
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
    const set = this.members.get(options.groupId) ?? new Set<Member>();
    set.add(member);
    this.members.set(options.groupId, set);
    const topics = options.topics.map((topic) => ({ topic }));
    return {
      assignment: () => member.assignment,
      pause: () => consumer.pause(topics),
      resume: () => consumer.resume(topics),
      stop: async () => {
        if (stopped) return;
        stopped = true;
        if (restartTimer) clearTimeout(restartTimer);
        this.forget(options.groupId, member);
        // disconnect waits for the running batch, then sends LeaveGroup so the others rebalance at once
        await consumer.disconnect();
      },
    };
  }

  async commitOffsets(groupId: string, topic: string, offsets: readonly TopicOffset[]): Promise<void> {
    if (offsets.length === 0) return;
    await call('commitOffsets', async () => {
      const members = [...(this.members.get(groupId) ?? [])];
      if (members.length === 0) {
        await this.commitAsLoneMember(groupId, topic, offsets);
        return;
      }
      // commit each partition through the member that owns it (any member of the generation is accepted)
      const byMember = new Map<Member, TopicOffset[]>();
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

  /** Disconnects every consumer (the bus closes). */
  async close(): Promise<void> {
    const consumers = [...this.members.values()].flatMap((s) => [...s].map((m) => m.consumer));
    this.members.clear();
    await Promise.allSettled(consumers.map((c) => c.disconnect()));
  }

  private forget(groupId: string, member: Member): void {
    const set = this.members.get(groupId);
    set?.delete(member);
    if (set?.size === 0) this.members.delete(groupId);
  }

  /**
   * Commits for a group none of our members is in. Like kafkajs's admin.setOffsets it refuses a
   * group that has members elsewhere (a commit there would race their own), but it joins with a
   * short fetch wait, where setOffsets waits for a full default fetch (5 s) before it returns.
   */
  private async commitAsLoneMember(groupId: string, topic: string, offsets: readonly TopicOffset[]): Promise<void> {
    const admin = await this.c.admin();
    const { groups } = await admin.describeGroups([groupId]);
    const state = groups[0]?.state ?? 'Dead';
    if (state !== 'Empty' && state !== 'Dead') {
      throw new MonitorError(`kafka commitOffsets: group ${groupId} has active members elsewhere (state ${state})`, { code: ErrorCode.BUS_FAILED, retriable: true });
    }
    const consumer = this.c.kafka.consumer({ groupId, maxWaitTimeInMs: 100, retry: RETRY, sessionTimeout: this.c.sessionTimeoutMs });
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
}
