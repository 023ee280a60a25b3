import type { Bus, ConsumedRecord, ProduceRecord, RawPublisher, RawRecord, ReadRange, SubscribeOptions, Subscription, TopicOffset, TopicSpec } from './bus.ts';
import { KafkaConnection, type KafkaBusOptions } from './kafka-connection.ts';
import { KafkaLogReader } from './kafka-log-reader.ts';
import { KafkaPublisher } from './kafka-publisher.ts';
import { KafkaSubscriber } from './kafka-subscriber.ts';
import { KafkaTopicAdmin } from './kafka-topic-admin.ts';

export type { KafkaBusOptions } from './kafka-connection.ts';

/**
 * The Bus port on Apache Kafka through kafkajs 2.2.4 (ARCHITECTURE.md "Kafka contracts"): one
 * kafkajs client (kafka-connection.ts) and a part per port, each in its file:
 * - KafkaPublisher: idempotent producer, acks all, requests under 512 KiB; the record timestamp is the event time;
 * - KafkaSubscriber: consumer groups, commits only on `commitOffsets`, restarts after retriable crashes;
 * - KafkaLogReader: offsets lookups, and `readToEnd` through a throwaway group;
 * - KafkaTopicAdmin: topics created explicitly with the configs of topics.ts.
 * Every failure is a MonitorError BUS_FAILED with `retriable` set from kafkajs's own flag (kafka-support.ts).
 */
export class KafkaBus implements Bus, RawPublisher {
  private readonly connection: KafkaConnection;
  private readonly publisher: KafkaPublisher;
  private readonly subscriber: KafkaSubscriber;
  private readonly reader: KafkaLogReader;
  private readonly topics: KafkaTopicAdmin;

  constructor(opts: KafkaBusOptions) {
    this.connection = new KafkaConnection(opts);
    this.publisher = new KafkaPublisher(this.connection);
    this.subscriber = new KafkaSubscriber(this.connection);
    this.reader = new KafkaLogReader(this.connection);
    this.topics = new KafkaTopicAdmin(this.connection);
  }

  publish(records: readonly ProduceRecord[]): Promise<void> {
    return this.publisher.publish(records);
  }
  publishRaw(records: readonly RawRecord[]): Promise<void> {
    return this.publisher.publishRaw(records);
  }
  subscribe(options: SubscribeOptions): Promise<Subscription> {
    return this.subscriber.subscribe(options);
  }
  commitOffsets(groupId: string, topic: string, offsets: readonly TopicOffset[]): Promise<void> {
    return this.subscriber.commitOffsets(groupId, topic, offsets);
  }
  partitionCount(topic: string): Promise<number> {
    return this.reader.partitionCount(topic);
  }
  endOffsets(topic: string): Promise<TopicOffset[]> {
    return this.reader.endOffsets(topic);
  }
  offsetsForTimestamp(topic: string, ts: number): Promise<TopicOffset[]> {
    return this.reader.offsetsForTimestamp(topic, ts);
  }
  committedOffsets(groupId: string, topic: string): Promise<TopicOffset[]> {
    return this.reader.committedOffsets(groupId, topic);
  }
  listGroups(prefix: string): Promise<string[]> {
    return this.reader.listGroups(prefix);
  }
  readToEnd(topic: string, range?: ReadRange): Promise<ConsumedRecord[]> {
    return this.reader.readToEnd(topic, range);
  }
  ensureTopics(specs: readonly TopicSpec[]): Promise<void> {
    return this.topics.ensureTopics(specs);
  }
  deleteTopics(topics: readonly string[]): Promise<void> {
    return this.topics.deleteTopics(topics);
  }
  listTopics(): Promise<string[]> {
    return this.topics.listTopics();
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.subscriber.close(), this.reader.close()]);
    await this.connection.close();
  }
}
