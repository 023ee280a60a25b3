import { loadConfig } from '../config/load-config.ts';
import type { Config } from '../config/config-schema.ts';
import { within } from '../deadline.ts';
import type { Logger } from '../logger.ts';

/** Shared helpers of the CLI commands: config loading, termination, deadlines. */
export async function loadCommandConfig(configPath: string | undefined): Promise<Config> {
  return loadConfig({ configPath, env: process.env });
}

/** Resolves on SIGTERM or SIGINT (once). */
export function onTerminate(): Promise<string> {
  return new Promise((resolve) => {
    const handler = (sig: string) => {
      process.off('SIGTERM', handler);
      process.off('SIGINT', handler);
      resolve(sig);
    };
    process.on('SIGTERM', handler);
    process.on('SIGINT', handler);
  });
}

/** Runs `fn` but gives up after `ms` (shutdown must finish within 10 s). */
export function withDeadline<T>(ms: number, fn: () => Promise<T>): Promise<T | 'timeout'> {
  return within(ms, fn());
}

/**
 * A command's shutdown, step by step in order: a step that fails is logged and the next one runs.
 * What a command's exit code says (its results written and committed) is decided before these
 * steps (processor.stop() commits); a client that fails to close after that is a warning, not exit 1.
 */
export async function closeInOrder(log: Pick<Logger, 'warn'>, steps: ReadonlyArray<readonly [string, () => Promise<void> | void]>): Promise<void> {
  for (const [name, step] of steps) {
    try {
      await step();
    } catch (err) {
      log.warn({ err, step: name }, `${name}: did not close cleanly`);
    }
  }
}
