import { loadConfig } from '../config/load-config.ts';
import type { Config } from '../config/config-schema.ts';

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
export async function withDeadline<T>(ms: number, fn: () => Promise<T>): Promise<T | 'timeout'> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((r) => (t = setTimeout(() => r('timeout'), ms)));
  try {
    return await Promise.race([fn(), timeout]);
  } finally {
    clearTimeout(t);
  }
}
