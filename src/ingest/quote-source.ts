import type { Quote } from '../domain/market/quote.ts';

/**
 * The QuoteSource port (STYLE.md 3): something outside that turns into quote events.
 * A source never throws at the caller: every outcome is an event (STYLE.md 4, 8).
 *
 * - `quote`: a mapped quote with the raw payload it came from (for the dead letter if the edge check rejects it);
 * - `reject`: an answer that arrived but is unusable (malformed body, HTTP 4xx/5xx, a row without a price);
 *   it goes to the dead-letter topic with its raw payload and is counted;
 * - `down`: the source cannot be reached (network error, timeout, socket closed); the ingestor logs one
 *   warning per outage with the reason;
 * - `reconnect`: a retry after a failure or a silence (watchdog), counted;
 * - `up`: the source answered again after being down.
 */
export type SourceResult =
  | { readonly kind: 'quote'; readonly quote: Quote; readonly raw: unknown }
  | { readonly kind: 'reject'; readonly reason: string; readonly raw: unknown }
  | { readonly kind: 'down'; readonly reason: string }
  | { readonly kind: 'reconnect'; readonly reason: string }
  | { readonly kind: 'up' };

/** What a pure mapper returns for each row of a payload. */
export type Mapped = Extract<SourceResult, { kind: 'quote' | 'reject' }>;

export type Emit = (r: SourceResult) => void;

export interface QuoteSource {
  /** The `source` of its quotes and the `source` tag of its feed metrics. */
  readonly name: string;
  /** Starts producing events; resolves once started (never waits for the first quote). */
  start(emit: Emit): Promise<void>;
  /** Stops timers and sockets; resolves once nothing more will be emitted. */
  stop(): Promise<void>;
}

export const quoted = (quote: Quote, raw: unknown): Mapped => ({ kind: 'quote', quote, raw });
export const rejected = (reason: string, raw: unknown): Mapped => ({ kind: 'reject', reason, raw });
