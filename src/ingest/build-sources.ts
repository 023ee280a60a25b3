import type { IngestConfig } from '../config/ingest-schema.ts';
import type { QuoteSource } from './quote-source.ts';
import type { SourceDeps } from './source-deps.ts';
import { cronOf } from './source-deps.ts';
import { createCcxtSource } from './ccxt/ccxt-source.ts';
import { createVastSource } from './vast/vast-source.ts';
import { createRunpodSource } from './runpod/runpod-source.ts';
import { createLambdaSource } from './lambda/lambda-source.ts';
import { createEbaySource } from './ebay/ebay-source.ts';
import { createHttpSource } from './http/http-source.ts';
import { createHashpriceSources } from './hashprice/hashprice-source.ts';
import { FileSource } from './file/file-source.ts';
import type { LatestPrices } from './latest-prices.ts';

/** The BTC index used to derive hashprice: median of the exchanges' latest BTC quotes of the last 15 minutes. */
export const BTC_INDEX_MAX_AGE_MS = 15 * 60_000;

/**
 * Builds the sources the `ingest:` config asks for. Sources whose key is missing from the
 * environment are not built: they are listed in `skipped` with the variable to set.
 */
export function buildSources(cfg: IngestConfig, deps: SourceDeps & { readonly latest: LatestPrices }): { sources: QuoteSource[]; skipped: { source: string; reason: string }[] } {
  const sources: QuoteSource[] = [];
  const skipped: { source: string; reason: string }[] = [];
  const clock = deps.clock ?? Date.now;
  if (cfg.crypto.enabled) {
    for (const ex of cfg.crypto.exchanges) {
      sources.push(
        createCcxtSource({
          exchange: ex.name,
          symbols: ex.symbols ?? cfg.crypto.symbols,
          mode: ex.mode,
          options: ex.options,
          pollCron: cronOf(deps, cfg.crypto.pollCron),
          watchdogMs: cfg.watchdogS * 1000,
          backoff: deps.backoff,
          receiptTime: cfg.crypto.receiptTimeExchanges.includes(ex.name),
          logger: deps.logger,
          clock: deps.clock,
        }),
      );
    }
  }
  if (cfg.vast.enabled) sources.push(createVastSource(cfg.vast, deps));
  if (cfg.runpod.enabled) sources.push(createRunpodSource(cfg.runpod, deps));
  if (cfg.lambda.enabled) {
    const s = createLambdaSource(cfg.lambda, deps);
    if (s) sources.push(s);
    else skipped.push({ source: 'lambda', reason: `set ${cfg.lambda.apiKeyEnv} to enable it` });
  }
  if (cfg.ebay.enabled) {
    const s = createEbaySource(cfg.ebay, deps);
    if (s) sources.push(s);
    else skipped.push({ source: 'ebay', reason: `set ${cfg.ebay.tokenEnv} (and ingest.ebay.queries) to enable it` });
  }
  for (const h of cfg.http) sources.push(createHttpSource(h, deps));
  for (const f of cfg.files) sources.push(new FileSource(f, { catalog: deps.catalog, logger: deps.logger, clock: deps.clock }));
  sources.push(...createHashpriceSources(cfg.hashprice, deps, () => deps.latest.median('BTC', clock(), BTC_INDEX_MAX_AGE_MS)));
  const names = new Set<string>();
  for (const s of sources) {
    if (names.has(s.name)) throw new Error(`two ingest sources are named ${s.name}: source names must be unique`);
    names.add(s.name);
  }
  return { sources, skipped };
}
