/** The Slack form of an alert webhook (the notifier's `format: slack`). */

export interface AlertValue {
  readonly eventId: string;
  readonly run: string;
  readonly entity: string;
  readonly facility: string | null;
  readonly rule: string;
  readonly from: string;
  readonly to: string;
  readonly value: number | null;
  readonly threshold: number | null;
  readonly at: number;
}

export function toSlackMessage(a: AlertValue): { text: string } {
  const where = a.facility ? `${a.entity} / ${a.facility}` : a.entity;
  const v = a.value === null ? 'n/a' : a.value.toFixed(4);
  const t = a.threshold === null ? '' : ` (threshold ${a.threshold})`;
  return { text: `:rotating_light: ${where}: ${a.rule} ${a.from} → ${a.to}, value ${v}${t} at ${new Date(a.at).toISOString()} [run ${a.run}]` };
}
