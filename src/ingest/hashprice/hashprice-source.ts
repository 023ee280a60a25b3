import type { IngestConfig } from '../../config/ingest-schema.ts';
import { HttpPollSource } from '../http-poll-source.ts';
import { cronOf, type SourceDeps } from '../source-deps.ts';
import { getPath, toNumber } from '../json-path.ts';
import { httpToQuotes } from '../http/http-to-quote.ts';
import { derivedHashpriceQuote } from './hashprice-to-quote.ts';
import { rejected } from '../quote-source.ts';

/**
 * Hashprice sources: a configured HTTP JSON feed of hashprice itself (`hashprice-http`), and/or the
 * derivation from the BTC index (the median of the crypto feeds' latest BTC quotes, handed in as
 * `btcUsd`), a network difficulty feed and an optional fee feed (`hashprice-derived`).
 */
export function createHashpriceSources(cfg: IngestConfig['hashprice'], deps: SourceDeps, btcUsd: () => number | null): HttpPollSource[] {
  const out: HttpPollSource[] = [];
  const common = { timeoutMs: deps.timeoutMs, backoff: deps.backoff, logger: deps.logger, clock: deps.clock };
  const h = cfg.http;
  if (h) {
    const headers: Record<string, string> = {};
    for (const [k, envName] of Object.entries(h.headersFromEnv)) if (deps.env[envName]) headers[k] = deps.env[envName] as string;
    const mapping = { name: 'hashprice-http', kind: 'hashprice' as const, pricePath: h.pricePath, tsPath: h.tsPath, priceScale: 1, modelMap: {} };
    out.push(
      new HttpPollSource({
        ...common,
        name: 'hashprice-http',
        cron: cronOf(deps, h.cron),
        poll: async (fetchJson, clock) => httpToQuotes(await fetchJson({ url: h.url, headers }), mapping, { catalog: deps.catalog, receivedAt: clock() }),
      }),
    );
  }
  const d = cfg.derived;
  if (d) {
    out.push(
      new HttpPollSource({
        ...common,
        name: 'hashprice-derived',
        cron: cronOf(deps, d.cron),
        poll: async (fetchJson, clock) => {
          const diffBody = await fetchJson({ url: d.difficultyUrl });
          const difficulty = toNumber(getPath(diffBody, d.difficultyPath));
          if (!Number.isFinite(difficulty)) return [rejected(`hashprice-derived: no difficulty at ${d.difficultyPath}`, diffBody)];
          let feesBtcPerBlock = 0;
          if (d.feesUrl && d.feesPath) {
            const feesBody = await fetchJson({ url: d.feesUrl });
            const fees = toNumber(getPath(feesBody, d.feesPath));
            if (!Number.isFinite(fees)) return [rejected(`hashprice-derived: no fees at ${d.feesPath}`, feesBody)];
            feesBtcPerBlock = d.feesInSats ? fees / 1e8 : fees;
          }
          return [derivedHashpriceQuote({ btcUsd: btcUsd(), difficulty, feesBtcPerBlock, subsidyBtc: d.subsidyBtc }, { receivedAt: clock() })];
        },
      }),
    );
  }
  return out;
}
