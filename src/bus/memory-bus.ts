import { ErrorCode, MonitorError } from '../domain/errors.ts';
import type { Bus, ConsumedRecord, ProduceRecord, RawPublisher, RawRecord, ReadRange, SubscribeOptions, Subscription, TopicOffset, TopicSpec } from './bus.ts';
import { MemoryGroups } from './memory-groups.ts';
import { MemoryLog } from './memory-log.ts';

/**
 * The Bus port in memory (STYLE.md 14): the embedded default mode and the tests. Same semantics
 * as KafkaBus where callers can tell; the topics and their records are MemoryLog's
 * (memory-log.ts), the consumer groups MemoryGroups' (memory-groups.ts). Differences from Kafka:
 * compaction and retention are not applied (every record is kept), publishing to or subscribing
 * to a missing topic fails at once (Kafka would retry, then fail).
 */
export class MemoryBus implements Bus, RawPublisher {
  private readonly log: MemoryLog;
  private readonly groups: MemoryGroups;
  private closed = false;

  constructor(options: { maxBatchRecords?: number } = {}) {
    this.log = new MemoryLog((topic) => this.groups.forgetTopic(topic));
    this.groups = new MemoryGroups(this.log, options.maxBatchRecords);
  }

  async publish(records: readonly ProduceRecord[]): Promise<void> {
    this.append(records.map((r) => ({ ...r, value: r.value === null ? null : JSON.stringify(r.value) })));
  }

  async publishRaw(records: readonly RawRecord[]): Promise<void> {
    this.append(records);
  }

  subscribe(options: SubscribeOptions): Promise<Subscription> {
    return this.groups.subscribe(options);
  }
  commitOffsets(groupId: string, topic: string, offsets: readonly TopicOffset[]): Promise<void> {
    return this.groups.commitOffsets(groupId, topic, offsets);
  }
  committedOffsets(groupId: string, topic: string): Promise<TopicOffset[]> {
    return this.groups.committedOffsets(groupId, topic);
  }
  async listGroups(prefix: string): Promise<string[]> {
    return this.groups.listGroups(prefix);
  }
  /** The member of this subscription dies (MemoryGroups.expel): tests of a killed instance. */
  expel(subscription: Subscription): void {
    this.groups.expel(subscription);
  }
  async partitionCount(topic: string): Promise<number> {
    return this.log.partitionsOf(topic);
  }
  endOffsets(topic: string): Promise<TopicOffset[]> {
    return this.log.endOffsets(topic);
  }
  offsetsForTimestamp(topic: string, ts: number): Promise<TopicOffset[]> {
    return this.log.offsetsForTimestamp(topic, ts);
  }
  readToEnd(topic: string, range?: ReadRange): Promise<ConsumedRecord[]> {
    return this.log.readToEnd(topic, range);
  }
  ensureTopics(specs: readonly TopicSpec[]): Promise<void> {
    return this.log.ensureTopics(specs);
  }
  deleteTopics(topics: readonly string[]): Promise<void> {
    return this.log.deleteTopics(topics);
  }
  listTopics(): Promise<string[]> {
    return this.log.listTopics();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.groups.close();
  }

  private append(records: readonly RawRecord[]): void {
    if (this.closed) throw new MonitorError('bus is closed', { code: ErrorCode.BUS_FAILED });
    this.groups.notify(this.log.append(records));
  }
}
