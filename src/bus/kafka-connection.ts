import type tls from 'node:tls';
import { Kafka, Partitioners, type Admin, type Producer, type SASLOptions } from 'kafkajs';
import type { Logger } from '../logger.ts';
import { kafkaLogCreator, kafkaLogLevelOf } from './kafka-logger.ts';
import { isRetriable, RETRY } from './kafka-support.ts';

export interface KafkaBusOptions {
  readonly brokers: string[];
  readonly clientId: string;
  readonly logger: Logger;
  readonly ssl?: boolean | tls.ConnectionOptions;
  readonly sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string };
  readonly connectionTimeoutMs?: number;
  /** Consumer-group session timeout (broker minimum group.min.session.timeout.ms; tests use a short one). Default 30000. */
  readonly sessionTimeoutMs?: number;
  /** Default 3000 (kafkajs); must be well below the session timeout. */
  readonly heartbeatIntervalMs?: number;
  /** Longest time the broker holds a fetch when no data is there. Default 500 (kafkajs: 5000). */
  readonly maxWaitTimeMs?: number;
  /** Upper bound on one readToEnd call. Default 120000. */
  readonly readTimeoutMs?: number;
}

export const DEFAULT_SESSION_TIMEOUT_MS = 30_000;
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 3_000;

/**
 * The kafkajs client the parts of KafkaBus share, with its producer and admin client made on first
 * use. Brokers are given as 127.0.0.1:port, not localhost (Node may try ::1 first).
 */
export class KafkaConnection {
  readonly kafka: Kafka;
  readonly log: Logger;
  private producerReady: Promise<Producer> | undefined;
  private adminReady: Promise<Admin> | undefined;

  constructor(readonly opts: KafkaBusOptions) {
    this.log = opts.logger.child({ component: 'kafka-bus' });
    this.kafka = new Kafka({
      clientId: opts.clientId,
      brokers: opts.brokers,
      ssl: opts.ssl,
      sasl: opts.sasl as SASLOptions | undefined,
      connectionTimeout: opts.connectionTimeoutMs ?? 3000,
      retry: RETRY,
      logLevel: kafkaLogLevelOf(opts.logger.level),
      logCreator: kafkaLogCreator(opts.logger),
    });
  }

  get sessionTimeoutMs(): number {
    return this.opts.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS;
  }

  get heartbeatIntervalMs(): number {
    return this.opts.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
  }

  producer(): Promise<Producer> {
    if (this.producerReady === undefined) {
      const producer = this.kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        createPartitioner: Partitioners.DefaultPartitioner,
        // bounded like the Java producer's delivery.timeout.ms: a publish fails rather than hangs
        // when Kafka stays down (downstream drops duplicates by eventId). kafkajs warns once about it.
        retry: RETRY,
      });
      this.producerReady = producer.connect().then(() => producer);
      this.producerReady.catch(() => (this.producerReady = undefined));
    }
    return this.producerReady;
  }

  /**
   * kafkajs keeps every topic it produced to in its metadata refreshes, and a refresh that names a
   * deleted topic fails every later send: after deleting topics, the next publish starts a fresh producer.
   */
  async resetProducer(): Promise<void> {
    const old = this.producerReady;
    this.producerReady = undefined;
    if (old) await old.then((p) => p.disconnect()).catch(() => undefined);
  }

  admin(): Promise<Admin> {
    if (this.adminReady === undefined) {
      const admin = this.kafka.admin({ retry: RETRY });
      this.adminReady = admin.connect().then(() => admin);
      this.adminReady.catch(() => (this.adminReady = undefined));
    }
    return this.adminReady;
  }

  /**
   * kafkajs's admin gives up at once on NOT_LEADER_OR_FOLLOWER / LEADER_NOT_AVAILABLE from
   * ListOffsets (seen right after createTopics, while its metadata is stale): refresh the topic's
   * metadata and try again, a few times with backoff.
   */
  async withLeaderRetry<T>(topic: string, fn: (admin: Admin) => Promise<T>): Promise<T> {
    const admin = await this.admin();
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn(admin);
      } catch (err) {
        if (attempt >= 8 || !isRetriable(err)) throw err;
        this.log.debug({ err, topic, attempt }, 'offset lookup failed on a retriable error; refreshing metadata');
        await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 2000)));
        await admin.fetchTopicMetadata({ topics: [topic] }).catch(() => undefined);
      }
    }
  }

  /** Disconnects the producer and the admin client. */
  async close(): Promise<void> {
    const producer = this.producerReady;
    const admin = this.adminReady;
    this.producerReady = undefined;
    this.adminReady = undefined;
    await Promise.allSettled([producer?.then((p) => p.disconnect()), admin?.then((a) => a.disconnect())]);
  }
}
