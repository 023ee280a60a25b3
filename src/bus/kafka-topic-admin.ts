import type { TopicAdmin, TopicSpec } from './bus.ts';
import type { KafkaConnection } from './kafka-connection.ts';
import { call } from './kafka-support.ts';
import { topicConfigEntries } from './topics.ts';

/**
 * Topics on Kafka, created explicitly with the configs of topics.ts: auto-create is off, since
 * kafkajs does not retry the first UNKNOWN_TOPIC_OR_PARTITION under KRaft (notes/kafka-broker.md 5).
 */
export class KafkaTopicAdmin implements TopicAdmin {
  constructor(private readonly c: KafkaConnection) {}

  async ensureTopics(specs: readonly TopicSpec[]): Promise<void> {
    await call('ensureTopics', async () => {
      const admin = await this.c.admin();
      const existing = new Set(await admin.listTopics());
      const missing = specs.filter((s) => !existing.has(s.topic));
      if (missing.length === 0) return;
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((s) => ({ topic: s.topic, numPartitions: s.partitions, replicationFactor: 1, configEntries: topicConfigEntries(s) })),
      });
      this.c.log.info({ topics: missing.map((s) => s.topic) }, 'created topics');
    });
  }

  async deleteTopics(topics: readonly string[]): Promise<void> {
    await call('deleteTopics', async () => {
      const admin = await this.c.admin();
      const existing = new Set(await admin.listTopics());
      const present = topics.filter((t) => existing.has(t));
      if (present.length > 0) await admin.deleteTopics({ topics: present });
    });
    await this.c.resetProducer();
  }

  async listTopics(): Promise<string[]> {
    return call('listTopics', async () => (await (await this.c.admin()).listTopics()).filter((t) => !t.startsWith('__')).sort());
  }
}
