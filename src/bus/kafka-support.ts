import type { KafkaMessage, RetryOptions } from 'kafkajs';
import { ErrorCode, MonitorError } from '../domain/errors.ts';
import type { ConsumedRecord } from './bus.ts';

/**
 * What the parts of KafkaBus share: kafkajs's retry settings, the record mapping, and how a
 * kafkajs failure becomes our BUS_FAILED error with its `retriable` flag (STYLE.md 7).
 */

/**
 * Retries with exponential backoff (kafkajs: factor 0.2 jitter, multiplier 2): about two minutes of
 * attempts in all, enough to ride out a broker restart.
 */
export const RETRY: RetryOptions = { initialRetryTime: 300, maxRetryTime: 30_000, retries: 10 };

export function toConsumed(topic: string, partition: number, m: KafkaMessage): ConsumedRecord {
  return {
    topic,
    partition,
    offset: m.offset,
    key: m.key === null ? null : m.key.toString('utf8'),
    value: m.value,
    ts: Number(m.timestamp),
  };
}

export function compareOffsets(a: string, b: string): number {
  const d = BigInt(a) - BigInt(b);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}

export function rootCause(e: unknown): unknown {
  let cur = e;
  for (let i = 0; i < 10 && cur instanceof Error && cur.cause !== undefined && cur.cause !== null; i++) cur = cur.cause;
  return cur;
}

/**
 * Retriable when the root cause is: kafkajs errors carry `retriable` (connection refused, leader
 * moved, coordinator loading...), ours carry it too; anything else (a bug in onBatch) is not.
 */
export function isRetriable(e: unknown): boolean {
  const root = rootCause(e);
  if (root instanceof MonitorError) return root.retriable;
  return typeof root === 'object' && root !== null && (root as { retriable?: unknown }).retriable === true;
}

/** kafkajs could not find the group's coordinator (its brokers are restarting). */
export function coordinatorLost(e: unknown): boolean {
  for (let cur = e, i = 0; i < 10 && cur instanceof Error; i++, cur = cur.cause) {
    if (cur.name === 'KafkaJSGroupCoordinatorNotFound') return true;
  }
  return false;
}

export function toBusError(what: string, err: unknown): MonitorError {
  if (err instanceof MonitorError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const retriable =
    isRetriable(err) ||
    (err instanceof Error && ['KafkaJSNumberOfRetriesExceeded', 'KafkaJSConnectionError', 'KafkaJSRequestTimeoutError'].includes(err.name));
  return new MonitorError(`kafka ${what}: ${message}`, { code: ErrorCode.BUS_FAILED, retriable, cause: err });
}

/** Runs a kafkajs call, its failure as a BUS_FAILED MonitorError. */
export async function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toBusError(what, err);
  }
}
