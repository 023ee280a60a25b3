import { pino, type Logger, type DestinationStream } from 'pino';

/**
 * One logger (STYLE.md 12): pino JSON to stdout (or to a stream a test hands in), a child per
 * component. Level from CCM_LOG_LEVEL (default info).
 */
export type { Logger };

export function createLogger(options: { level?: string; stream?: DestinationStream } = {}): Logger {
  const level = options.level ?? process.env.CCM_LOG_LEVEL ?? 'info';
  return options.stream ? pino({ level, base: { app: 'ccm' } }, options.stream) : pino({ level, base: { app: 'ccm' } });
}

export const componentLogger = (root: Logger, component: string): Logger => root.child({ component });
