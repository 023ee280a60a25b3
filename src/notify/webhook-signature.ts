import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The signature of a webhook request (docs/reliability.md "Webhooks"), as the common webhook
 * schemes make it (Stripe's `Stripe-Signature`, Slack's `v0`): the sender signs the time of
 * sending together with the raw body, so a captured request cannot be replayed later, nor its
 * body swapped.
 *
 *   x-ccm-signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
 *
 * A receiver recomputes v1 over the header's `t` and the raw bytes it received, compares in
 * constant time, and refuses a `t` further than its tolerance from its own clock
 * (`verifyWebhookSignature`, which a receiver written in TypeScript can import as it is). Several
 * `v1=` entries may be present (a secret being rotated); one match is enough.
 */
export const WEBHOOK_HEADER = {
  signature: 'x-ccm-signature',
  idempotencyKey: 'idempotency-key',
} as const;

export const SIGNATURE_SCHEME = 'v1';
/** Five minutes, as Stripe's and Slack's libraries default to. */
export const DEFAULT_TOLERANCE_S = 300;

const hmacHex = (secret: string, timestampS: number, body: string | Buffer): string =>
  createHmac('sha256', secret).update(`${timestampS}.`).update(body).digest('hex');

/** The `x-ccm-signature` value for a body sent at `timestampS` (unix seconds). */
export function signWebhook(secret: string, body: string | Buffer, timestampS: number): string {
  return `t=${timestampS},${SIGNATURE_SCHEME}=${hmacHex(secret, timestampS, body)}`;
}

export type VerifyFailure = 'missing_header' | 'malformed_header' | 'timestamp_outside_tolerance' | 'signature_mismatch';

export type VerifyResult = { readonly ok: true; readonly timestampS: number } | { readonly ok: false; readonly reason: VerifyFailure };

export interface VerifyOptions {
  /** The raw body as received (bytes or the exact string): re-serialised JSON will not match. */
  readonly body: string | Buffer;
  /** The `x-ccm-signature` header value. */
  readonly header: string | readonly string[] | undefined;
  /** The shared secret, or the secrets accepted while one is rotated. */
  readonly secret: string | readonly string[];
  /** Largest distance between `t` and the receiver's clock, seconds (default 300). */
  readonly toleranceS?: number;
  /** The receiver's clock, ms (default Date.now()). */
  readonly nowMs?: number;
}

/** Checks a webhook request's signature: constant-time comparison, timestamp within the tolerance. */
export function verifyWebhookSignature(o: VerifyOptions): VerifyResult {
  const header = Array.isArray(o.header) ? o.header[0] : o.header;
  if (typeof header !== 'string' || header.trim() === '') return { ok: false, reason: 'missing_header' };
  let timestampS: number | null = null;
  const candidates: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't' && /^\d{1,12}$/.test(value)) timestampS = Number(value);
    else if (key === SIGNATURE_SCHEME && /^[0-9a-f]{64}$/.test(value)) candidates.push(value);
  }
  if (timestampS === null || candidates.length === 0) return { ok: false, reason: 'malformed_header' };
  const toleranceS = o.toleranceS ?? DEFAULT_TOLERANCE_S;
  const nowS = (o.nowMs ?? Date.now()) / 1000;
  if (Math.abs(nowS - timestampS) > toleranceS) return { ok: false, reason: 'timestamp_outside_tolerance' };
  const secrets = typeof o.secret === 'string' ? [o.secret] : o.secret;
  let match = false;
  // every pair is compared (no early exit), each in constant time: the time taken says nothing
  for (const secret of secrets) {
    const expected = Buffer.from(hmacHex(secret, timestampS, o.body), 'hex');
    for (const c of candidates) if (timingSafeEqual(expected, Buffer.from(c, 'hex'))) match = true;
  }
  return match ? { ok: true, timestampS } : { ok: false, reason: 'signature_mismatch' };
}
