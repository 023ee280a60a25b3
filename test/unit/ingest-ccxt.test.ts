import { afterEach, describe, expect, it } from 'vitest';
import type { SourceResult } from '../../src/ingest/quote-source.ts';
import { CcxtWsSource, createCcxtRestSource } from '../../src/ingest/ccxt/ccxt-source.ts';
import type { HttpPollSource } from '../../src/ingest/http-poll-source.ts';
import { fixtureJson, startFakeBinance, until, type FakeBinance } from '../support/fake-servers.ts';

let fake: FakeBinance | null = null;
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

describe('ccxt REST polling against a fake binance', () => {
  it('fetches tickers with the real ccxt client and stamps the exchange close time as event time', async () => {
    fake = await startFakeBinance();
    const src = createCcxtRestSource({ exchange: 'binance', symbols: ['BTC/USDT', 'ETH/USDT', 'BTC/USD'], mode: 'rest', options: fake.ccxtOptions, pollCron: null, watchdogMs: 60_000, backoff: { initialMs: 10, maxMs: 50 }, receiptTime: false, clock: () => 1_764_000_001_000 });
    stopSource = () => src.stop();
    const c = collect();
    await src.start(c.emit);
    await until(() => c.quotes().length === 2, 'two quotes');
    expect(c.quotes()).toEqual([
      { v: 1, instrument: 'BTC', price: 86_398.47, source: 'binance', ts: 1_764_000_000_000, tsSource: 'source', receivedAt: 1_764_000_001_000 },
      { v: 1, instrument: 'ETH', price: 2934.18, source: 'binance', ts: 1_764_000_000_100, tsSource: 'source', receivedAt: 1_764_000_001_000 },
    ]);
    expect(fake.http.hits('GET', '/api/v3/exchangeInfo')).toHaveLength(1);
  });

  it('retries with backoff after HTTP 500 and 429, dead-lettering each failed answer and counting reconnects', async () => {
    fake = await startFakeBinance();
    const all = fixtureJson('binance/ticker-24hr.json');
    fake.http.script('GET', '/api/v3/ticker/24hr', [
      { status: 500, text: 'Internal error' },
      { status: 429, json: { code: -1003, msg: 'Too many requests; current limit of IP is 6000 requests per minute.' } },
      { json: all },
    ]);
    const src: HttpPollSource = createCcxtRestSource({ exchange: 'binance', symbols: ['BTC/USDT'], mode: 'rest', options: fake.ccxtOptions, pollCron: null, watchdogMs: 60_000, backoff: { initialMs: 10, maxMs: 40 }, receiptTime: false });
    stopSource = () => src.stop();
    const c = collect();
    await src.start(c.emit);
    await until(() => c.quotes().length === 1, 'a quote after the failures');
    expect(c.events.map((e) => e.kind)).toEqual(['reject', 'reconnect', 'reject', 'reconnect', 'quote']);
  });

  it('reports an unreachable exchange as down and keeps retrying without crashing', async () => {
    fake = await startFakeBinance();
    const options = { ...fake.ccxtOptions, urls: { api: { public: 'http://127.0.0.1:1/api/v3', private: 'http://127.0.0.1:1/api/v3', v3: 'http://127.0.0.1:1/api/v3' } } };
    const src = createCcxtRestSource({ exchange: 'binance', symbols: ['BTC/USDT'], mode: 'rest', options, pollCron: null, watchdogMs: 60_000, backoff: { initialMs: 5, maxMs: 20 }, receiptTime: false });
    stopSource = () => src.stop();
    const c = collect();
    await src.start(c.emit);
    await until(() => c.events.filter((e) => e.kind === 'reconnect').length >= 2, 'two reconnects');
    expect(c.events.filter((e) => e.kind === 'down')).toHaveLength(1);
    expect(c.events[0]).toMatchObject({ kind: 'down', reason: expect.stringContaining('binance') });
  });
});

describe('ccxt websocket tickers against a fake binance stream', () => {
  const wsTick = (over: Record<string, unknown> = {}) => ({ ...(fixtureJson('binance/ws-mini-ticker-btcusdt.json') as object), ...over });

  it('subscribes through ccxt pro and turns pushed tickers into quotes with the event time', async () => {
    fake = await startFakeBinance();
    const src = new CcxtWsSource({ exchange: 'binance', symbols: ['BTC/USDT'], mode: 'ws', options: fake.ccxtOptions, pollCron: null, watchdogMs: 60_000, backoff: { initialMs: 10, maxMs: 50 }, receiptTime: false, clock: () => 1_764_000_061_000 });
    stopSource = () => src.stop();
    const c = collect();
    await src.start(c.emit);
    await until(() => fake!.subscriptions.length > 0, 'a subscription');
    // ccxt pro binance watchTickers subscribes to the mini ticker stream (js/src/pro/binance.js)
    expect(fake.subscriptions).toEqual(['btcusdt@miniTicker']);
    fake.ws.broadcast(wsTick());
    await until(() => c.quotes().length === 1, 'a quote');
    expect(c.quotes()[0]).toMatchObject({ instrument: 'BTC', price: 86_420.1, source: 'binance', tsSource: 'source', receivedAt: 1_764_000_061_000 });
    expect(c.quotes()[0].ts).toBe(1_764_000_060_000);
  });

  it('reconnects after the server drops the connection and resumes quoting', async () => {
    fake = await startFakeBinance();
    const src = new CcxtWsSource({ exchange: 'binance', symbols: ['BTC/USDT'], mode: 'ws', options: fake.ccxtOptions, pollCron: null, watchdogMs: 60_000, backoff: { initialMs: 10, maxMs: 50 }, receiptTime: false });
    stopSource = () => src.stop();
    const c = collect();
    await src.start(c.emit);
    await until(() => fake!.subscriptions.length === 1, 'first subscription');
    fake.ws.broadcast(wsTick());
    await until(() => c.quotes().length === 1, 'first quote');
    fake.ws.dropAll();
    await until(() => fake!.subscriptions.length === 2, 'subscription after reconnect');
    fake.ws.broadcast(wsTick({ c: '86500.00000000', E: 1_764_000_120_000 }));
    await until(() => c.quotes().length === 2, 'quote after reconnect');
    expect(c.quotes()[1].price).toBe(86_500);
    expect(c.events.filter((e) => e.kind === 'reconnect')).toHaveLength(1);
    expect(fake.ws.connections).toBe(2);
  });

  it('reconnects when the stream goes silent longer than the watchdog allows, and counts it', async () => {
    fake = await startFakeBinance();
    const src = new CcxtWsSource({ exchange: 'binance', symbols: ['BTC/USDT'], mode: 'ws', options: fake.ccxtOptions, pollCron: null, watchdogMs: 150, backoff: { initialMs: 10, maxMs: 50 }, receiptTime: false });
    stopSource = () => src.stop();
    const c = collect();
    await src.start(c.emit);
    await until(() => c.events.some((e) => e.kind === 'reconnect'), 'a watchdog reconnect');
    const r = c.events.find((e) => e.kind === 'reconnect');
    expect(r).toMatchObject({ reason: 'no tick for 150 ms' });
    expect(c.events.some((e) => e.kind === 'down')).toBe(false);
    await until(() => fake!.ws.connections >= 2, 'a second connection');
  });
});
