import { pino, type Logger, type DestinationStream, type LoggerOptions } from 'pino';
import { REDACTED, SECRET_LOG_PATHS, redactText, secretValuesOf } from './redact.ts';

/**
 * One logger (STYLE.md 12): pino JSON to stdout (or to a stream a test hands in), a child per
 * component. Level from CCM_LOG_LEVEL (default info).
 *
 * Secrets (docs/reliability.md "Secrets"): fields named like a secret are censored by pino's
 * redaction, and every line is passed through `redactText` before it is written, so a URL with a
 * credential in an error message or a stack, or the value of a secret environment variable
 * (`*_KEY`, `*_TOKEN`, `*_SECRET`, `*_PASSWORD`), never reaches the output.
 */
export type { Logger };

export interface CreateLoggerOptions {
  readonly level?: string;
  readonly stream?: DestinationStream;
  /** Whose secret variables are masked; default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const level = options.level ?? process.env.CCM_LOG_LEVEL ?? 'info';
  const secrets = secretValuesOf(options.env ?? process.env);
  const config: LoggerOptions = {
    level,
    base: { app: 'ccm' },
    redact: { paths: [...SECRET_LOG_PATHS], censor: REDACTED },
    hooks: { streamWrite: (line) => redactText(line, secrets) },
  };
  return options.stream ? pino(config, options.stream) : pino(config);
}

export const componentLogger = (root: Logger, component: string): Logger => root.child({ component });
