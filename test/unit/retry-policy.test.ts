import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { RetryPolicy, RETRIES_WHEN_STOPPING } from '../../src/processor/retry-policy.ts';
import { ErrorCode, MonitorError } from '../../src/domain/errors.ts';

const silent = pino({ level: 'silent' }, new Writable({ write: (_c, _e, cb) => cb() }));
const retriable = () => new MonitorError('influx is down', { code: ErrorCode.SINK_WRITE_FAILED, retriable: true });

/** A call that fails `n` times with `error`, then succeeds. */
function failing(n: number, error: () => Error) {
  let calls = 0;
  const fn = async (): Promise<void> => {
    calls++;
    if (calls <= n) throw error();
  };
  return { fn, calls: () => calls };
}

describe('retry policy', () => {
  it('retries a retriable failure until the call succeeds, reporting each retry', async () => {
    const retried: string[] = [];
    const policy = new RetryPolicy({ logger: silent, isStopping: () => false, onRetry: (what) => retried.push(what) });
    const call = failing(2, retriable);
    await policy.run('sink write', call.fn);
    expect(call.calls()).toBe(3);
    expect(retried).toEqual(['sink write', 'sink write']);
  });

  it('throws a failure that is not retriable at once', async () => {
    const policy = new RetryPolicy({ logger: silent, isStopping: () => false });
    const call = failing(1, () => new MonitorError('bad point', { code: ErrorCode.SINK_WRITE_FAILED, retriable: false }));
    await expect(policy.run('sink write', call.fn)).rejects.toThrow('bad point');
    expect(call.calls()).toBe(1);
  });

  it('retries a driver error that is not ours (it may be a connection reset)', async () => {
    const policy = new RetryPolicy({ logger: silent, isStopping: () => false });
    const call = failing(1, () => new Error('ECONNRESET'));
    await policy.run('publish outputs', call.fn);
    expect(call.calls()).toBe(2);
  });

  it('gives up after a few retries once the processor is stopping', async () => {
    const policy = new RetryPolicy({ logger: silent, isStopping: () => true });
    const call = failing(100, retriable);
    await expect(policy.run('commit', call.fn)).rejects.toThrow('influx is down');
    expect(call.calls()).toBe(RETRIES_WHEN_STOPPING + 1);
  }, 10_000);
});
