import { Counter, Gauge, Registry } from 'prom-client';
import type { Bus, ConsumedRecord, Subscription } from '../bus/bus.ts';
import { ErrorCode, MonitorError } from '../domain/errors.ts';
import { Backoff, sleep } from '../ingest/backoff.ts';
import type { Logger } from '../logger.ts';
import { redactUrl } from '../redact.ts';
import { decodeAlertRecord, type AlertRecord } from './alert-record.ts';
import { DeliveredLog } from './delivered-log.ts';
import { attemptWebhook } from './webhook-attempt.ts';
import { toSlackMessage } from './webhook-message.ts';

/**
 * Signed alert webhooks for lenders' systems (ARCHITECTURE.md "Who notifies whom";
 * docs/reliability.md "Webhooks"). An outbox on the `alerts` topic, under its own consumer group:
 *
 * - Order: the topic is keyed by entity, so one entity's alerts sit on one partition; records of a
 *   partition are delivered one at a time in offset order, and the next waits until the receiver
 *   has accepted the one before. A receiver down for an hour gets every alert when it returns, in
 *   order per entity.
 * - Retries without end, with capped exponential backoff (`backoff`: 0.5 s doubling to 60 s by
 *   default; at least a 429's Retry-After): network errors, timeouts, 5xx, 408, 425, 429, and also
 *   401, 403, 404 and redirects (the receiver is misconfigured: its alerts must wait for the fix,
 *   not be dropped). The stop of the process interrupts the wait; the alert is delivered after
 *   the restart (its offset was not committed).
 * - Dead letters: a record that is not JSON or not an alert, and an alert the receiver refuses as
 *   such (another 4xx: 400, 413, 422...), go to the dead-letter topic with their reason
 *   (`stage: webhook`); the notifier steps over them.
 * - Once: an offset is committed after the alert is delivered (or dead-lettered, or not of this
 *   run); delivered eventIds are kept on the `webhook-delivered` topic (delivered-log.ts), so a
 *   restart, a kill -9, or the processor's redelivery of an alert after its own crash never sends
 *   an alert twice; the one window left (a kill between the receiver's answer and that record)
 *   resends with the same `idempotency-key`.
 * - Never silent: a consumer that crashes for good resolves `failed`, which the process turns into
 *   a failing /healthz and a non-zero exit (src/cli/process.ts).
 *
 * Request: POST `url`, `content-type: application/json`, the alert (or a Slack `{ text }`),
 * `x-ccm-signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>` (webhook-signature.ts,
 * which also exports the receiver's `verifyWebhookSignature`), `idempotency-key: <eventId>`.
 */
export interface WebhookNotifierOptions {
  readonly bus: Bus;
  readonly logger: Logger;
  readonly topics: { readonly alerts: string; readonly deadletter: string; readonly delivered: string };
  readonly groupId: string;
  readonly url: string;
  readonly secret: string;
  readonly format: 'json' | 'slack';
  readonly timeoutMs: number;
  readonly backoff: { readonly initialMs: number; readonly maxMs: number };
  /** Only alerts of this run are delivered (default live). */
  readonly run?: string;
  readonly fetchImpl?: typeof fetch;
  readonly clock?: () => number;
  /** Where the group starts when it has no committed offset (default: new alerts only). */
  readonly fromBeginning?: boolean;
  /** The wait between attempts (tests pass one that moves a virtual clock); resolves false when stopped. */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<boolean>;
}

export const WEBHOOK_METRIC = {
  delivered: 'ccm_webhook_delivered_total',
  failedAttempts: 'ccm_webhook_failed_attempts_total',
  deadLetters: 'ccm_webhook_dead_letters_total',
  duplicates: 'ccm_webhook_duplicates_skipped_total',
  waitingSeconds: 'ccm_webhook_waiting_seconds',
} as const;

/** Where the notifier's dead letters say they came from. */
export const WEBHOOK_STAGE = 'webhook';

export { toSlackMessage };

/** A still-failing receiver is reported at most this often (the first failure at once). */
const STILL_FAILING_LOG_MS = 5 * 60_000;

type Outcome = { readonly kind: 'delivered' } | { readonly kind: 'refused'; readonly reason: string } | { readonly kind: 'stopped' };

export class WebhookNotifier {
  readonly registry = new Registry();
  /** Resolves with the error when the notifier has stopped for good on its own (never on stop()). */
  readonly failed: Promise<Error>;
  private fail: (e: Error) => void = () => undefined;
  private failure: Error | null = null;
  private sub: Subscription | null = null;
  private readonly log: Logger;
  private readonly abort = new AbortController();
  private readonly delivered: DeliveredLog;
  private readonly clock: () => number;
  private readonly run: string;
  private readonly counters: {
    delivered: Counter;
    failedAttempts: Counter<'reason'>;
    deadLetters: Counter<'reason'>;
    duplicates: Counter;
  };
  /** Since when the alert being delivered has waited (null when none is failing). */
  private waitingSince: number | null = null;
  private outage: { sinceMs: number; reportedMs: number; attempts: number } | null = null;
  private sent = 0;

  constructor(private readonly o: WebhookNotifierOptions) {
    this.log = o.logger.child({ component: 'webhook' });
    this.clock = o.clock ?? Date.now;
    this.run = o.run ?? 'live';
    this.delivered = new DeliveredLog(o.bus, o.topics.delivered, this.run);
    this.failed = new Promise<Error>((resolve) => (this.fail = resolve));
    const registers = [this.registry];
    this.counters = {
      delivered: new Counter({ name: WEBHOOK_METRIC.delivered, help: 'Alerts the webhook receiver accepted', registers }),
      failedAttempts: new Counter({ name: WEBHOOK_METRIC.failedAttempts, help: 'Webhook attempts that failed and will be retried, by reason', labelNames: ['reason'], registers }),
      deadLetters: new Counter({ name: WEBHOOK_METRIC.deadLetters, help: 'Alerts records dead-lettered by the notifier, by reason', labelNames: ['reason'], registers }),
      duplicates: new Counter({ name: WEBHOOK_METRIC.duplicates, help: 'Alerts not sent because their eventId was delivered before', registers }),
    };
    const waitingSeconds = (): number => (this.waitingSince === null ? 0 : Math.max(0, (this.clock() - this.waitingSince) / 1000));
    new Gauge({
      name: WEBHOOK_METRIC.waitingSeconds,
      help: 'How long the alert being delivered has waited for the receiver (0 when none is failing)',
      registers,
      collect() {
        this.set(waitingSeconds());
      },
    });
  }

  /** Alerts this instance delivered (2xx). */
  get deliveredCount(): number {
    return this.sent;
  }

  /** null while the notifier works, else why it stopped for good. */
  get error(): Error | null {
    return this.failure;
  }

  async start(): Promise<void> {
    const known = await this.delivered.load();
    this.log.info({ url: redactUrl(this.o.url), run: this.run, delivered: known }, 'webhook notifier starting');
    this.sub = await this.o.bus.subscribe({
      groupId: this.o.groupId,
      topics: [this.o.topics.alerts],
      fromBeginning: this.o.fromBeginning ?? false,
      onBatch: async (records) => {
        for (const r of records) {
          if (this.abort.signal.aborted) return;
          await this.handle(r);
        }
      },
      onCrash: (err) => this.crash(err),
    });
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.sub?.stop();
    this.sub = null;
  }

  private wait(ms: number): Promise<boolean> {
    return (this.o.sleep ?? sleep)(ms, this.abort.signal);
  }

  private crash(err: Error): void {
    if (this.abort.signal.aborted || this.failure !== null) return;
    this.failure = err;
    this.log.error({ err }, 'webhook notifier stopped: alerts are no longer delivered');
    this.fail(err);
  }

  private async handle(r: ConsumedRecord): Promise<void> {
    const d = decodeAlertRecord(r);
    if (!d.ok) {
      if (!(await this.deadLetter(r, d.reason))) return;
    } else if (d.alert.run !== this.run) {
      // another run's alert (a replay on the same topic): not ours to send
    } else if (this.delivered.has(d.alert.eventId)) {
      this.counters.duplicates.inc();
      this.log.debug({ eventId: d.alert.eventId }, 'alert delivered before; not sent again');
    } else {
      const outcome = await this.deliver(d.alert);
      if (outcome.kind === 'stopped') return;
      if (outcome.kind === 'refused') {
        if (!(await this.deadLetter(r, outcome.reason))) return;
      } else {
        this.sent++;
        if (!(await this.withRetry('record the delivery', () => this.delivered.add(d.alert.eventId, this.clock())))) return;
      }
    }
    if (this.abort.signal.aborted) return;
    await this.withRetry('commit', () => this.o.bus.commitOffsets(this.o.groupId, r.topic, [{ partition: r.partition, offset: (BigInt(r.offset) + 1n).toString() }]));
  }

  /** Sends one alert until the receiver accepts or refuses it, or the notifier stops. */
  private async deliver(a: AlertRecord): Promise<Outcome> {
    const body = JSON.stringify(this.o.format === 'slack' ? toSlackMessage(a) : a);
    const backoff = new Backoff(this.o.backoff.initialMs, this.o.backoff.maxMs);
    for (let attempt = 1; ; attempt++) {
      const result = await attemptWebhook(this.o, body, a.eventId, this.clock, this.abort.signal);
      if (result.kind !== 'retry') {
        this.endOutage(a.eventId);
        if (result.kind === 'delivered') {
          this.counters.delivered.inc();
          return { kind: 'delivered' };
        }
        const reason = `receiver refused the alert: HTTP ${result.status}${result.body === '' ? '' : ` ${result.body}`}`;
        this.log.error({ eventId: a.eventId, status: result.status }, reason);
        return { kind: 'refused', reason };
      }
      this.counters.failedAttempts.inc({ reason: result.reason.split(':')[0] });
      this.reportFailure(a, attempt, result.reason);
      const delay = Math.max(backoff.next(), Math.min(result.retryAfterMs, this.o.backoff.maxMs));
      if (!(await this.wait(delay))) return { kind: 'stopped' };
    }
  }

  /**
   * One warning when the receiver starts failing, one every five minutes while it keeps failing
   * (whichever partition's alert is trying), and one line when it accepts again.
   */
  private reportFailure(a: AlertRecord, attempt: number, reason: string): void {
    const now = this.clock();
    if (this.outage === null) {
      this.outage = { sinceMs: now, reportedMs: now, attempts: 1 };
      this.waitingSince = now;
      this.log.warn({ eventId: a.eventId, entity: a.entity, reason }, 'webhook delivery failed; retrying until the receiver accepts');
      return;
    }
    this.outage.attempts++;
    if (now - this.outage.reportedMs >= STILL_FAILING_LOG_MS) {
      this.outage.reportedMs = now;
      this.log.warn({ eventId: a.eventId, entity: a.entity, attempt, failedAttempts: this.outage.attempts, failingS: Math.round((now - this.outage.sinceMs) / 1000), reason }, 'webhook receiver still failing; retrying');
    }
  }

  private endOutage(eventId: string): void {
    if (this.outage === null) return;
    this.log.info({ eventId, failedAttempts: this.outage.attempts, failedS: Math.round((this.clock() - this.outage.sinceMs) / 1000) }, 'webhook receiver answers again');
    this.outage = null;
    this.waitingSince = null;
  }

  private async deadLetter(r: ConsumedRecord, reason: string): Promise<boolean> {
    this.counters.deadLetters.inc({ reason: reason.split(':')[0] });
    this.log.warn({ topic: r.topic, partition: r.partition, offset: r.offset, reason }, 'dead letter');
    const value = { raw: r.value?.toString('utf8') ?? null, reason, source: WEBHOOK_STAGE, ts: r.ts, topic: r.topic, partition: r.partition, offset: r.offset, stage: WEBHOOK_STAGE };
    // stamped now: the topic's retention counts from the dead-lettering (a record of 2025 would expire at once)
    return this.withRetry('dead letter', () => this.o.bus.publish([{ topic: this.o.topics.deadletter, key: WEBHOOK_STAGE, value, ts: Date.now() }]));
  }

  /**
   * Kafka writes of the notifier (the delivery record, a dead letter, the commit) are retried while
   * they fail retriably (a broker restart); a non-retriable failure ends the consumer (onCrash).
   * False when the notifier stopped meanwhile (nothing is committed; the record comes again).
   */
  private async withRetry(what: string, fn: () => Promise<void>): Promise<boolean> {
    const backoff = new Backoff(200, 10_000);
    for (let attempt = 1; ; attempt++) {
      try {
        await fn();
        return true;
      } catch (e) {
        const retriable = e instanceof MonitorError ? e.retriable : false;
        if (!retriable) throw e instanceof MonitorError ? e : new MonitorError(`webhook ${what}: ${(e as Error).message}`, { code: ErrorCode.BUS_FAILED, cause: e });
        if (attempt === 1) this.log.warn({ err: e, what }, `webhook ${what} failed; retrying`);
        if (!(await this.wait(backoff.next()))) return false;
      }
    }
  }
}
