import type { Bus } from '../bus/bus.ts';

/**
 * The eventIds a webhook receiver accepted, kept on a topic (`<prefix>webhook-delivered`, one
 * partition, 7 days) so they survive a restart or a kill -9 (docs/reliability.md "Webhooks").
 *
 * Why a topic besides the committed offset: the processor's outputs are at-least-once, so after a
 * crash of the processor an alert it had published is published again, with the same eventId,
 * at a later offset of `alerts`. The notifier's offset does not cover that copy; this log does,
 * whether the notifier restarted in between or not. A record is written after the receiver's 2xx
 * and before the notifier commits its offset, so the one case left is a kill between the 2xx and
 * that write: the alert is then sent again with the same `idempotency-key`, which the receiver
 * uses to drop it.
 *
 * Bounded: records expire after the topic's retention (7 days by default), far longer than the
 * processor's redelivery window (its uncommitted chunks, seconds to minutes); a start reads the
 * run's ids of that window, a few hundred bytes each.
 */
export interface DeliveredRecord {
  readonly v: 1;
  readonly run: string;
  readonly eventId: string;
  readonly deliveredAt: number;
}

export class DeliveredLog {
  private readonly ids = new Set<string>();

  constructor(
    private readonly bus: Bus,
    private readonly topic: string,
    private readonly run: string,
  ) {}

  /** Reads the run's delivered eventIds from the topic (call once, before consuming alerts). */
  async load(): Promise<number> {
    for (const r of await this.bus.readToEnd(this.topic)) {
      if (r.value === null) continue;
      try {
        const d = JSON.parse(r.value.toString('utf8')) as Partial<DeliveredRecord>;
        if (d.run === this.run && typeof d.eventId === 'string') this.ids.add(d.eventId);
      } catch {
        // a record this log did not write: not an eventId of ours
      }
    }
    return this.ids.size;
  }

  has(eventId: string): boolean {
    return this.ids.has(eventId);
  }

  /** Records a delivery; resolves once the topic acknowledged it. */
  async add(eventId: string, deliveredAt: number): Promise<void> {
    const value: DeliveredRecord = { v: 1, run: this.run, eventId, deliveredAt };
    await this.bus.publish([{ topic: this.topic, key: eventId, value, ts: deliveredAt }]);
    this.ids.add(eventId);
  }

  get size(): number {
    return this.ids.size;
  }
}
