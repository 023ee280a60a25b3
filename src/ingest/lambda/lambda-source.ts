import type { IngestConfig } from '../../config/ingest-schema.ts';
import { HttpPollSource } from '../http-poll-source.ts';
import { cronOf, type SourceDeps } from '../source-deps.ts';
import { lambdaToQuotes } from './lambda-to-quote.ts';

/** Lambda Cloud instance types; needs `Authorization: Bearer <key>` (sources.md 1.3). Null without a key. */
export function createLambdaSource(cfg: IngestConfig['lambda'], deps: SourceDeps): HttpPollSource | null {
  const key = deps.env[cfg.apiKeyEnv];
  if (!key) return null;
  return new HttpPollSource({
    name: 'lambda',
    cron: cronOf(deps, cfg.cron),
    timeoutMs: deps.timeoutMs,
    backoff: deps.backoff,
    logger: deps.logger,
    clock: deps.clock,
    poll: async (fetchJson, clock) => {
      const body = await fetchJson({ url: cfg.url, headers: { authorization: `Bearer ${key}` } });
      return lambdaToQuotes(body, { catalog: deps.catalog, receivedAt: clock() });
    },
  });
}
