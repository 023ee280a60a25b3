/** What others may use of the bus (STYLE.md 15): the port, its adapters, topic names. */
export type { Bus, ConsumedRecord, ProduceRecord, SubscribeOptions, Subscription, TopicOffset, TopicSpec } from './bus.ts';
export { KafkaBus, type KafkaBusOptions } from './kafka-bus.ts';
export { MemoryBus } from './memory-bus.ts';
export { kafkaLogCreator } from './kafka-logger.ts';
export { murmur2, partitionForKey } from './murmur2.ts';
export {
  DEFAULT_TOPIC_PREFIX,
  DEFAULT_TOPIC_SPEC_OPTIONS,
  replayEntitiesTopicSpec,
  replayRunOf,
  replayTopicSpec,
  topicConfigEntries,
  topicNames,
  topicSpecs,
  type TopicNames,
  type TopicSpecOptions,
} from './topics.ts';
export { parseStreamLine, readStreamFile, toStreamLine, writeStreamFile, type StreamRecord } from './stream-file.ts';
