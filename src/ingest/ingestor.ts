import type { Bus, ProduceRecord } from '../bus/bus.ts';
import type { Logger } from '../logger.ts';
import type { Quote } from '../domain/market/quote.ts';
import type { QuoteSource, SourceResult } from './quote-source.ts';
import type { PriceBounds } from './check-quote.ts';
import { checkQuote } from './check-quote.ts';
import { FeedMetrics } from './feed-metrics.ts';
import { LatestPrices } from './latest-prices.ts';
import { redactText, redactValue } from '../redact.ts';

/**
 * Runs a set of QuoteSources: every quote passes the edge check (check-quote.ts, "now" from the
 * injected clock) and is published to the quotes topic keyed by instrument with record ts = the
 * quote's event time; rejects (from a source or from the check) go to the dead-letter topic keyed by
 * source, value `{ raw, reason, source, ts }` (ARCHITECTURE.md "Kafka contracts"). Counts per source
 * in FeedMetrics. An unreachable source is logged once per outage (warn, with the reason); its retries
 * are counted as reconnects. A publish failure is logged and counted, never fatal: the bus retries.
 */
export interface IngestorOptions {
  readonly bus: Bus;
  readonly topics: { readonly quotes: string; readonly deadletter: string };
  readonly sources: readonly QuoteSource[];
  readonly bounds: Readonly<Record<string, PriceBounds>>;
  readonly clockSkewMs: number;
  readonly maxQuoteAgeMs: number;
  readonly clock?: () => number;
  readonly logger?: Logger;
  readonly metrics?: FeedMetrics;
  readonly latest?: LatestPrices;
  /** Secret values (API keys, tokens) masked in dead letters besides the URL credentials (src/redact.ts). */
  readonly secrets?: readonly string[];
}

export interface DeadLetter {
  readonly raw: unknown;
  readonly reason: string;
  readonly source: string;
  readonly ts: number;
}

export class Ingestor {
  readonly metrics: FeedMetrics;
  readonly latest: LatestPrices;
  private readonly clock: () => number;
  private queue: ProduceRecord[] = [];
  private chain: Promise<void> = Promise.resolve();
  private flushScheduled = false;
  private readonly down = new Set<string>();
  private publishFailures = 0;

  constructor(private readonly o: IngestorOptions) {
    this.clock = o.clock ?? Date.now;
    this.metrics = o.metrics ?? new FeedMetrics(this.clock);
    this.latest = o.latest ?? new LatestPrices();
  }

  async start(): Promise<void> {
    for (const s of this.o.sources) {
      this.metrics.register(s.name);
      await s.start((r) => this.onResult(s, r));
      this.o.logger?.info({ source: s.name }, 'source started');
    }
  }

  /** Stops every source, then publishes what is queued. */
  async stop(): Promise<void> {
    await Promise.all(this.o.sources.map((s) => s.stop().catch((err: unknown) => this.o.logger?.error({ err, source: s.name }, 'source stop failed'))));
    await this.flush();
  }

  /** Resolves once everything emitted so far is published (or has failed and been logged). */
  async flush(): Promise<void> {
    this.drain();
    await this.chain;
  }

  get failedPublishes(): number {
    return this.publishFailures;
  }

  private onResult(s: QuoteSource, r: SourceResult): void {
    switch (r.kind) {
      case 'quote':
        this.onQuote(s, r.quote, r.raw);
        return;
      case 'reject':
        this.deadLetter(s.name, r.reason, r.raw);
        return;
      case 'down':
        if (!this.down.has(s.name)) this.o.logger?.warn({ source: s.name, reason: r.reason }, `source ${s.name} unreachable: ${r.reason}`);
        this.down.add(s.name);
        return;
      case 'up':
        if (this.down.delete(s.name)) this.o.logger?.info({ source: s.name }, `source ${s.name} reachable again`);
        return;
      case 'reconnect':
        this.metrics.reconnect(s.name);
        this.o.logger?.debug({ source: s.name, reason: r.reason }, 'reconnect');
        return;
      default: {
        const never: never = r;
        return never;
      }
    }
  }

  private onQuote(s: QuoteSource, q: Quote, raw: unknown): void {
    const oldOk = (s as { acceptsOldQuotes?: boolean }).acceptsOldQuotes === true;
    const c = checkQuote(q, { nowMs: this.clock(), bounds: this.o.bounds, clockSkewMs: this.o.clockSkewMs, maxAgeMs: oldOk ? undefined : this.o.maxQuoteAgeMs });
    if (!c.ok) {
      this.deadLetter(s.name, c.reason, { quote: q, raw });
      return;
    }
    this.metrics.quote(s.name);
    this.latest.update(q.instrument, q.source, q.price, q.ts);
    this.enqueue({ topic: this.o.topics.quotes, key: q.instrument, value: q, ts: q.ts });
  }

  private deadLetter(source: string, reason: string, raw: unknown): void {
    this.metrics.reject(source);
    const ts = this.clock();
    // A payload or an error can quote a request URL with its key: never let it into the topic.
    const secrets = this.o.secrets ?? [];
    const value: DeadLetter = { raw: raw === undefined ? null : redactValue(raw, secrets), reason: redactText(reason, secrets), source, ts };
    this.o.logger?.debug({ source, reason: value.reason }, 'dead letter');
    this.enqueue({ topic: this.o.topics.deadletter, key: source, value, ts });
  }

  private enqueue(r: ProduceRecord): void {
    this.queue.push(r);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.drain());
    }
  }

  private drain(): void {
    this.flushScheduled = false;
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.chain = this.chain.then(() =>
      this.o.bus.publish(batch).catch((err: unknown) => {
        this.publishFailures += batch.length;
        this.o.logger?.error({ err, records: batch.length }, 'publish failed; records dropped');
      }),
    );
  }
}
