/** What other folders may use from the ingestors (STYLE.md 15). ccxt stays inside src/ingest. */
export type { QuoteSource, SourceResult, Mapped, Emit } from './quote-source.ts';
export { checkQuote, boundsFor, type CheckQuoteOptions, type CheckResult, type PriceBounds } from './check-quote.ts';
export { Ingestor, type IngestorOptions, type DeadLetter } from './ingestor.ts';
export { FeedMetrics, FEED_METRIC_NAMES, type FeedSnapshot } from './feed-metrics.ts';
export { toFeedPoints, FEED_MEASUREMENT } from './to-feed-points.ts';
export { buildSources } from './build-sources.ts';
export { LatestPrices } from './latest-prices.ts';
export { toModelInstrument, sanitiseModel } from './model-instrument.ts';
