import type { IngestConfig } from '../../config/ingest-schema.ts';
import type { Mapped } from '../quote-source.ts';
import { HttpPollSource } from '../http-poll-source.ts';
import { cronOf, type SourceDeps } from '../source-deps.ts';
import { ebaySearchParams, ebayToQuotes } from './ebay-to-quote.ts';

/**
 * eBay Browse API item summaries, one request per configured query, with the OAuth application token
 * from the environment (`Authorization: Bearer`, `X-EBAY-C-MARKETPLACE-ID`; sources.md 2). Null without a token.
 */
export function createEbaySource(cfg: IngestConfig['ebay'], deps: SourceDeps): HttpPollSource | null {
  const token = deps.env[cfg.tokenEnv];
  if (!token || cfg.queries.length === 0) return null;
  return new HttpPollSource({
    name: 'ebay',
    cron: cronOf(deps, cfg.cron),
    timeoutMs: deps.timeoutMs,
    backoff: deps.backoff,
    logger: deps.logger,
    clock: deps.clock,
    poll: async (fetchJson, clock) => {
      const out: Mapped[] = [];
      for (const q of cfg.queries) {
        const body = await fetchJson({ url: `${cfg.url}?${ebaySearchParams(q).toString()}`, headers: { authorization: `Bearer ${token}`, 'x-ebay-c-marketplace-id': cfg.marketplace } });
        out.push(...ebayToQuotes(body, q, { catalog: deps.catalog, receivedAt: clock(), excludeTitle: cfg.excludeTitle, trimFraction: cfg.trimFraction, minListings: cfg.minListings }));
      }
      return out;
    },
  });
}
