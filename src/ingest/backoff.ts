/**
 * Exponential backoff with full jitter off by default (deterministic in tests): initial, x2 each
 * failure, capped. `reset()` after a success.
 */
export class Backoff {
  private failures = 0;
  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
    private readonly jitter: () => number = () => 1,
  ) {}
  /** The delay before the next attempt, and counts the failure. */
  next(): number {
    const d = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.failures, 30));
    this.failures++;
    return Math.round(d * this.jitter());
  }
  reset(): void {
    this.failures = 0;
  }
  get attempts(): number {
    return this.failures;
  }
}

/** A sleep that a stop can cut short (resolves false when aborted). */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      resolve(false);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
