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

export interface TopicOffset {
  readonly partition: number;
  /** The next offset to read (Kafka's committed-offset convention), decimal string. */
  readonly offset: string;
}

export interface Subscription {
  /** Partitions currently assigned to this member, per topic. */
  assignment(): ReadonlyMap<string, readonly number[]>;
  pause(): void;
  resume(): void;
  /** Leaves the group and stops; pending onBatch calls complete first. */
  stop(): Promise<void>;
}

export interface SubscribeOptions {
  readonly groupId: string;
  readonly topics: readonly string[];
  /** Where to start when the group has no committed offset. */
  readonly fromBeginning: boolean;
  /**
   * Called with the records of one fetched batch of one topic-partition, in offset order; the
   * next batch of that partition waits for the promise. Resolving does NOT commit: the caller
   * commits with `commitOffsets` once everything derived is written (ARCHITECTURE.md rule 5).
   */
  onBatch(records: readonly ConsumedRecord[]): Promise<void>;
  /** Called after every (re)assignment with the partitions now owned. */
  onAssignment?(assigned: ReadonlyMap<string, readonly number[]>): void;
  /** Consumer session timeout (ms); tests use short ones. Default: the adapter's. */
  readonly sessionTimeoutMs?: number;
  /** Called if the consumer crashes for good (non-retriable); the caller decides to exit. */
  onCrash?(err: Error): void;
}

/** Publishing (ingest, the processor's outputs, replays). Values are JSON-encoded. */
export interface Publisher {
  /** Publishes and resolves once every record is acknowledged (acks all). */
  publish(records: readonly ProduceRecord[]): Promise<void>;
}

/** A record published as given, bytes and all: tests and tools that put undecodable input on a topic. */
export interface RawRecord {
  readonly topic: string;
  readonly key: string | null;
  readonly value: Buffer | string | null;
  readonly ts: number;
  readonly partition?: number;
}

/** Publishing raw bytes: not part of the Bus (nothing in the monitor writes what it cannot encode); both adapters offer it to tests and tools. */
export interface RawPublisher {
  publishRaw(records: readonly RawRecord[]): Promise<void>;
}

/** Consumer groups: subscribe, and commit what is written (ARCHITECTURE.md rule 5). */
export interface Subscriber {
  /** Consumer-group subscription (see SubscribeOptions). */
  subscribe(options: SubscribeOptions): Promise<Subscription>;
  /** Commits offsets (next offset to read) for a group. */
  commitOffsets(groupId: string, topic: string, offsets: readonly TopicOffset[]): Promise<void>;
}

/** The range of a bounded read: per partition, from (default: the start) up to (exclusive; default: the end at call time). */
export interface ReadRange {
  readonly partitions?: readonly number[];
  readonly from?: readonly TopicOffset[];
  readonly to?: readonly TopicOffset[];
}

/** Reading the log outside a consumer group: offsets lookups and bounded reads (restarts, handovers, replays, record). */
export interface LogReader {
  /** The number of partitions of a topic. */
  partitionCount(topic: string): Promise<number>;
  /** The end offset (high watermark) of each partition. */
  endOffsets(topic: string): Promise<TopicOffset[]>;
  /** The earliest offset of each partition whose timestamp is >= ts (the end offset where none). */
  offsetsForTimestamp(topic: string, ts: number): Promise<TopicOffset[]>;
  /** The group's committed offsets for a topic ('-1' where none). */
  committedOffsets(groupId: string, topic: string): Promise<TopicOffset[]>;
  /** The consumer groups whose id starts with `prefix` (a takeover looks for its predecessor's). */
  listGroups(prefix: string): Promise<string[]>;
  /**
   * Reads every partition (or those given) from `from` (default: the beginning) up to the end
   * offsets at call time, or up to `to` (exclusive) where given: the look-back read on restart.
   */
  readToEnd(topic: string, range?: ReadRange): Promise<ConsumedRecord[]>;
}

/** Topics: created with their specs by the wiring, listed and deleted by `ccm runs`. */
export interface TopicAdmin {
  /** Creates missing topics with their partitions and configs; existing ones are left as they are. */
  ensureTopics(specs: readonly TopicSpec[]): Promise<void>;
  deleteTopics(topics: readonly string[]): Promise<void>;
  listTopics(): Promise<string[]>;
}

/**
 * The Bus port (STYLE.md 3): the four small ports above on one connection. Record timestamps are
 * event times (so offsets can be found by time). A component asks for the ports it uses (the
 * ingestor a Publisher, the webhook notifier a Subscriber); the wiring hands it the whole Bus.
 * Adapters: KafkaBus (kafkajs: idempotent producer, acks all) and MemoryBus (same semantics, in memory).
 */
export interface Bus extends Publisher, Subscriber, LogReader, TopicAdmin {
  close(): Promise<void>;
}
