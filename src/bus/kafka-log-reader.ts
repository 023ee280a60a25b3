import { randomUUID } from 'node:crypto';
import { ErrorCode, MonitorError } from '../domain/errors.ts';
import type { ConsumedRecord, LogReader, ReadRange, TopicOffset } from './bus.ts';
import type { KafkaConnection } from './kafka-connection.ts';
import { call, compareOffsets, RETRY, toBusError, toConsumed } from './kafka-support.ts';

/** Upper bound on one readToEnd call, by default. */
export const DEFAULT_READ_TIMEOUT_MS = 120_000;
/** How often a read checks whether retention deleted what it is waiting for. */
const RANGE_WATCH_MS = 2_000;

/**
 * Reading Kafka outside a consumer group: offsets lookups through the admin client, and bounded
 * reads (`readToEnd`) through a throwaway consumer group: seek to the start offsets, stop at the
 * end offsets taken at call time, then delete the group. Empty ranges return without a consumer.
 */
export class KafkaLogReader implements LogReader {
  private readonly readers = new Set<{ disconnect(): Promise<void> }>();

  constructor(private readonly c: KafkaConnection) {}

  async partitionCount(topic: string): Promise<number> {
    return call('partitionCount', async () => {
      const { topics } = await (await this.c.admin()).fetchTopicMetadata({ topics: [topic] });
      return topics[0]?.partitions.length ?? 0;
    });
  }

  async endOffsets(topic: string): Promise<TopicOffset[]> {
    return call('endOffsets', async () => {
      const offsets = await this.c.withLeaderRetry(topic, async (admin) => admin.fetchTopicOffsets(topic));
      return offsets.map((o) => ({ partition: o.partition, offset: o.high })).sort((a, b) => a.partition - b.partition);
    });
  }

  async offsetsForTimestamp(topic: string, ts: number): Promise<TopicOffset[]> {
    return call('offsetsForTimestamp', async () => {
      // kafkajs answers the high watermark where no record is at or after ts, as the port says
      const offsets = await this.c.withLeaderRetry(topic, async (admin) => admin.fetchTopicOffsetsByTimestamp(topic, ts));
      return offsets.map((o) => ({ partition: o.partition, offset: o.offset })).sort((a, b) => a.partition - b.partition);
    });
  }

  async committedOffsets(groupId: string, topic: string): Promise<TopicOffset[]> {
    return call('committedOffsets', async () => {
      const result = await (await this.c.admin()).fetchOffsets({ groupId, topics: [topic] });
      const partitions = result.find((r) => r.topic === topic)?.partitions ?? [];
      return partitions.map((p) => ({ partition: p.partition, offset: p.offset })).sort((a, b) => a.partition - b.partition);
    });
  }

  async listGroups(prefix: string): Promise<string[]> {
    return call('listGroups', async () => {
      const { groups } = await (await this.c.admin()).listGroups();
      return groups.map((g) => g.groupId).filter((g) => g.startsWith(prefix)).sort();
    });
  }

  async readToEnd(topic: string, range: ReadRange = {}): Promise<ConsumedRecord[]> {
    const offsets = await call('readToEnd', async () => this.c.withLeaderRetry(topic, async (admin) => admin.fetchTopicOffsets(topic)));
    const wanted = range.partitions ?? offsets.map((o) => o.partition);
    // [start, end) per partition: start = max(log start, from), end = min(high watermark now, to)
    const ranges = new Map<number, { start: bigint; end: bigint }>();
    for (const p of wanted) {
      const o = offsets.find((x) => x.partition === p);
      if (o === undefined) throw new MonitorError(`topic ${topic} has no partition ${p}`, { code: ErrorCode.BUS_FAILED });
      const low = BigInt(o.low);
      const high = BigInt(o.high);
      const from = range.from?.find((x) => x.partition === p);
      const to = range.to?.find((x) => x.partition === p);
      const start = from === undefined || BigInt(from.offset) < low ? low : BigInt(from.offset);
      const end = to === undefined || BigInt(to.offset) > high ? high : BigInt(to.offset);
      if (start < end) ranges.set(p, { start, end });
    }
    if (ranges.size === 0) return [];
    const seeks = offsets.map((o) => ({ partition: o.partition, offset: String(ranges.get(o.partition)?.start ?? o.high) }));
    return this.readRanges(topic, ranges, seeks);
  }

  /** Stops the reads in progress (the bus closes). */
  async close(): Promise<void> {
    await Promise.allSettled([...this.readers].map((c) => c.disconnect()));
    this.readers.clear();
  }

  private async readRanges(
    topic: string,
    ranges: ReadonlyMap<number, { start: bigint; end: bigint }>,
    seeks: ReadonlyArray<{ partition: number; offset: string }>,
  ): Promise<ConsumedRecord[]> {
    const groupId = `${this.c.opts.clientId}.read.${randomUUID()}`;
    const consumer = this.c.kafka.consumer({ groupId, maxWaitTimeInMs: 100, sessionTimeout: this.c.sessionTimeoutMs, heartbeatInterval: this.c.heartbeatIntervalMs, retry: RETRY });
    this.readers.add(consumer);
    const out: ConsumedRecord[] = [];
    const pending = new Set(ranges.keys());
    let timer: NodeJS.Timeout | undefined;
    let watch: NodeJS.Timeout | undefined;
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        timer = setTimeout(
          () => reject(new MonitorError(`readToEnd ${topic}: end offsets not reached in time`, { code: ErrorCode.BUS_FAILED, retriable: true })),
          this.c.opts.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS,
        );
        consumer.on(consumer.events.CRASH, ({ payload }) => {
          if (!payload.restart) reject(toBusError('readToEnd', payload.error));
        });
        consumer
          .run({
            autoCommit: false,
            eachBatchAutoResolve: true,
            eachBatch: async ({ batch }) => {
              const r = ranges.get(batch.partition);
              if (r === undefined || !pending.has(batch.partition)) return;
              for (const m of batch.messages) {
                const offset = BigInt(m.offset);
                if (offset >= r.start && offset < r.end) out.push(toConsumed(topic, batch.partition, m));
                // offsets of compacted topics have gaps: any record at or past end-1 closes the range
                if (offset >= r.end - 1n) pending.delete(batch.partition);
              }
              if (pending.size === 0) resolve();
            },
          })
          .catch(reject);
        // run() has created the group synchronously, so seeks are taken before the first fetch (as kafkajs's admin.setOffsets does)
        for (const s of seeks) consumer.seek({ topic, partition: s.partition, offset: s.offset });
        // Retention may delete a range after the offsets were taken: the consumer then resets to the
        // new log start and never sees the range's end. A range whose records are all gone is done.
        watch = setInterval(() => {
          void this.c
            .withLeaderRetry(topic, async (admin) => admin.fetchTopicOffsets(topic))
            .then((now) => {
              for (const o of now) {
                const r = ranges.get(o.partition);
                if (r !== undefined && BigInt(o.low) >= r.end) pending.delete(o.partition);
              }
              if (pending.size === 0) resolve();
            })
            .catch(() => undefined);
        }, RANGE_WATCH_MS);
      });
    } catch (err) {
      throw toBusError('readToEnd', err);
    } finally {
      clearTimeout(timer);
      clearInterval(watch);
      this.readers.delete(consumer);
      await consumer.disconnect().catch(() => undefined);
      await this.c
        .admin()
        .then((a) => a.deleteGroups([groupId]))
        .catch((err: unknown) => this.c.log.debug({ err, groupId }, 'could not delete throwaway group'));
    }
    return out.sort((a, b) => a.partition - b.partition || compareOffsets(a.offset, b.offset));
  }
}
