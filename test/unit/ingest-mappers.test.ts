import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { QuoteSchema } from '../../src/domain/market/quote.ts';
import type { Mapped } from '../../src/ingest/quote-source.ts';
import { tickerToQuote, symbolToInstrument } from '../../src/ingest/ccxt/ticker-to-quote.ts';
import { vastToQuotes } from '../../src/ingest/vast/vast-to-quote.ts';
import { runpodToQuotes } from '../../src/ingest/runpod/runpod-to-quote.ts';
import { lambdaToQuotes } from '../../src/ingest/lambda/lambda-to-quote.ts';
import { ebayToQuotes } from '../../src/ingest/ebay/ebay-to-quote.ts';
import { httpToQuotes } from '../../src/ingest/http/http-to-quote.ts';
import { fileToQuotes, parseCsv } from '../../src/ingest/file/file-to-quote.ts';
import { derivedHashpriceQuote, hashpriceUsdPerThDay } from '../../src/ingest/hashprice/hashprice-to-quote.ts';
import { trimmedMedian } from '../../src/ingest/robust-stats.ts';
import { testCatalog, fixturePath } from '../fixtures/test-catalog.ts';

const catalog = testCatalog();
const NOW = Date.parse('2026-11-24T12:00:00Z');
const fixture = (rel: string): unknown => JSON.parse(readFileSync(fixturePath(rel), 'utf8'));
const quotes = (ms: Mapped[]) => ms.flatMap((m) => (m.kind === 'quote' ? [m.quote] : []));
const rejects = (ms: Mapped[]) => ms.flatMap((m) => (m.kind === 'reject' ? [m.reason] : []));

describe('ccxt ticker mapper', () => {
  it('maps BTC and ETH against USD, USDT and USDC to their instrument and nothing else', () => {
    expect(symbolToInstrument('BTC/USDT')).toBe('BTC');
    expect(symbolToInstrument('XBT/USD')).toBe('BTC');
    expect(symbolToInstrument('ETH/USDC')).toBe('ETH');
    expect(symbolToInstrument('BTC/EUR')).toBeNull();
    expect(symbolToInstrument('SOL/USDT')).toBeNull();
  });

  it('stamps the exchange timestamp as event time when ccxt has one', () => {
    const m = tickerToQuote({ symbol: 'BTC/USDT', timestamp: NOW - 500, last: 86_398.47 }, { exchange: 'binance', receivedAt: NOW, receiptTime: false });
    expect(m).toMatchObject({ kind: 'quote', quote: { instrument: 'BTC', price: 86_398.47, source: 'binance', ts: NOW - 500, tsSource: 'source', receivedAt: NOW } });
    expect(QuoteSchema.safeParse((m as { quote: unknown }).quote).success).toBe(true);
  });

  it('stamps receipt time when the ticker has no timestamp (kraken) or the exchange is listed as receipt-time', () => {
    expect(tickerToQuote({ symbol: 'BTC/USD', last: 86_000 }, { exchange: 'kraken', receivedAt: NOW, receiptTime: false })).toMatchObject({ quote: { ts: NOW, tsSource: 'receipt' } });
    expect(tickerToQuote({ symbol: 'BTC/USD', timestamp: NOW - 9, last: 86_000 }, { exchange: 'kraken', receivedAt: NOW, receiptTime: true })).toMatchObject({ quote: { ts: NOW, tsSource: 'receipt' } });
  });

  it('rejects a ticker without a price or for an untracked pair', () => {
    expect(tickerToQuote({ symbol: 'BTC/USDT', timestamp: NOW }, { exchange: 'binance', receivedAt: NOW, receiptTime: false }).kind).toBe('reject');
    expect(tickerToQuote({ symbol: 'BTC/EUR', last: 1 }, { exchange: 'binance', receivedAt: NOW, receiptTime: false }).kind).toBe('reject');
  });
});

describe('vast.ai mapper', () => {
  const out = vastToQuotes(fixture('vast/bundles.json'), { catalog, receivedAt: NOW, minReliability: 0.95, trimFraction: 0.2, minOffers: 3 });

  it('quotes the trimmed median USD per GPU-hour of qualifying offers, per model, with the offer count as sample', () => {
    const h100 = quotes(out).find((q) => q.instrument === 'rental:H100-SXM');
    // per GPU: 3.344/2, 1.80, 14.72/8, 7.56/4, 9.99 (unverified, unreliable and rented offers excluded)
    expect(h100).toMatchObject({ price: 1.84, sample: 5, source: 'vast', ts: NOW, tsSource: 'receipt' });
    expect(quotes(out).find((q) => q.instrument === 'rental:A100-80GB')).toMatchObject({ price: 0.95, sample: 3 });
  });

  it('keeps an unknown model and flags it with the raw name', () => {
    expect(quotes(out).find((q) => q.unknownModel === 'RTX PRO 6000 WS')).toMatchObject({ instrument: 'rental:RTX-PRO-6000-WS', price: 0.9 });
  });

  it('rejects malformed offers and models with too few offers', () => {
    const r = rejects(out);
    expect(r).toHaveLength(3);
    expect(r.some((x) => x.includes('num_gpus 0'))).toBe(true);
    expect(r.some((x) => x.includes('dph_total'))).toBe(true);
    expect(r.some((x) => x.includes('H100 NVL has 1 qualifying offers'))).toBe(true);
  });

  it('rejects an answer without an offers array', () => {
    expect(rejects(vastToQuotes({ success: false, error: 'auth_error' }, { catalog, receivedAt: NOW, minReliability: 0.9, trimFraction: 0, minOffers: 1 }))).toEqual(['vast: answer has no "offers" array']);
  });
});

describe('RunPod mapper', () => {
  it('quotes the on-demand price per GPU-hour, resolving the long id through the catalog', () => {
    const qs = quotes(runpodToQuotes(fixture('runpod/gpu-types.json'), { catalog, receivedAt: NOW, price: 'uninterruptable' }));
    expect(qs.map((q) => [q.instrument, q.price])).toEqual([
      ['rental:RTX-4090', 0.34],
      ['rental:H100-SXM', 2.39],
      ['rental:H100-PCIE', 1.99],
      ['rental:AMD-Instinct-MI300X-OAM', 2.49],
    ]);
    expect(qs[3].unknownModel).toBe('AMD Instinct MI300X OAM');
  });

  it('uses the list price when configured, and skips types without capacity', () => {
    const qs = quotes(runpodToQuotes(fixture('runpod/gpu-types.json'), { catalog, receivedAt: NOW, price: 'secure' }));
    expect(qs.find((q) => q.instrument === 'rental:H100-SXM')?.price).toBe(2.69);
    expect(qs).toHaveLength(5);
  });

  it('rejects a GraphQL error answered with HTTP 200', () => {
    expect(rejects(runpodToQuotes(fixture('runpod/errors.json'), { catalog, receivedAt: NOW, price: 'uninterruptable' }))[0]).toContain('GraphQL errors');
  });
});

describe('Lambda mapper', () => {
  const out = lambdaToQuotes(fixture('lambda/instance-types.json'), { catalog, receivedAt: NOW });

  it('divides cents per instance by 100 and by the GPU count, keeping the cheapest size per model', () => {
    const qs = quotes(out);
    expect(qs.find((q) => q.instrument === 'rental:H100-SXM')).toMatchObject({ price: 2.99, sample: 2, source: 'lambda' });
    expect(qs.find((q) => q.instrument === 'rental:H100-PCIE')?.price).toBe(2.49);
    expect(qs.find((q) => q.instrument === 'rental:A100-80GB')?.price).toBeCloseTo(1.795, 10);
    expect(qs.find((q) => q.instrument === 'rental:gh200')).toMatchObject({ unknownModel: 'gpu_1x_gh200', price: 1.49 });
  });

  it('rejects an instance type without a price and an error answer', () => {
    expect(rejects(out)).toEqual(['lambda: gpu_2x_broken has no price_cents_per_hour']);
    expect(rejects(lambdaToQuotes(fixture('lambda/error-invalid-key.json'), { catalog, receivedAt: NOW }))[0]).toContain('Invalid API key');
  });
});

describe('eBay mapper', () => {
  const query = { model: 'H100-PCIE', q: 'H100 80GB PCIe', condition: 'USED' as const, minPriceUsd: 5000, titleMustHave: ['H100', 'PCIe'] };
  const o = { catalog, receivedAt: NOW, excludeTitle: ['for parts', 'fan', 'heatsink'], trimFraction: 0.1, minListings: 3 };

  it('quotes the median fixed-price used asking price of listings that are the part itself', () => {
    const out = ebayToQuotes(fixture('ebay/item-summary-search.json'), query, o);
    // 21500, 19999, 22950, 20500; parts, fans, auctions, new and EUR listings are out
    expect(quotes(out)).toEqual([{ v: 1, instrument: 'resale:H100-PCIE', price: 21_000, source: 'ebay', ts: NOW, tsSource: 'receipt', receivedAt: NOW, sample: 4 }]);
    expect(rejects(out)).toHaveLength(2);
  });

  it('gives no quote when too few listings qualify, and rejects an error answer', () => {
    expect(ebayToQuotes(fixture('ebay/item-summary-empty.json'), query, o)).toEqual([]);
    expect(rejects(ebayToQuotes(fixture('ebay/error-invalid-token.json'), query, o))[0]).toContain('Invalid access token');
  });
});

describe('generic HTTP mapper', () => {
  it('reads rows, model, price, units and time through the configured paths', () => {
    const out = httpToQuotes(
      fixture('http/rental-feed.json'),
      { name: 'broker-feed', kind: 'rental', itemsPath: 'rows', modelPath: 'gpu', pricePath: 'instance_usd_per_hour', unitsPath: 'gpus', tsPath: 'asOf', priceScale: 1, modelMap: { 'A100 80GB SXM': 'A100-80GB' } },
      { catalog, receivedAt: NOW },
    );
    expect(quotes(out).map((q) => [q.instrument, q.price, q.tsSource, q.unknownModel])).toEqual([
      ['rental:H100-SXM', 2.69, 'source', undefined],
      ['rental:A100-80GB', 1.29, 'source', undefined],
      ['rental:B300', 5.99, 'source', 'B300'],
    ]);
    expect(rejects(out)).toEqual(['broker-feed: row has no price at instance_usd_per_hour']);
  });

  it('reads a single hashprice value with its time', () => {
    const out = httpToQuotes(fixture('hashprice/feed.json'), { name: 'hp', kind: 'hashprice', pricePath: 'data.hashprice.usdPerThDay', tsPath: 'data.hashprice.updatedAt', priceScale: 1, modelMap: {} }, { catalog, receivedAt: NOW });
    expect(quotes(out)).toEqual([{ v: 1, instrument: 'hashprice', price: 0.0447, source: 'hp', ts: Date.parse('2026-11-24T12:00:00Z'), tsSource: 'source', receivedAt: NOW }]);
  });
});

describe('file mapper', () => {
  it('parses quoted CSV cells with commas and escaped quotes', () => {
    expect(parseCsv('a,b\r\n"x, y","say ""hi"""\n')).toEqual([['a', 'b'], ['x, y', 'say "hi"']]);
  });

  it('turns broker CSV rows into per-unit resale quotes and rejects bad rows one by one', () => {
    const out = fileToQuotes('broker-quotes.csv', readFileSync(fixturePath('files/broker-quotes.csv'), 'utf8'), { catalog, kind: 'resale', source: 'brokers', receivedAt: NOW });
    expect(quotes(out).map((q) => [q.instrument, q.price, q.ts, q.unknownModel])).toEqual([
      ['resale:H100-SXM', 21_500, Date.parse('2026-11-20T15:00:00Z'), undefined],
      ['resale:A100-80GB', 7100, Date.parse('2026-11-21T09:30:00Z'), undefined],
      ['resale:S21-Pro', 3400, NOW, 'S21 Pro'],
    ]);
    expect(rejects(out)).toEqual(['broker-quotes.csv: row 3: currency EUR is not USD', 'broker-quotes.csv: row 5: no price']);
  });

  it('reads auction results from JSON with epoch or ISO times', () => {
    const out = fileToQuotes('auction-results.json', readFileSync(fixturePath('files/auction-results.json'), 'utf8'), { catalog, kind: 'resale', source: 'auctions', receivedAt: NOW });
    expect(quotes(out).map((q) => [q.instrument, q.price, q.ts])).toEqual([
      ['resale:H100-SXM', 18_250, 1_763_683_200_000],
      ['resale:H200', 30_500, Date.parse('2026-11-22T18:00:00Z')],
    ]);
    expect(rejects(out)).toEqual(['auction-results.json: row 3: unreadable ts "not a date"']);
  });

  it('rejects a whole file that is not JSON or has the wrong columns', () => {
    expect(rejects(fileToQuotes('x.json', '{oops', { catalog, kind: 'resale', source: 'f', receivedAt: NOW }))[0]).toContain('not JSON');
    expect(rejects(fileToQuotes('x.csv', 'a,b\n1,2\n', { catalog, kind: 'resale', source: 'f', receivedAt: NOW }))[0]).toContain('model and price');
  });
});

describe('hashprice derivation', () => {
  it('derives USD per TH/s per day from BTC price, difficulty, subsidy and fees', () => {
    // 144 * 3.15 BTC * 86,000 USD / (1.493e14 * 2^32 / 600 / 1e12 TH/s) = 39,009,600 / 1.06874e9
    expect(hashpriceUsdPerThDay({ btcUsd: 86_000, difficulty: 149_301_205_959_699.9, subsidyBtc: 3.125, feesBtcPerBlock: 0.025 })).toBeCloseTo(0.0365, 4);
  });

  it('rejects when no BTC price is known yet', () => {
    expect(derivedHashpriceQuote({ btcUsd: null, difficulty: 1e14, feesBtcPerBlock: 0, subsidyBtc: 3.125 }, { receivedAt: NOW }).kind).toBe('reject');
  });
});

describe('trimmed median', () => {
  it('drops the trimmed share from each end before taking the median', () => {
    expect(trimmedMedian([1, 2, 3, 4, 100], 0.2)).toBe(3);
    expect(trimmedMedian([1, 2, 3, 4], 0)).toBe(2.5);
    expect(trimmedMedian([], 0.1)).toBeNull();
  });
});
