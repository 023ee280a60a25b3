import type * as tls from 'node:tls';
import { Kafka, logLevel, type SASLOptions } from 'kafkajs';
import { within } from '../deadline.ts';

/**
 * One quick question to the brokers before a command starts its clients: kafkajs's own retries
 * (the bus's, sized for a broker restart under load) take about two minutes to give up on a broker
 * that is not there, which a person at a terminal reads as a hang. No retries here, short timeouts.
 */
export interface KafkaProbeOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly ssl?: boolean | tls.ConnectionOptions;
  readonly sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string };
  /** The whole probe, at most (default 8 s). */
  readonly timeoutMs?: number;
}

/** Resolves once a broker answered (its cluster metadata); rejects with the reason otherwise. */
export async function probeKafka(o: KafkaProbeOptions): Promise<void> {
  const timeoutMs = o.timeoutMs ?? 8_000;
  const kafka = new Kafka({
    clientId: `${o.clientId}-probe`,
    brokers: [...o.brokers],
    ssl: o.ssl,
    sasl: o.sasl as SASLOptions | undefined,
    connectionTimeout: Math.min(3_000, timeoutMs),
    requestTimeout: Math.min(5_000, timeoutMs),
    retry: { retries: 0 },
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin({ retry: { retries: 0 } });
  try {
    const answer = await within(timeoutMs, admin.connect().then(() => admin.describeCluster()));
    if (answer === 'timeout') throw new Error(`no answer within ${Math.round(timeoutMs / 1000)} s`);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
