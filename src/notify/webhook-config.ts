import type { Config } from '../config/config-schema.ts';
import { ErrorCode, MonitorError } from '../domain/errors.ts';

/**
 * The webhook's settings from the config and the environment, checked before anything starts:
 * a webhook URL without a secret (or with a short one) is refused, exit 2, because the receiver
 * could not tell our alerts from anyone's (docs/reliability.md "Webhooks").
 */
export const WEBHOOK_SECRET_ENV = 'CCM_WEBHOOK_SECRET';
/** 16 characters: 96 bits and more for a random secret; shorter ones are guessable offline. */
export const MIN_WEBHOOK_SECRET_LENGTH = 16;

export interface WebhookSettings {
  readonly url: string;
  readonly secret: string;
  readonly format: Config['webhook']['format'];
  readonly timeoutMs: number;
  readonly backoff: { readonly initialMs: number; readonly maxMs: number };
}

/** null when no webhook is configured (`webhook.url` empty). */
export function webhookSettings(config: Config, env: Readonly<Record<string, string | undefined>>): WebhookSettings | null {
  const w = config.webhook;
  if (w.url === '') return null;
  const secret = env[WEBHOOK_SECRET_ENV] ?? '';
  const problem =
    secret === ''
      ? `environment ${WEBHOOK_SECRET_ENV}: is required when webhook.url is set (the receiver verifies every alert's signature with it)`
      : secret.length < MIN_WEBHOOK_SECRET_LENGTH
        ? `environment ${WEBHOOK_SECRET_ENV}: must be at least ${MIN_WEBHOOK_SECRET_LENGTH} characters`
        : null;
  if (problem !== null) throw new MonitorError(problem, { code: ErrorCode.CONFIG_INVALID, problems: [problem] });
  return { url: w.url, secret, format: w.format, timeoutMs: w.timeoutMs, backoff: { initialMs: w.backoff.initialMs, maxMs: w.backoff.maxMs } };
}
