import { ErrorCode, MonitorError } from '../domain/errors.ts';
import type { ProduceRecord, Publisher, RawPublisher, RawRecord } from './bus.ts';
import type { KafkaConnection } from './kafka-connection.ts';
import { call } from './kafka-support.ts';

/**
 * Publishing on Kafka: the idempotent producer, acks all (-1), one request in flight (kafkajs
 * requires it for idempotence), Kafka's murmur2 default partitioner; the record timestamp is the
 * event time.
 */
/** One produce request carries one record batch per partition, and the broker refuses a batch over message.max.bytes (1 MiB by default). */
export const MAX_REQUEST_BYTES = 512 * 1024;
/** What a record costs in a request beyond its key and value (headers, lengths, timestamps), roughly. */
const RECORD_OVERHEAD_BYTES = 64;

export class KafkaPublisher implements Publisher, RawPublisher {
  constructor(private readonly c: KafkaConnection) {}

  async publish(records: readonly ProduceRecord[]): Promise<void> {
    await this.send(records.map((r) => ({ ...r, value: r.value === null ? null : JSON.stringify(r.value) })));
  }

  async publishRaw(records: readonly RawRecord[]): Promise<void> {
    await this.send(records);
  }

  /** Sends in requests well below the broker's limit. */
  private async send(records: readonly RawRecord[]): Promise<void> {
    let start = 0;
    while (start < records.length) {
      let bytes = 0;
      let end = start;
      while (end < records.length && (end === start || bytes < MAX_REQUEST_BYTES)) {
        const r = records[end];
        bytes += (r.value === null ? 0 : typeof r.value === 'string' ? Buffer.byteLength(r.value) : r.value.length) + (r.key?.length ?? 0) + RECORD_OVERHEAD_BYTES;
        end++;
      }
      await this.sendRequest(records.slice(start, end));
      start = end;
    }
  }

  private async sendRequest(records: readonly RawRecord[]): Promise<void> {
    const byTopic = new Map<string, Array<{ key: string | null; value: Buffer | string | null; timestamp: string; partition?: number }>>();
    for (const r of records) {
      if (!Number.isFinite(r.ts)) throw new MonitorError(`record timestamp must be a finite number (topic ${r.topic})`, { code: ErrorCode.BUS_FAILED });
      const list = byTopic.get(r.topic) ?? [];
      list.push({ key: r.key, value: r.value, timestamp: String(Math.trunc(r.ts)), ...(r.partition === undefined ? {} : { partition: r.partition }) });
      byTopic.set(r.topic, list);
    }
    await call('publish', async () => {
      const producer = await this.c.producer();
      await producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
    });
  }
}
