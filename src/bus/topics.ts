import type { TopicSpec } from './bus.ts';

/**
 * Every Kafka topic name, once (STYLE.md 10), and the specs they are created with
 * (ARCHITECTURE.md "Kafka contracts"):
 *
 * | topic          | key                  | partitions        | retention                    |
 * | -------------- | -------------------- | ----------------- | ---------------------------- |
 * | quotes         | instrument id        | quotePartitions   | quotesRetentionMs (30 d)     |
 * | entities       | entity id            | entityPartitions  | compacted, forever           |
 * | valuations     | entity id            | entityPartitions  | valuationsRetentionMs (90 d) |
 * | alerts         | entity id            | entityPartitions  | forever                      |
 * | alert-state    | entity/facility/rule | entityPartitions  | compacted, forever           |
 * | deadletter     | source               | 1                 | deadletterRetentionMs (30 d) |
 * | history        | instrument id        | quotePartitions   | forever (backfill target)    |
 * | replay.<run>.quotes | instrument id   | 1 (exact order)   | forever, until `ccm runs delete` |
 * | replay.<run>.entities | entity id      | 1, compacted      | forever, until `ccm runs delete` |
 * | webhook-delivered | eventId           | 1                 | 7 d (src/notify: alerts a webhook receiver accepted) |
 *
 * KafkaBus adds to every topic `message.timestamp.type=CreateTime` (the record timestamp is the
 * event time) and `message.timestamp.after.max.ms=Long.MAX` (Kafka 4 rejects records stamped
 * more than 1 h ahead by default; generated scenarios are future-dated).
 */
export const DEFAULT_TOPIC_PREFIX = 'ccm.';

const DAY_MS = 24 * 3600 * 1000;

export interface TopicNames {
  readonly quotes: string;
  readonly entities: string;
  readonly valuations: string;
  readonly alerts: string;
  readonly alertState: string;
  readonly deadletter: string;
  readonly history: string;
  /** A replay's (and the demo's) input quotes. */
  /** The eventIds the webhook notifier delivered (src/notify/delivered-log.ts). */
  readonly webhookDelivered: string;
  replayQuotes(run: string): string;
  /** A replay's (and the demo's) entity sheets: a replay never values the live `entities` topic. */
  replayEntities(run: string): string;
}

export function topicNames(prefix: string = DEFAULT_TOPIC_PREFIX): TopicNames {
  return {
    quotes: `${prefix}quotes`,
    entities: `${prefix}entities`,
    valuations: `${prefix}valuations`,
    alerts: `${prefix}alerts`,
    alertState: `${prefix}alert-state`,
    deadletter: `${prefix}deadletter`,
    history: `${prefix}history`,
    webhookDelivered: `${prefix}webhook-delivered`,
    replayQuotes: (run: string) => `${prefix}replay.${run}.quotes`,
    replayEntities: (run: string) => `${prefix}replay.${run}.entities`,
  };
}

export interface TopicSpecOptions {
  readonly quotePartitions?: number;
  readonly entityPartitions?: number;
  readonly quotesRetentionMs?: number;
  readonly valuationsRetentionMs?: number;
  readonly deadletterRetentionMs?: number;
  readonly webhookDeliveredRetentionMs?: number;
}

export const DEFAULT_TOPIC_SPEC_OPTIONS = {
  quotePartitions: 6,
  entityPartitions: 6,
  quotesRetentionMs: 30 * DAY_MS,
  valuationsRetentionMs: 90 * DAY_MS,
  deadletterRetentionMs: 30 * DAY_MS,
  webhookDeliveredRetentionMs: 7 * DAY_MS,
} as const satisfies Required<TopicSpecOptions>;

/** The specs of the fixed topics (replay topics are made per run by `replayTopicSpec`). */
export function topicSpecs(prefix: string = DEFAULT_TOPIC_PREFIX, options: TopicSpecOptions = {}): TopicSpec[] {
  const o = { ...DEFAULT_TOPIC_SPEC_OPTIONS, ...options };
  const t = topicNames(prefix);
  return [
    { topic: t.quotes, partitions: o.quotePartitions, retentionMs: o.quotesRetentionMs },
    { topic: t.entities, partitions: o.entityPartitions, compacted: true, retentionMs: null },
    { topic: t.valuations, partitions: o.entityPartitions, retentionMs: o.valuationsRetentionMs },
    { topic: t.alerts, partitions: o.entityPartitions, retentionMs: null },
    { topic: t.alertState, partitions: o.entityPartitions, compacted: true, retentionMs: null },
    { topic: t.deadletter, partitions: 1, retentionMs: o.deadletterRetentionMs },
    { topic: t.history, partitions: o.quotePartitions, retentionMs: null },
    { topic: t.webhookDelivered, partitions: 1, retentionMs: o.webhookDeliveredRetentionMs },
  ];
}

/** A replay's input topic: one partition so its order is exact (ARCHITECTURE.md rule 2), kept until deleted. */
export function replayTopicSpec(prefix: string, run: string): TopicSpec {
  return { topic: topicNames(prefix).replayQuotes(run), partitions: 1, retentionMs: null };
}

/** The run whose replay quotes topic this is (null for any other topic): how `ccm runs list` finds runs on Kafka. */
export function replayRunOf(prefix: string, topic: string): string | null {
  const head = `${prefix}replay.`;
  const tail = '.quotes';
  if (!topic.startsWith(head) || !topic.endsWith(tail) || topic.length <= head.length + tail.length) return null;
  return topic.slice(head.length, topic.length - tail.length);
}

/** A replay's entities topic: compacted like `entities`, one partition, kept until deleted. */
export function replayEntitiesTopicSpec(prefix: string, run: string): TopicSpec {
  return { topic: topicNames(prefix).replayEntities(run), partitions: 1, compacted: true, retentionMs: null };
}

/** Long.MAX_VALUE as Kafka reads it: "no limit" for message.timestamp.after.max.ms. */
export const KAFKA_LONG_MAX = '9223372036854775807';

/** The Kafka topic configs a spec stands for (what KafkaBus passes to CreateTopics). */
export function topicConfigEntries(spec: TopicSpec): Array<{ name: string; value: string }> {
  const entries = [
    { name: 'message.timestamp.type', value: 'CreateTime' },
    { name: 'message.timestamp.after.max.ms', value: KAFKA_LONG_MAX },
  ];
  // undefined leaves the broker default (log.retention.ms); null is "forever"
  if (spec.retentionMs !== undefined) entries.push({ name: 'retention.ms', value: spec.retentionMs === null ? '-1' : String(spec.retentionMs) });
  if (spec.compacted === true) entries.push({ name: 'cleanup.policy', value: 'compact' });
  return entries;
}
