/**
 * The Bus port (STYLE.md 3): publish and consume keyed records whose timestamp is their event time.
 * Adapters: KafkaBus (kafkajs) and MemoryBus. Topic names live in topics.ts.
 */
export interface ProduceRecord {
  readonly topic: string;
  readonly key: string | null;
  /** JSON-serialisable value; null is a tombstone (compacted topics). */
  readonly value: unknown;
  /** Event time in ms; becomes the record timestamp. */
  readonly ts: number;
  /** Optional explicit partition; otherwise the key decides. */
  readonly partition?: number;
}

export interface ConsumedRecord {
  readonly topic: string;
  readonly partition: number;
  /** Kafka offset as a decimal string (kafkajs convention). */
  readonly offset: string;
  readonly key: string | null;
  /** Raw bytes as received (null for a tombstone); decoding belongs to the caller so bad bytes can be dead-lettered. */
  readonly value: Buffer | null;
  readonly ts: number;
}

export interface TopicSpec {
  readonly topic: string;
  readonly partitions: number;
  readonly compacted?: boolean;
  /** null = never expires by age. */
  readonly retentionMs?: number | null;
}
