import type { Logger } from '../logger.ts';
import { isMonitorError } from '../domain/errors.ts';

/**
 * The processor's one retry policy (STYLE.md 8): a retriable infrastructure failure (a MonitorError
 * marked retriable, or anything that is not a MonitorError: a driver's own error) is retried with
 * exponential backoff for as long as it takes, while the caller waits; that wait is the
 * back-pressure that bounds memory during an outage (the InfluxDB outage fault test). A
 * non-retriable failure is thrown at once. While the processor stops, a failure is retried a few
 * times only, so that SIGTERM is not held hostage by a service that is gone.
 */
export interface RetryPolicyOptions {
  readonly logger: Logger;
  /** True once the processor is stopping. */
  readonly isStopping: () => boolean;
  /** Called before each retry (metrics). */
  readonly onRetry?: (what: string) => void;
}

export const RETRY_INITIAL_DELAY_MS = 200;
export const RETRY_MAX_DELAY_MS = 5_000;
/** Retries of one call once the processor is stopping. */
export const RETRIES_WHEN_STOPPING = 3;
/** A retried call is logged at its first failure and every this many after. */
const LOG_EVERY_ATTEMPTS = 10;

export function isRetriable(e: unknown): boolean {
  return !isMonitorError(e) || e.retriable;
}

export class RetryPolicy {
  constructor(private readonly o: RetryPolicyOptions) {}

  /** Runs `fn` until it succeeds, retrying retriable failures; `what` names it in logs and metrics. */
  async run(what: string, fn: () => Promise<void>): Promise<void> {
    let delay = RETRY_INITIAL_DELAY_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        await fn();
        if (attempt > 1) this.o.logger.info({ what, attempt }, 'recovered');
        return;
      } catch (e) {
        if (!isRetriable(e) || (this.o.isStopping() && attempt > RETRIES_WHEN_STOPPING)) throw e;
        this.o.onRetry?.(what);
        if (attempt === 1 || attempt % LOG_EVERY_ATTEMPTS === 0) this.o.logger.warn({ what, attempt, err: e }, 'retrying');
        await new Promise<void>((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, RETRY_MAX_DELAY_MS);
      }
    }
  }
}
