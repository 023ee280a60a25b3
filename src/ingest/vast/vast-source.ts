import type { IngestConfig } from '../../config/ingest-schema.ts';
import { HttpPollSource } from '../http-poll-source.ts';
import { cronOf, type SourceDeps } from '../source-deps.ts';
import { vastQuery, vastToQuotes } from './vast-to-quote.ts';

/** vast.ai offer search: works without a key; sends `Authorization: Bearer` when one is set (sources.md 1.1). */
export function createVastSource(cfg: IngestConfig['vast'], deps: SourceDeps): HttpPollSource {
  const key = deps.env[cfg.apiKeyEnv];
  return new HttpPollSource({
    name: 'vast',
    cron: cronOf(deps, cfg.cron),
    timeoutMs: deps.timeoutMs,
    backoff: deps.backoff,
    logger: deps.logger,
    clock: deps.clock,
    poll: async (fetchJson, clock) => {
      const body = await fetchJson({ url: cfg.url, method: 'POST', body: vastQuery(cfg.gpuNames), headers: key ? { authorization: `Bearer ${key}` } : {} });
      return vastToQuotes(body, { catalog: deps.catalog, receivedAt: clock(), minReliability: cfg.minReliability, trimFraction: cfg.trimFraction, minOffers: cfg.minOffers });
    },
  });
}
