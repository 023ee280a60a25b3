import type { IngestConfig } from '../../config/ingest-schema.ts';
import { HttpPollSource } from '../http-poll-source.ts';
import { cronOf, type SourceDeps } from '../source-deps.ts';
import { RUNPOD_QUERY, runpodToQuotes } from './runpod-to-quote.ts';

/** RunPod GraphQL gpuTypes: the key is optional and goes in the query string, as the official SDK does (sources.md 1.2). */
export function createRunpodSource(cfg: IngestConfig['runpod'], deps: SourceDeps): HttpPollSource {
  const key = deps.env[cfg.apiKeyEnv];
  const url = key ? `${cfg.url}${cfg.url.includes('?') ? '&' : '?'}api_key=${encodeURIComponent(key)}` : cfg.url;
  return new HttpPollSource({
    name: 'runpod',
    cron: cronOf(deps, cfg.cron),
    timeoutMs: deps.timeoutMs,
    backoff: deps.backoff,
    logger: deps.logger,
    clock: deps.clock,
    poll: async (fetchJson, clock) => {
      const body = await fetchJson({ url, method: 'POST', body: { query: RUNPOD_QUERY, variables: {} } });
      return runpodToQuotes(body, { catalog: deps.catalog, receivedAt: clock(), price: cfg.price });
    },
  });
}
