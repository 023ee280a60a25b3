import { z } from 'zod';
import type { ConsumedRecord } from '../bus/bus.ts';

/**
 * An `alerts` record as the processor publishes it (ARCHITECTURE.md "Kafka contracts": the alert
 * event with `v`, `run` and `eventId`). The notifier decodes each record with this schema: a
 * record that is not JSON or not an alert is dead-lettered with its reason, never thrown (it
 * ended the notifier's consumer before, silently).
 */
const text = (max: number) => z.string().min(1).max(max);

export const AlertRecordSchema = z.looseObject({
  v: z.literal(1),
  run: text(64),
  eventId: text(128),
  entity: text(64),
  facility: text(64).nullable(),
  // a string, not the domain's closed list: a newer processor's rule is still delivered
  rule: text(64),
  from: text(64),
  to: text(64),
  value: z.number().nullable(),
  threshold: z.number().nullable(),
  at: z.number().int().nonnegative(),
});
export type AlertRecord = z.infer<typeof AlertRecordSchema>;

export type DecodedAlert = { readonly ok: true; readonly alert: AlertRecord } | { readonly ok: false; readonly reason: string };

export function decodeAlertRecord(r: ConsumedRecord): DecodedAlert {
  if (r.value === null) return { ok: false, reason: 'empty value (an alerts record is never a tombstone)' };
  let json: unknown;
  try {
    json = JSON.parse(r.value.toString('utf8'));
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  const parsed = AlertRecordSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, reason: `not an alert: ${issue.path.length > 0 ? issue.path.join('.') : '(root)'}: ${issue.message}` };
  }
  return { ok: true, alert: parsed.data };
}
