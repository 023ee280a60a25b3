/**
 * The default exchanges (coinbase, kraken, bitstamp, in their default `auto` mode: websockets for
 * coinbase and kraken, REST polling for bitstamp) end to end: the real ccxt clients against the local
 * fakes of test/support/fake-exchanges.ts, through the Ingestor and KafkaBus into the real Kafka of
 * scripts/services.sh. Each exchange's quotes arrive on the quotes topic keyed by instrument, with
 * the quote's event time as the record timestamp. Topics live under a prefix of their own and are
 * deleted after.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaBus } from '../../src/bus/kafka-bus.ts';
import { topicNames, topicSpecs } from '../../src/bus/topics.ts';
import { IngestConfigSchema } from '../../src/config/ingest-schema.ts';
import type { Quote } from '../../src/domain/market/quote.ts';
import { Ingestor, buildSources, LatestPrices } from '../../src/ingest/index.ts';
import { createLogger } from '../../src/logger.ts';
import { coinbaseWsTicker, exchangeFixture, krakenWsTicker, startFakeExchange, type FakeExchange } from '../support/fake-exchanges.ts';
import { serviceEnv, uniquePrefix } from '../support/services.ts';
import { testCatalog } from '../fixtures/test-catalog.ts';

const EXCHANGES = ['coinbase', 'kraken', 'bitstamp'] as const;
type Id = (typeof EXCHANGES)[number];

const prefix = `${uniquePrefix('ingest-exchanges')}.`;
const names = topicNames(prefix);
const bus = new KafkaBus({ brokers: serviceEnv('default').kafkaBrokers, clientId: `it-${prefix}`, logger: createLogger({ level: 'error' }) });
const fakes = new Map<Id, FakeExchange>();
const received: { key: string | null; ts: number; quote: Quote }[] = [];
let startedAt = 0;
let stoppedAt = 0;
// fresh event times, so the quotes pass the ingestor's age check and the records are not old for Kafka
const coinbaseTs = Date.now() - 2_000;
const bitstampSeconds = Math.floor(Date.now() / 1000) - 5;

beforeAll(async () => {
  await bus.ensureTopics(topicSpecs(prefix, { quotePartitions: 3 }));
  for (const id of EXCHANGES) fakes.set(id, await startFakeExchange(id));
  const bitstamp = fakes.get('bitstamp')!;
  const tickers = exchangeFixture('bitstamp', 'ticker.json') as Record<string, unknown>[];
  bitstamp.http.route('GET', '/api/v2/ticker/', () => ({ json: tickers.map((t) => ({ ...t, timestamp: String(bitstampSeconds) })) }));

  const cfg = IngestConfigSchema.parse({
    crypto: { exchanges: EXCHANGES.map((id) => ({ name: id, mode: 'auto', options: fakes.get(id)!.ccxtOptions })) },
    vast: { enabled: false },
    runpod: { enabled: false },
    lambda: { enabled: false },
    ebay: { enabled: false },
  });
  const latest = new LatestPrices();
  const { sources } = buildSources(cfg, { catalog: testCatalog(), env: {}, timeoutMs: 2000, backoff: { initialMs: 100, maxMs: 1000 }, latest, cronOverride: '* * * * * *' });
  expect(sources.map((s) => s.name)).toEqual([...EXCHANGES]);
  const ingestor = new Ingestor({ bus, topics: { quotes: names.quotes, deadletter: names.deadletter }, sources, bounds: cfg.bounds, clockSkewMs: 5000, maxQuoteAgeMs: 3_600_000, latest });
  startedAt = Date.now();
  await ingestor.start();
  const coinbase = fakes.get('coinbase')!;
  const kraken = fakes.get('kraken')!;
  const deadline = Date.now() + 60_000;
  try {
    while (Date.now() < deadline) {
      if (coinbase.subscriptions.length > 0) coinbase.ws!.broadcast(coinbaseWsTicker('ETH-USD', '2936.40', coinbaseTs));
      if (kraken.subscriptions.length > 0) kraken.ws!.broadcast(krakenWsTicker('BTC/USD', 86_426.0));
      await ingestor.flush();
      await readBack();
      if (EXCHANGES.every((id) => received.some((r) => r.quote.source === id))) break;
      await new Promise((r) => setTimeout(r, 300));
    }
  } finally {
    await ingestor.stop();
    stoppedAt = Date.now();
  }
  await readBack();
});

async function readBack(): Promise<void> {
  received.length = 0;
  for (const r of await bus.readToEnd(names.quotes)) received.push({ key: r.key, ts: r.ts, quote: JSON.parse(String(r.value)) as Quote });
}

afterAll(async () => {
  for (const f of fakes.values()) await f.close();
  await bus.deleteTopics(topicSpecs(prefix).map((s) => s.topic)).catch(() => undefined);
  await bus.close();
});

const of = (source: Id) => received.filter((r) => r.quote.source === source);

describe('default exchanges into the real Kafka quotes topic', () => {
  it('coinbase websocket tickers arrive keyed by instrument, stamped with the ticker_batch message time', () => {
    const records = of('coinbase');
    expect(records.length).toBeGreaterThan(0);
    for (const r of records) {
      expect(r).toMatchObject({ key: 'ETH', ts: coinbaseTs, quote: { instrument: 'ETH', price: 2936.4, ts: coinbaseTs, tsSource: 'source' } });
    }
  });

  it('kraken websocket tickers arrive keyed by instrument, stamped with the receipt time', () => {
    const records = of('kraken');
    expect(records.length).toBeGreaterThan(0);
    for (const r of records) {
      expect(r).toMatchObject({ key: 'BTC', quote: { instrument: 'BTC', price: 86_426, tsSource: 'receipt' } });
      expect(r.ts).toBe(r.quote.ts);
      expect(r.quote.ts).toBe(r.quote.receivedAt);
      expect(r.ts).toBeGreaterThanOrEqual(startedAt);
      expect(r.ts).toBeLessThanOrEqual(stoppedAt);
    }
  });

  it('bitstamp REST tickers arrive keyed by instrument, stamped with the exchange time', () => {
    // every poll answers the same tickers: the distinct records are one poll's worth (BTC/EUR is not tracked)
    const seen = new Map(of('bitstamp').map((r) => [`${r.key} ${r.quote.price}`, { key: r.key, ts: r.ts, instrument: r.quote.instrument, price: r.quote.price, tsSource: r.quote.tsSource }]));
    expect([...seen.values()].sort((a, b) => a.price - b.price)).toEqual([
      { key: 'ETH', ts: bitstampSeconds * 1000, instrument: 'ETH', price: 2933.8, tsSource: 'source' },
      { key: 'BTC', ts: bitstampSeconds * 1000, instrument: 'BTC', price: 86_391, tsSource: 'source' },
      { key: 'BTC', ts: bitstampSeconds * 1000, instrument: 'BTC', price: 86_397, tsSource: 'source' },
    ]);
  });
});
