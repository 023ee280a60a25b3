import { createHmac } from 'node:crypto';
import type { Bus, Subscription } from '../bus/bus.ts';
import type { Logger } from '../logger.ts';

/**
 * Signed alert webhooks for lenders' systems (ARCHITECTURE.md "Who notifies whom"). An outbox:
 * the notifier consumes the `alerts` topic under its own group and commits an offset only after
 * the receiver accepted the alert, so a restart resumes where delivery stopped. Every request
 * carries the alert's `eventId` as `Idempotency-Key`, so a redelivery after a crash between the
 * receiver's answer and the commit is recognisable as the same alert; within one process an
 * eventId is never posted twice.
 *
 * Headers: `content-type: application/json`, `x-ccm-signature: sha256=<hex HMAC-SHA256 of the
 * body with the secret>`, `x-ccm-timestamp`, `idempotency-key: <eventId>`.
 */
export interface WebhookOptions {
  readonly bus: Bus;
  readonly logger: Logger;
  readonly alertsTopic: string;
  readonly groupId: string;
  readonly url: string;
  readonly secret: string;
  readonly format: 'json' | 'slack';
  readonly retries: number;
  readonly timeoutMs: number;
  /** Only alerts of this run are delivered (default live). */
  readonly run?: string;
  readonly fetchImpl?: typeof fetch;
}

export const signBody = (secret: string, body: string): string => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

interface AlertValue {
  eventId: string;
  run: string;
  entity: string;
  facility: string | null;
  rule: string;
  from: string;
  to: string;
  value: number | null;
  threshold: number | null;
  at: number;
}

export function toSlackMessage(a: AlertValue): { text: string } {
  const where = a.facility ? `${a.entity} / ${a.facility}` : a.entity;
  const v = a.value === null ? 'n/a' : a.value.toFixed(4);
  const t = a.threshold === null ? '' : ` (threshold ${a.threshold})`;
  return { text: `:rotating_light: ${where}: ${a.rule} ${a.from} → ${a.to}, value ${v}${t} at ${new Date(a.at).toISOString()} [run ${a.run}]` };
}

export class WebhookNotifier {
  private sub: Subscription | null = null;
  private readonly delivered = new Set<string>();
  private readonly log: Logger;
  private stopped = false;
  deliveredCount = 0;

  constructor(private readonly o: WebhookOptions) {
    this.log = o.logger.child({ component: 'webhook' });
  }

  async start(): Promise<void> {
    const run = this.o.run ?? 'live';
    this.sub = await this.o.bus.subscribe({
      groupId: this.o.groupId,
      topics: [this.o.alertsTopic],
      fromBeginning: false,
      onBatch: async (records) => {
        for (const r of records) {
          if (r.value === null) continue;
          const a = JSON.parse(r.value.toString('utf8')) as AlertValue;
          if (a.run === run && !this.delivered.has(a.eventId)) {
            await this.deliver(a);
            this.delivered.add(a.eventId);
          }
          await this.o.bus.commitOffsets(this.o.groupId, this.o.alertsTopic, [{ partition: r.partition, offset: (BigInt(r.offset) + 1n).toString() }]);
        }
      },
    });
  }

  async deliver(a: AlertValue): Promise<void> {
    const body = JSON.stringify(this.o.format === 'slack' ? toSlackMessage(a) : a);
    const f = this.o.fetchImpl ?? fetch;
    let delay = 500;
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await f(this.o.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-ccm-signature': signBody(this.o.secret, body),
            'x-ccm-timestamp': String(a.at),
            'idempotency-key': a.eventId,
          },
          body,
          signal: AbortSignal.timeout(this.o.timeoutMs),
        });
        if (res.ok) {
          this.deliveredCount++;
          return;
        }
        if (res.status < 500 && res.status !== 429) {
          this.log.error({ status: res.status, eventId: a.eventId }, 'webhook refused the alert; not retried');
          return;
        }
        throw new Error(`HTTP ${res.status}`);
      } catch (e) {
        if (this.stopped || attempt >= this.o.retries) {
          this.log.error({ err: e, eventId: a.eventId, attempt }, 'webhook delivery failed');
          throw e;
        }
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 30_000);
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.sub?.stop();
  }
}
