import { WEBHOOK_HEADER, signWebhook } from './webhook-signature.ts';

/** One POST of an alert webhook and what its answer means: delivered, refused as such, or to be retried. */

export type Attempt =
  | { readonly kind: 'delivered'; readonly status: number }
  | { readonly kind: 'refused'; readonly status: number; readonly body: string }
  | { readonly kind: 'retry'; readonly reason: string; readonly retryAfterMs: number };

/** 4xx answers that say "not now" or "not configured yet" rather than "this alert is bad". */
const RETRIED_CLIENT_STATUSES = new Set([401, 403, 404, 408, 409, 425, 429]);

/** What of the notifier's options (WebhookNotifierOptions) one attempt reads. */
interface AttemptOptions {
  readonly url: string;
  readonly secret: string;
  readonly timeoutMs: number;
  readonly fetchImpl?: typeof fetch;
}

export async function attemptWebhook(o: AttemptOptions, body: string, eventId: string, clock: () => number, signal: AbortSignal): Promise<Attempt> {
  const f = o.fetchImpl ?? fetch;
  try {
    const res = await f(o.url, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        'content-type': 'application/json',
        [WEBHOOK_HEADER.signature]: signWebhook(o.secret, body, Math.floor(clock() / 1000)),
        [WEBHOOK_HEADER.idempotencyKey]: eventId,
      },
      body,
      signal: AbortSignal.any([AbortSignal.timeout(o.timeoutMs), signal]),
    });
    const text = (await res.text().catch(() => '')).slice(0, 500);
    if (res.status >= 200 && res.status < 300) return { kind: 'delivered', status: res.status };
    if (res.status >= 400 && res.status < 500 && !RETRIED_CLIENT_STATUSES.has(res.status)) return { kind: 'refused', status: res.status, body: text };
    const ra = Number(res.headers.get('retry-after'));
    const why = res.status >= 300 && res.status < 400 ? `HTTP ${res.status}: redirect not followed (configure the final URL)` : `HTTP ${res.status}`;
    return { kind: 'retry', reason: why, retryAfterMs: Number.isFinite(ra) && ra > 0 ? ra * 1000 : 0 };
  } catch (e) {
    const err = e as Error & { cause?: { code?: string } };
    const reason = err.name === 'TimeoutError' ? `timeout: no answer within ${o.timeoutMs} ms` : `unreachable: ${err.cause?.code ?? err.message}`;
    return { kind: 'retry', reason, retryAfterMs: 0 };
  }
}
