import cron from 'node-cron';
import type { Logger } from '../logger.ts';
import type { Emit, Mapped, QuoteSource } from './quote-source.ts';
import { Backoff } from './backoff.ts';
import { isSecretName, redactText, redactUrlWithSecrets } from '../redact.ts';

/** How much of an unusable answer's body a dead letter keeps. */
const MAX_DEAD_LETTER_BODY = 10_000;

/**
 * A source polled over HTTP on a node-cron schedule (vast, RunPod, Lambda, eBay, generic HTTP, hashprice).
 *
 * Failure policy (shared/notes/sources.md 1.1, "treat auth errors and 429 as source errors, which go to
 * the dead-letter queue"):
 * - an answer that arrived but is unusable (non-2xx status, a body that is not JSON) is a `reject`
 *   (dead-lettered with url, status and body); 429 and 5xx are retried with exponential backoff
 *   (at least the Retry-After seconds), other 4xx wait for the next scheduled poll;
 * - no answer (refused, DNS, reset, timeout) is `down` (one warning per outage in the ingestor), then
 *   retries with backoff, each one counted as a `reconnect`, until a poll succeeds (`up`).
 * Scheduled polls are skipped while a poll or a retry is pending, so a slow source never piles up.
 */
export interface HttpRequest {
  readonly url: string;
  readonly method?: 'GET' | 'POST' | 'PUT';
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: unknown;
}

export type FetchJson = (req: HttpRequest) => Promise<unknown>;

export class HttpAnswerError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly raw: unknown,
    readonly retry: boolean,
    readonly retryAfterMs: number,
  ) {
    super(message);
  }
}

export class HttpUnreachableError extends Error {}

export interface HttpPollSourceOptions {
  readonly name: string;
  /** node-cron expression; null = only `pollNow()` drives it (tests, one-shot). */
  readonly cron: string | null;
  readonly timeoutMs: number;
  readonly backoff: { readonly initialMs: number; readonly maxMs: number };
  /** One poll: fetches what it needs through `fetchJson` and maps it; `receivedAt` is the clock after the answers. */
  readonly poll: (fetchJson: FetchJson, clock: () => number) => Promise<Mapped[]>;
  readonly clock?: () => number;
  readonly logger?: Logger;
  /** Quotes from this source may be old (files, auctions): the ingestor skips the staleness check. */
  readonly acceptsOldQuotes?: boolean;
}

/**
 * The request's credentials (secret query values, userinfo, secret-named headers, a bearer token),
 * and its URL without them: what an error message or a dead letter may show (docs/reliability.md
 * "Secrets"). A receiver that echoes the request (its URL, its key) in an error body is scrubbed too.
 */
function requestSecrets(req: HttpRequest): { safeUrl: string; secrets: string[] } {
  const { url: safeUrl, secrets } = redactUrlWithSecrets(req.url);
  for (const [name, value] of Object.entries(req.headers ?? {})) {
    if (!isSecretName(name)) continue;
    secrets.push(value);
    const bearer = /^\s*(?:bearer|basic|token)\s+(.+)$/i.exec(value);
    if (bearer) secrets.push(bearer[1]);
  }
  return { safeUrl, secrets };
}

export async function fetchJsonWith(req: HttpRequest, timeoutMs: number, signal?: AbortSignal): Promise<unknown> {
  const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'ccm-ingest/0.1', ...(req.headers ?? {}) };
  if (req.body !== undefined) headers['content-type'] = 'application/json';
  const signals = [AbortSignal.timeout(timeoutMs), ...(signal ? [signal] : [])];
  const { safeUrl, secrets } = requestSecrets(req);
  const safe = (text: string): string => redactText(text, secrets);
  let res: Response;
  let text: string;
  try {
    res = await fetch(req.url, { method: req.method ?? 'GET', headers, body: req.body === undefined ? undefined : JSON.stringify(req.body), signal: AbortSignal.any(signals) });
    text = await res.text();
  } catch (e) {
    const err = e as Error & { cause?: { code?: string; message?: string } };
    const why = err.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (err.cause?.code ?? err.cause?.message ?? err.message);
    throw new HttpUnreachableError(safe(`${req.method ?? 'GET'} ${safeUrl}: ${why}`));
  }
  if (!res.ok) {
    const retry = res.status === 429 || res.status >= 500;
    const ra = Number(res.headers.get('retry-after'));
    throw new HttpAnswerError(`HTTP ${res.status} from ${safeUrl}`, res.status, { url: safeUrl, status: res.status, body: safe(text.slice(0, MAX_DEAD_LETTER_BODY)) }, retry, Number.isFinite(ra) && ra > 0 ? ra * 1000 : 0);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpAnswerError(`malformed JSON from ${safeUrl}`, res.status, { url: safeUrl, status: res.status, body: safe(text.slice(0, MAX_DEAD_LETTER_BODY)) }, false, 0);
  }
}

export class HttpPollSource implements QuoteSource {
  readonly name: string;
  readonly acceptsOldQuotes: boolean;
  private emit: Emit | null = null;
  private task: ReturnType<typeof cron.schedule> | null = null;
  private busy = false;
  private down = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly backoff: Backoff;
  private readonly abort = new AbortController();
  private inflight: Promise<void> | null = null;
  private readonly clock: () => number;

  constructor(private readonly o: HttpPollSourceOptions) {
    this.name = o.name;
    this.acceptsOldQuotes = o.acceptsOldQuotes ?? false;
    this.backoff = new Backoff(o.backoff.initialMs, o.backoff.maxMs);
    this.clock = o.clock ?? Date.now;
  }

  async start(emit: Emit): Promise<void> {
    this.emit = emit;
    if (this.o.cron !== null) {
      this.task = cron.schedule(this.o.cron, () => void this.scheduled(), { name: `ccm-${this.name}`, noOverlap: true });
    }
    // First poll at once, so a feed does not wait up to a whole period after start.
    void this.scheduled();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.task) await this.task.destroy();
    this.task = null;
    if (this.inflight) await this.inflight.catch(() => undefined);
    this.emit = null;
  }

  /** Polls once now (and schedules backoff retries on failure); resolves when this poll is done. */
  async pollNow(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    const run = this.runOnce().finally(() => {
      this.busy = false;
      this.inflight = null;
    });
    this.inflight = run;
    await run;
  }

  private async scheduled(): Promise<void> {
    if (this.retryTimer !== null) return;
    await this.pollNow();
  }

  private async runOnce(): Promise<void> {
    const fetchJson: FetchJson = (req) => fetchJsonWith(req, this.o.timeoutMs, this.abort.signal);
    try {
      const mapped = await this.o.poll(fetchJson, this.clock);
      if (this.abort.signal.aborted) return;
      if (this.down) this.emit?.({ kind: 'up' });
      this.down = false;
      this.backoff.reset();
      for (const m of mapped) this.emit?.(m);
    } catch (e) {
      if (this.abort.signal.aborted) return;
      if (e instanceof HttpAnswerError) {
        this.emit?.({ kind: 'reject', reason: `${this.name}: ${e.message}`, raw: e.raw });
        if (e.retry) this.scheduleRetry(e.message, e.retryAfterMs);
      } else if (e instanceof HttpUnreachableError) {
        if (!this.down) this.emit?.({ kind: 'down', reason: e.message });
        this.down = true;
        this.scheduleRetry(e.message, 0);
      } else {
        // A bug in a mapper or poll function: report it as a rejected poll, keep the source alive.
        this.emit?.({ kind: 'reject', reason: `${this.name}: poll failed: ${(e as Error).message}`, raw: null });
        this.o.logger?.error({ err: e, source: this.name }, 'poll failed');
      }
    }
  }

  private scheduleRetry(reason: string, atLeastMs: number): void {
    if (this.retryTimer !== null || this.abort.signal.aborted) return;
    const delay = Math.max(this.backoff.next(), atLeastMs);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.abort.signal.aborted) return;
      this.emit?.({ kind: 'reconnect', reason: `retry after ${delay} ms: ${reason}` });
      void this.pollNow();
    }, delay);
  }
}
