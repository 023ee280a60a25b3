import type { TopicAdmin, TopicSpec } from './bus.ts';
import type { KafkaConnection } from './kafka-connection.ts';
import { call } from './kafka-support.ts';
import { topicConfigEntries } from './topics.ts';

const LEADERS_TIMEOUT_MS = 30_000;
const LEADERS_POLL_MS = 200;

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
      try {
        await admin.createTopics({
          waitForLeaders: true,
          topics: missing.map((s) => ({ topic: s.topic, numPartitions: s.partitions, replicationFactor: 1, configEntries: topicConfigEntries(s) })),
        });
      } catch (err) {
        // kafkajs's wait for the leaders does not retry the first UNKNOWN_TOPIC_OR_PARTITION of a
        // topic just created (notes/kafka-broker.md): the topics exist; wait for their leaders here
        if ((err as { type?: string }).type !== 'UNKNOWN_TOPIC_OR_PARTITION') throw err;
        await this.waitForLeaders(missing.map((s) => s.topic));
      }
      this.c.log.info({ topics: missing.map((s) => s.topic) }, 'created topics');
    });
  }

  /** Polls the topics' metadata until every partition has a leader (a deadline, then the last error). */
  private async waitForLeaders(topics: readonly string[]): Promise<void> {
    const admin = await this.c.admin();
    const deadline = Date.now() + LEADERS_TIMEOUT_MS;
    for (;;) {
      try {
        const { topics: meta } = await admin.fetchTopicMetadata({ topics: [...topics] });
        if (meta.length === topics.length && meta.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) return;
        if (Date.now() > deadline) throw new Error(`no leader for ${topics.join(', ')} after ${LEADERS_TIMEOUT_MS} ms`);
      } catch (err) {
        if (Date.now() > deadline) throw err;
      }
      await new Promise((r) => setTimeout(r, LEADERS_POLL_MS));
    }
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
