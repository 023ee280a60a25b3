/**
 * The order in which the processor applies records of several partitions (ARCHITECTURE.md runtime
 * rule 2): by event time, then partition, then offset. The merger releases in it, a restart
 * rebuilds in it, a replay of a Kafka time range publishes in it, and the acceptance fold sorts
 * by it: one comparator, so that they cannot drift apart.
 */
export interface EventOrdered {
  readonly ts: number;
  readonly partition: number;
  /** Decimal string (kafkajs convention): offsets can exceed 2^53. */
  readonly offset: string;
}

/** Negative when `a` comes first, positive when `b` does, 0 for the same record. */
export function compareEventOrder(a: EventOrdered, b: EventOrdered): number {
  if (a.ts !== b.ts) return a.ts < b.ts ? -1 : 1;
  if (a.partition !== b.partition) return a.partition - b.partition;
  if (a.offset === b.offset) return 0;
  return BigInt(a.offset) < BigInt(b.offset) ? -1 : 1;
}
