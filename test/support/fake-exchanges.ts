import type { WebSocket } from 'ws';
import { FakeHttpServer, FakeWsServer, fixtureJson, type FakeAnswer } from './fake-servers.ts';

/**
 * Local fakes of the default crypto exchanges (src/config/ingest-schema.ts: coinbase, kraken,
 * bitstamp), serving exactly the endpoints the real ccxt 4.5.84 clients call, with the exchanges'
 * own field names and types (prices as strings where the exchange sends strings). Fixture bodies
 * live in test/fixtures/ccxt/<exchange>/. Each fake is an HTTP server (and, where ccxt pro has a
 * ticker stream, a websocket server on the same port); `ccxtOptions` points ccxt at it through the
 * deep-merged `urls.api` override (shared/notes/sources.md 5.3).
 *
 * Paths, from the ccxt sources (node_modules/ccxt/js/src):
 * - kraken.js: loadMarkets = `GET /0/public/Assets` (fetchCurrencies) then `GET /0/public/AssetPairs`;
 *   fetchTickers = `GET /0/public/Ticker?pair=XXBTZUSD,...` (sign(): `/0/public/<path>`).
 *   pro/kraken.js: websocket v2 at `urls.api.ws.publicV2`, `{"method":"subscribe","params":{"channel":
 *   "ticker","symbol":["BTC/USD"]},"req_id":n}`, tickers `{"channel":"ticker","data":[{symbol,last,...}]}`
 *   (numbers, no timestamp), JSON `{"method":"ping"}` keep-alive every 6 s answered by `{"method":"pong"}`.
 * - coinbase.js (advanced trade): fetchCurrencies = `GET /v2/currencies`, `/v2/currencies/crypto`,
 *   `/v2/exchange-rates`; fetchMarketsV3 = `GET /api/v3/brokerage/market/products` (plus two
 *   `product_type=FUTURE` calls); fetchTickersV3 = the same products list filtered by repeated
 *   `product_ids` (its entries carry no time). pro/coinbase.js: websocket at `urls.api.ws`,
 *   `{"type":"subscribe","product_ids":["BTC-USD"],"channel":"ticker_batch"}`, tickers in
 *   `{"channel":"ticker_batch","timestamp":"<RFC 3339>","events":[{"tickers":[...]}]}`: the envelope
 *   timestamp is the event time ccxt gives the ticker.
 * - bitstamp.js: loadMarkets = `GET /api/v2/markets/` (for currencies and markets, cached 1 s);
 *   fetchTickers = `GET /api/v2/ticker/` (all pairs, `timestamp` in seconds as a string, `pair`
 *   `BTC/USD`); fetchTicker = `GET /api/v2/ticker/btcusd/`. pro/bitstamp.js has no ticker channel, so bitstamp is REST only.
 */
export type FakeExchangeId = 'kraken' | 'coinbase' | 'bitstamp';

export interface FakeExchange {
  readonly id: FakeExchangeId;
  readonly http: FakeHttpServer;
  /** Null for bitstamp (no ticker stream in ccxt pro). */
  readonly ws: FakeWsServer | null;
  /** ccxt constructor options pointing the exchange at the fake. */
  readonly ccxtOptions: Record<string, unknown>;
  /** Websocket subscribe requests received so far, as parsed JSON. */
  readonly subscriptions: unknown[];
  /** Answers the ticker endpoint gives, in turn, before its normal answer (e.g. an HTTP 500). */
  readonly tickerFailures: FakeAnswer[];
  /** JSON pings answered (kraken). */
  readonly pings: number;
  close(): Promise<void>;
}

/** A fixture body of test/fixtures/ccxt/<exchange>/, parsed. */
export const exchangeFixture = (exchange: FakeExchangeId, file: string): unknown => fixtureJson(`ccxt/${exchange}/${file}`);
const fixture = exchangeFixture;

export async function startFakeExchange(id: FakeExchangeId): Promise<FakeExchange> {
  if (id === 'kraken') return startFakeKraken();
  if (id === 'coinbase') return startFakeCoinbase();
  return startFakeBitstamp();
}

interface Parts {
  readonly http: FakeHttpServer;
  readonly ws: FakeWsServer | null;
  readonly ccxtOptions: Record<string, unknown>;
  readonly subscriptions: unknown[];
  readonly tickerFailures: FakeAnswer[];
  readonly pings: () => number;
}

function fake(id: FakeExchangeId, { http, ws, ccxtOptions, subscriptions, tickerFailures, pings }: Parts): FakeExchange {
  return {
    id,
    tickerFailures,
    http,
    ws,
    ccxtOptions,
    subscriptions,
    get pings() {
      return pings();
    },
    async close() {
      await ws?.close();
      await http.close();
    },
  };
}

const send = (sock: WebSocket, msg: unknown): void => sock.send(JSON.stringify(msg));

/** The next scripted failure, if any, else the normal answer. */
const orFailure = (failures: FakeAnswer[], answer: () => FakeAnswer): FakeAnswer => failures.shift() ?? answer();

export async function startFakeKraken(): Promise<FakeExchange> {
  const http = await FakeHttpServer.start();
  const tickerFailures: FakeAnswer[] = [];
  http.route('GET', '/0/public/Assets', () => ({ json: fixture('kraken', 'assets.json') }));
  http.route('GET', '/0/public/AssetPairs', () => ({ json: fixture('kraken', 'asset-pairs.json') }));
  http.route('GET', '/0/public/Ticker', (r) => orFailure(tickerFailures, () => {
    const all = fixture('kraken', 'ticker.json') as { error: string[]; result: Record<string, unknown> };
    const pairs = (r.query.get('pair') ?? '').split(',').filter((p) => p !== '');
    if (pairs.length === 0) return { json: all };
    const unknown = pairs.find((p) => !(p in all.result));
    // kraken answers HTTP 200 with an error list for an unknown pair
    if (unknown !== undefined) return { json: { error: ['EQuery:Unknown asset pair'] } };
    return { json: { error: [], result: Object.fromEntries(pairs.map((p) => [p, all.result[p]])) } };
  }));
  const subscriptions: unknown[] = [];
  let pings = 0;
  const ws = new FakeWsServer(http, (sock, msg) => {
    const m = msg as { method?: string; req_id?: number; params?: { channel?: string; symbol?: string[] } };
    const now = new Date().toISOString();
    if (m.method === 'ping') {
      pings++;
      send(sock, { method: 'pong', req_id: m.req_id, time_in: now, time_out: now });
    } else if (m.method === 'subscribe') {
      subscriptions.push(msg);
      for (const symbol of m.params?.symbol ?? []) {
        send(sock, { method: 'subscribe', req_id: m.req_id, result: { channel: m.params?.channel, snapshot: true, symbol }, success: true, time_in: now, time_out: now });
      }
    }
  });
  // the real v2 endpoint greets every connection with a status message
  ws.wss.on('connection', (sock) => send(sock, { channel: 'status', type: 'update', data: [{ api_version: 'v2', connection_id: 1, system: 'online', version: '2.0.10' }] }));
  const base = http.url;
  const wsBase = `ws://127.0.0.1:${http.port}/kraken`;
  const ccxtOptions = { enableRateLimit: false, timeout: 2000, urls: { api: { public: base, private: base, ws: { public: wsBase, publicV2: `${wsBase}/v2` } } } };
  return fake('kraken', { http, ws, ccxtOptions, subscriptions, tickerFailures, pings: () => pings });
}

/** A kraken websocket v2 ticker update for `symbol` (a ws name such as `BTC/USD`) at `last`. */
export function krakenWsTicker(symbol: string, last: number): unknown {
  const t = fixture('kraken', 'ws-v2-ticker-btcusd.json') as { data: Record<string, unknown>[] };
  return { ...t, data: [{ ...t.data[0], symbol, last }] };
}

export async function startFakeCoinbase(): Promise<FakeExchange> {
  const http = await FakeHttpServer.start();
  const tickerFailures: FakeAnswer[] = [];
  http.route('GET', '/v2/currencies', () => ({ json: fixture('coinbase', 'currencies.json') }));
  http.route('GET', '/v2/currencies/crypto', () => ({ json: fixture('coinbase', 'currencies-crypto.json') }));
  http.route('GET', '/v2/exchange-rates', () => ({ json: fixture('coinbase', 'exchange-rates.json') }));
  http.route('GET', '/api/v3/brokerage/market/products', (r) => {
    const all = fixture('coinbase', 'products.json') as { products: { product_id: string; product_type: string }[] };
    const type = r.query.get('product_type');
    const ids = r.query.getAll('product_ids');
    const products = all.products.filter((p) => (type === null || p.product_type === type) && (ids.length === 0 || ids.includes(p.product_id)));
    const answer = (): FakeAnswer => ({ json: { products, num_products: products.length } });
    // fetchTickers is the call with product_ids; loadMarkets lists without them
    return ids.length > 0 ? orFailure(tickerFailures, answer) : answer();
  });
  const subscriptions: unknown[] = [];
  const ws = new FakeWsServer(http, (sock, msg) => {
    const m = msg as { type?: string; channel?: string; product_ids?: string[] };
    if (m.type === 'subscribe' && typeof m.channel === 'string') {
      subscriptions.push(msg);
      send(sock, { channel: 'subscriptions', client_id: '', timestamp: new Date().toISOString(), sequence_num: 0, events: [{ subscriptions: { [m.channel]: m.product_ids ?? [] } }] });
    }
  });
  const ccxtOptions = { enableRateLimit: false, timeout: 2000, urls: { api: { rest: http.url, ws: `ws://127.0.0.1:${http.port}/coinbase` } } };
  return fake('coinbase', { http, ws, ccxtOptions, subscriptions, tickerFailures, pings: () => 0 });
}

/** A coinbase advanced trade `ticker_batch` message for `productId` (e.g. `BTC-USD`) at `price`, stamped `timestamp` (ms). */
export function coinbaseWsTicker(productId: string, price: string, timestamp: number): unknown {
  const t = fixture('coinbase', 'ws-ticker-batch-btcusd.json') as { events: { type: string; tickers: Record<string, unknown>[] }[] };
  const ticker = { ...t.events[0].tickers[0], product_id: productId, price };
  return { ...t, timestamp: new Date(timestamp).toISOString(), events: [{ ...t.events[0], tickers: [ticker] }] };
}

export async function startFakeBitstamp(): Promise<FakeExchange> {
  const http = await FakeHttpServer.start();
  const tickerFailures: FakeAnswer[] = [];
  http.route('GET', '/api/v2/markets/', () => ({ json: fixture('bitstamp', 'markets.json') }));
  http.route('GET', '/api/v2/ticker/', () => orFailure(tickerFailures, () => ({ json: fixture('bitstamp', 'ticker.json') })));
  // fetchTicker(symbol): `GET /api/v2/ticker/{market_symbol}/`
  const markets = fixture('bitstamp', 'markets.json') as { name: string; market_symbol: string }[];
  for (const m of markets) {
    http.route('GET', `/api/v2/ticker/${m.market_symbol}/`, () => ({ json: (fixture('bitstamp', 'ticker.json') as { pair: string }[]).find((t) => t.pair === m.name) ?? {} }));
  }
  const api = `${http.url}/api`;
  const ccxtOptions = { enableRateLimit: false, timeout: 2000, urls: { api: { public: api, private: api } } };
  return fake('bitstamp', { http, ws: null, ccxtOptions, subscriptions: [], tickerFailures, pings: () => 0 });
}
