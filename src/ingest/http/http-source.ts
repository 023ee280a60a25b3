import type { HttpSourceConfig } from '../../config/ingest-schema.ts';
import { HttpPollSource } from '../http-poll-source.ts';
import { cronOf, type SourceDeps } from '../source-deps.ts';
import { httpToQuotes } from './http-to-quote.ts';

/** A generic HTTP JSON feed configured in ingest.http[]; header values can come from the environment. */
export function createHttpSource(cfg: HttpSourceConfig, deps: SourceDeps): HttpPollSource {
  const headers: Record<string, string> = { ...cfg.headers };
  for (const [h, envName] of Object.entries(cfg.headersFromEnv)) {
    const v = deps.env[envName];
    if (v) headers[h] = v;
  }
  return new HttpPollSource({
    name: cfg.name,
    cron: cronOf(deps, cfg.cron),
    timeoutMs: deps.timeoutMs,
    backoff: deps.backoff,
    logger: deps.logger,
    clock: deps.clock,
    // A feed that carries its own times may deliver older points (daily broker sheets): no staleness check.
    acceptsOldQuotes: cfg.tsPath !== undefined,
    poll: async (fetchJson, clock) => {
      const body = await fetchJson({ url: cfg.url, method: cfg.method, headers, body: cfg.body });
      return httpToQuotes(body, cfg, { catalog: deps.catalog, receivedAt: clock() });
    },
  });
}
