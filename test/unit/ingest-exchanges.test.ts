/**
 * The default exchanges of the crypto ingestor (coinbase, kraken, bitstamp: src/config/ingest-schema.ts)
 * through the real ccxt 4.5.84 clients against the local fakes of test/support/fake-exchanges.ts.
 * Nothing leaves 127.0.0.1.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Quote } from '../../src/domain/market/quote.ts';
import { CcxtWsSource, createCcxtRestSource, hasWebsocket, type CcxtSourceOptions } from '../../src/ingest/ccxt/ccxt-source.ts';
import type { SourceResult } from '../../src/ingest/quote-source.ts';
import { coinbaseWsTicker, krakenWsTicker, startFakeExchange, type FakeExchange, type FakeExchangeId } from '../support/fake-exchanges.ts';
import { until } from '../support/fake-servers.ts';

/** The default symbol list of ingest.crypto (USD, USDT and USDC all count as USD). */
const SYMBOLS = ['BTC/USD', 'BTC/USDT', 'BTC/USDC', 'ETH/USD', 'ETH/USDT', 'ETH/USDC'];
const RECEIVED_AT = 1_764_000_100_000;

let fake: FakeExchange | null = null;
let stopSource: (() => Promise<void>) | null = null;
afterEach(async () => {
  await stopSource?.();
  stopSource = null;
  await fake?.close();
  fake = null;
});

const collect = () => {
  const events: SourceResult[] = [];
  return { events, emit: (r: SourceResult) => events.push(r), quotes: () => events.flatMap((e) => (e.kind === 'quote' ? [e.quote] : [])) };
};

const options = (f: FakeExchange, over: Partial<CcxtSourceOptions> = {}): CcxtSourceOptions => ({
  exchange: f.id,
  symbols: SYMBOLS,
  mode: 'rest',
  options: f.ccxtOptions,
  pollCron: null,
  watchdogMs: 60_000,
  backoff: { initialMs: 10, maxMs: 50 },
  receiptTime: false,
  clock: () => RECEIVED_AT,
  ...over,
});

const byInstrumentAndPrice = (a: Quote, b: Quote): number => a.instrument.localeCompare(b.instrument) || a.price - b.price;

async function pollOnce(id: FakeExchangeId, expected: number): Promise<Quote[]> {
  fake = await startFakeExchange(id);
  const src = createCcxtRestSource(options(fake));
  stopSource = () => src.stop();
  const c = collect();
  await src.start(c.emit);
  await until(() => c.quotes().length >= expected, `${expected} ${id} quotes`);
  return c.quotes().slice(0, expected).sort(byInstrumentAndPrice);
}

describe('default exchanges polled over REST against local fakes', () => {
  it('kraken quotes XBT pairs as BTC with receipt time, since its ticker carries no time', async () => {
    const quotes = await pollOnce('kraken', 3);
    const receipt = { source: 'kraken', ts: RECEIVED_AT, tsSource: 'receipt', receivedAt: RECEIVED_AT, v: 1 };
    expect(quotes).toEqual([
      { ...receipt, instrument: 'BTC', price: 86_402.2 },
      { ...receipt, instrument: 'BTC', price: 86_410.5 },
      { ...receipt, instrument: 'ETH', price: 2934.65 },
    ]);
    // only the listed pairs are asked for (kraken has no BTC/USDC, ETH/USDT or ETH/USDC here)
    const pairs = fake!.http.hits('GET', '/0/public/Ticker')[0].query.get('pair')?.split(',').sort();
    expect(pairs).toEqual(['XBTUSDT', 'XETHZUSD', 'XXBTZUSD']);
  });

  it('coinbase quotes its advanced trade products with receipt time, since the product list carries no time', async () => {
    const quotes = await pollOnce('coinbase', 3);
    const receipt = { source: 'coinbase', ts: RECEIVED_AT, tsSource: 'receipt', receivedAt: RECEIVED_AT, v: 1 };
    expect(quotes).toEqual([
      { ...receipt, instrument: 'BTC', price: 86_399.02 },
      { ...receipt, instrument: 'BTC', price: 86_404.17 },
      { ...receipt, instrument: 'ETH', price: 2934.51 },
    ]);
    const ask = fake!.http.hits('GET', '/api/v3/brokerage/market/products').find((r) => r.query.has('product_ids'));
    expect(ask?.query.getAll('product_ids').sort()).toEqual(['BTC-USD', 'BTC-USDT', 'ETH-USD']);
  });

  it('bitstamp quotes USD and USDC pairs with the exchange time in seconds as event time, ignoring other pairs', async () => {
    const quotes = await pollOnce('bitstamp', 3);
    const from = { source: 'bitstamp', tsSource: 'source', receivedAt: RECEIVED_AT, v: 1 };
    expect(quotes).toEqual([
      { ...from, instrument: 'BTC', price: 86_391, ts: 1_764_000_029_000 },
      { ...from, instrument: 'BTC', price: 86_397, ts: 1_764_000_030_000 },
      { ...from, instrument: 'ETH', price: 2933.8, ts: 1_764_000_031_000 },
    ]);
  });

  it.each(['kraken', 'coinbase', 'bitstamp'] as const)('%s retries the ticker after an HTTP 500 and then quotes', async (id) => {
    fake = await startFakeExchange(id);
    fake.tickerFailures.push({ status: 500, text: 'Internal Server Error' });
    const src = createCcxtRestSource(options(fake, { symbols: ['BTC/USD'] }));
    stopSource = () => src.stop();
    const c = collect();
    await src.start(c.emit);
    await until(() => c.quotes().length === 1, 'a quote after the failure');
    expect(c.events.map((e) => e.kind)).toEqual(['reject', 'reconnect', 'quote']);
    expect(c.quotes()[0]).toMatchObject({ instrument: 'BTC', source: id });
  });
});

describe('default exchanges over websockets against local fakes', () => {
  it('auto mode picks websockets for kraken and coinbase and REST for bitstamp, as ccxt pro offers', () => {
    expect([hasWebsocket('kraken'), hasWebsocket('coinbase'), hasWebsocket('bitstamp')]).toEqual([true, true, false]);
  });

  it('kraken subscribes to the v2 ticker channel and quotes pushed tickers with receipt time', async () => {
    fake = await startFakeExchange('kraken');
    const src = new CcxtWsSource(options(fake, { mode: 'ws' }));
    stopSource = () => src.stop();
    const c = collect();
    await src.start(c.emit);
    await until(() => fake!.subscriptions.length > 0, 'a subscription');
    expect(fake.subscriptions[0]).toMatchObject({ method: 'subscribe', params: { channel: 'ticker', symbol: ['BTC/USD', 'BTC/USDT', 'ETH/USD'] } });
    fake.ws!.broadcast(krakenWsTicker('ETH/USD', 2935.12));
    await until(() => c.quotes().length === 1, 'a quote');
    expect(c.quotes()[0]).toEqual({ v: 1, instrument: 'ETH', price: 2935.12, source: 'kraken', ts: RECEIVED_AT, tsSource: 'receipt', receivedAt: RECEIVED_AT });
  });

  it('coinbase subscribes to ticker_batch and quotes pushed tickers with the message time as event time', async () => {
    fake = await startFakeExchange('coinbase');
    const src = new CcxtWsSource(options(fake, { mode: 'ws' }));
    stopSource = () => src.stop();
    const c = collect();
    await src.start(c.emit);
    await until(() => fake!.subscriptions.length > 0, 'a subscription');
    expect(fake.subscriptions[0]).toMatchObject({ type: 'subscribe', channel: 'ticker_batch' });
    expect((fake.subscriptions[0] as { product_ids: string[] }).product_ids.sort()).toEqual(['BTC-USD', 'BTC-USDT', 'ETH-USD']);
    fake.ws!.broadcast(coinbaseWsTicker('BTC-USD', '86431.77', 1_764_000_065_123));
    await until(() => c.quotes().length === 1, 'a quote');
    expect(c.quotes()[0]).toEqual({ v: 1, instrument: 'BTC', price: 86_431.77, source: 'coinbase', ts: 1_764_000_065_123, tsSource: 'source', receivedAt: RECEIVED_AT });
  });

  const push: Record<'kraken' | 'coinbase', (price: number) => unknown> = {
    kraken: (price) => krakenWsTicker('BTC/USD', price),
    coinbase: (price) => coinbaseWsTicker('BTC-USD', String(price), 1_764_000_065_123),
  };

  it.each(['kraken', 'coinbase'] as const)('%s reconnects after the server drops the connection, counts it, and resumes quoting', async (id) => {
    fake = await startFakeExchange(id);
    const src = new CcxtWsSource(options(fake, { mode: 'ws', symbols: ['BTC/USD'] }));
    stopSource = () => src.stop();
    const c = collect();
    await src.start(c.emit);
    await until(() => fake!.subscriptions.length === 1, 'first subscription');
    fake.ws!.broadcast(push[id](86_400));
    await until(() => c.quotes().length === 1, 'first quote');
    fake.ws!.dropAll();
    await until(() => fake!.subscriptions.length === 2, 'subscription after reconnect');
    fake.ws!.broadcast(push[id](86_500));
    await until(() => c.quotes().length === 2, 'quote after reconnect');
    expect(c.quotes().map((q) => q.price)).toEqual([86_400, 86_500]);
    expect(c.events.filter((e) => e.kind === 'reconnect')).toHaveLength(1);
    expect(fake.ws!.connections).toBe(2);
  });
});
