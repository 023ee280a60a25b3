import type { Catalog } from '../domain/sheet/catalog.ts';
import type { Logger } from '../logger.ts';

/** What every source factory needs besides its own config section. */
export interface SourceDeps {
  readonly catalog: Catalog;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly timeoutMs: number;
  readonly backoff: { readonly initialMs: number; readonly maxMs: number };
  readonly logger?: Logger;
  readonly clock?: () => number;
  /** Replaces every cron schedule (tests pass null and drive polls themselves). */
  readonly cronOverride?: string | null;
}

export const cronOf = (deps: SourceDeps, configured: string): string | null => (deps.cronOverride === undefined ? configured : deps.cronOverride);
