import { Gauge } from 'prom-client';
import type { Bus, ProduceRecord } from '../bus/bus.ts';
import type { Logger } from '../logger.ts';
import type { Quote } from '../domain/market/quote.ts';
import type { QuoteSource, SourceResult } from './quote-source.ts';
import type { PriceBounds } from './check-quote.ts';
import { checkQuote } from './check-quote.ts';
import { FeedMetrics } from './feed-metrics.ts';
import { LatestPrices } from './latest-prices.ts';
import { redactText, redactValue } from '../redact.ts';
import { Backoff, sleep } from './backoff.ts';
import { Spool, type SpoolOptions } from './spool.ts';
import { within } from '../deadline.ts';

/**
 * Runs a set of QuoteSources: every quote passes the edge check (check-quote.ts, "now" from the
 * injected clock) and is published to the quotes topic keyed by instrument with record ts = the
 * quote's event time; rejects (from a source or from the check) go to the dead-letter topic keyed by
 * source, value `{ raw, reason, source, ts }` (ARCHITECTURE.md "Kafka contracts"). Counts per source
 * in FeedMetrics. An unreachable source is logged once per outage (warn, with the reason); its retries
 * are counted as reconnects.
 *
 * Publishing never loses a record while Kafka is away (docs/reliability.md "Ingest while Kafka is
 * away"): records go through a Spool (memory, then disk, bounded; drop-oldest counted per source
 * in `dropped` and the `feed` points) and one sender publishes them oldest first, one batch at a
 * time, retrying the same batch with backoff until Kafka acknowledges it, so they arrive in order
 * and, thanks to the idempotent producer resending the same batch, once.
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
  /** The outbox while Kafka is away; default memory only, 10,000 records. */
  readonly spool?: Omit<SpoolOptions, 'onDrop'>;
  /** Backoff of the sender while Kafka refuses (default 500 ms doubling to 30 s). */
  readonly publishBackoff?: { readonly initialMs: number; readonly maxMs: number };
  /** How long `stop()` keeps trying to publish before it writes the rest to the spool's disk (default 5 s). */
  readonly stopDrainMs?: number;
}

export interface DeadLetter {
  readonly raw: unknown;
  readonly reason: string;
  readonly source: string;
  readonly ts: number;
}

/** Records per publish: one produce request of a few hundred KiB. */
const SEND_BATCH = 1000;
/** After the drain, how long stop() waits for a publish in flight before it persists the spool. */
const STOP_SENDER_WAIT_MS = 500;

export const SPOOL_METRIC_NAMES = {
  records: 'ccm_ingest_spool_records',
  diskBytes: 'ccm_ingest_spool_disk_bytes',
} as const;

export class Ingestor {
  readonly metrics: FeedMetrics;
  readonly latest: LatestPrices;
  readonly spool: Spool;
  private readonly clock: () => number;
  private readonly down = new Set<string>();
  private readonly backoff: Backoff;
  private readonly stopping = new AbortController();
  private sender: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private outageSince: number | null = null;
  /** How many records at the head of the spool a failed publish may have written. */
  private uncertain = 0;
  /** Resolvers of flush(): called when the spool is empty. */
  private drained: Array<() => void> = [];

  constructor(private readonly o: IngestorOptions) {
    this.clock = o.clock ?? Date.now;
    this.metrics = o.metrics ?? new FeedMetrics(this.clock);
    this.latest = o.latest ?? new LatestPrices();
    this.spool = new Spool({ ...(o.spool ?? { dir: null, memoryRecords: 10_000, maxBytes: 0 }), onDrop: (source, n) => this.onDrop(source, n) });
    this.backoff = new Backoff(o.publishBackoff?.initialMs ?? 500, o.publishBackoff?.maxMs ?? 30_000);
    const spool = this.spool;
    const registers = [this.metrics.registry];
    new Gauge({ name: SPOOL_METRIC_NAMES.records, help: 'Records waiting to be published to Kafka (memory and disk)', registers, collect() { this.set(spool.size); } });
    new Gauge({ name: SPOOL_METRIC_NAMES.diskBytes, help: 'Bytes of the spool on disk', registers, collect() { this.set(spool.diskBytes); } });
  }

  async start(): Promise<void> {
    if (this.spool.size > 0) this.o.logger?.info({ records: this.spool.size }, 'records left in the spool by the last run are published first');
    this.sender = this.send();
    for (const s of this.o.sources) {
      this.metrics.register(s.name);
      await s.start((r) => this.onResult(s, r));
      this.o.logger?.info({ source: s.name }, 'source started');
    }
  }

  /**
   * Stops every source, then publishes what is waiting for up to `stopDrainMs`; what Kafka has not
   * taken by then is written to the spool's disk for the next start (lost only without a spool
   * directory, and then counted as dropped).
   */
  async stop(): Promise<void> {
    await Promise.all(this.o.sources.map((s) => s.stop().catch((err: unknown) => this.o.logger?.error({ err, source: s.name }, 'source stop failed'))));
    const drainMs = this.o.stopDrainMs ?? 5000;
    await within(drainMs, this.flush());
    this.stopping.abort();
    this.wake?.();
    // a publish in flight may be inside kafkajs's own retries (minutes): do not wait for it
    if (this.sender) await within(STOP_SENDER_WAIT_MS, this.sender);
    if (this.spool.size > 0) {
      this.o.logger?.warn({ records: this.spool.size, dir: this.o.spool?.dir ?? null }, 'Kafka did not take every record before the stop; they stay in the spool for the next start');
      this.spool.persist();
    }
    this.spool.close();
  }

  /** Resolves once everything emitted so far is published (waits as long as Kafka is away). */
  flush(): Promise<void> {
    if (this.spool.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.drained.push(resolve));
  }

  /** Records dropped because the spool was full (0 unless Kafka was away longer than it holds). */
  get failedPublishes(): number {
    return this.spool.dropped;
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
    this.spool.push([r]);
    this.wake?.();
  }

  private onDrop(source: string, count: number): void {
    this.metrics.dropped(source, count);
    this.o.logger?.error({ source, records: count, spoolDir: this.o.spool?.dir ?? null }, 'spool full: the oldest records were dropped');
  }

  /** The one sender: oldest records first, the same batch again until Kafka acknowledges it. */
  /**
   * The records of `batch` (its first `uncertain` ones may be on the topic already) not yet on
   * their topic. Records carry their event time as timestamp, so a written one sits at or after the
   * first offset stamped at or after the batch's earliest event time; a record is the same when
   * its key, time and JSON value are.
   */
  private async notYetOnTopic(batch: readonly ProduceRecord[], uncertain: number): Promise<ProduceRecord[]> {
    const identity = (topic: string, key: string | null, ts: number, value: string): string => `${topic}\u0000${key ?? ''}\u0000${ts}\u0000${value}`;
    const doubtful = batch.slice(0, uncertain);
    const present = new Set<string>();
    for (const topic of new Set(doubtful.map((r) => r.topic))) {
      const minTs = Math.min(...doubtful.filter((r) => r.topic === topic).map((r) => Math.trunc(r.ts)));
      const from = await this.o.bus.offsetsForTimestamp(topic, minTs);
      for (const r of await this.o.bus.readToEnd(topic, { from })) present.add(identity(topic, r.key, r.ts, r.value?.toString('utf8') ?? 'null'));
    }
    const out: ProduceRecord[] = [];
    for (let i = 0; i < batch.length; i++) {
      const r = batch[i];
      if (i < uncertain && present.delete(identity(r.topic, r.key, Math.trunc(r.ts), JSON.stringify(r.value)))) continue;
      out.push(r);
    }
    return out;
  }

  private async send(): Promise<void> {
    while (!this.stopping.signal.aborted) {
      const batch = this.spool.peek(SEND_BATCH);
      if (batch.length === 0) {
        for (const r of this.drained.splice(0)) r();
        await new Promise<void>((resolve) => {
          this.wake = () => {
            this.wake = null;
            resolve();
          };
        });
        continue;
      }
      try {
        // A failed publish may still have been written (the broker took it, the answer was lost,
        // kafkajs gave up). The idempotent producer recognises a resend only when it is the same
        // batch again, and the spool's next batch may hold more records; so the records of a
        // failed attempt are looked for on the topic before they are sent again.
        const toSend = this.uncertain > 0 ? await this.notYetOnTopic(batch, this.uncertain) : batch;
        if (toSend.length > 0) await this.o.bus.publish(toSend);
        this.spool.ack(batch.length);
        this.uncertain = 0;
        this.backoff.reset();
        if (this.outageSince !== null) {
          this.o.logger?.info({ waitedS: Math.round((this.clock() - this.outageSince) / 1000), waiting: this.spool.size, alreadyOnTopic: batch.length - toSend.length }, 'Kafka takes records again; publishing the spool');
          this.outageSince = null;
        }
      } catch (err) {
        this.uncertain = Math.max(this.uncertain, batch.length);
        if (this.outageSince === null) {
          this.outageSince = this.clock();
          this.o.logger?.warn({ err, records: batch.length, waiting: this.spool.size }, 'publish failed; records kept in the spool and retried until Kafka takes them');
        }
        await sleep(this.backoff.next(), this.stopping.signal);
      }
    }
  }
}
