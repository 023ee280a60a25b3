import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { WebSocketServer, type WebSocket } from 'ws';

/**
 * Local fake servers for the ingest tests: an HTTP server whose routes answer scripted responses
 * (fixture bodies, HTTP 429 and 500, malformed bodies, slow answers, dropped connections) and a
 * websocket server (ws) on the same port. Real clients (ccxt, fetch) talk to them; nothing is mocked
 * inside the clients. Every request is logged so tests can assert what was sent.
 */
export type FakeAnswer =
  | { readonly status?: number; readonly json: unknown; readonly delayMs?: number; readonly headers?: Readonly<Record<string, string>> }
  | { readonly status?: number; readonly text: string; readonly delayMs?: number; readonly headers?: Readonly<Record<string, string>> }
  /** Closes the socket without an answer (a disconnect). */
  | { readonly destroy: true };

export interface LoggedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

type Handler = (req: LoggedRequest) => FakeAnswer;

export const fixtureJson = (rel: string): unknown => JSON.parse(readFileSync(new URL(`../fixtures/${rel}`, import.meta.url), 'utf8'));

export class FakeHttpServer {
  readonly requests: LoggedRequest[] = [];
  private readonly routes = new Map<string, Handler>();
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private constructor(readonly server: Server) {}

  static async start(): Promise<FakeHttpServer> {
    const server = createServer();
    const fake = new FakeHttpServer(server);
    server.on('request', (req, res) => fake.handle(req, res));
    server.on('connection', (s) => {
      fake.sockets.add(s);
      s.on('close', () => fake.sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Answers every request to `METHOD path` with the handler's answer. */
  route(method: string, path: string, handler: Handler): this {
    this.routes.set(`${method} ${path}`, handler);
    return this;
  }

  /** Answers requests in turn with the answers given; the last one repeats. */
  script(method: string, path: string, answers: readonly FakeAnswer[]): this {
    let i = 0;
    return this.route(method, path, () => answers[Math.min(i++, answers.length - 1)]);
  }

  hits(method: string, path: string): LoggedRequest[] {
    return this.requests.filter((r) => r.method === method && r.path === path);
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://x');
      const logged: LoggedRequest = { method: req.method ?? 'GET', path: u.pathname, query: u.searchParams, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      this.requests.push(logged);
      const h = this.routes.get(`${logged.method} ${logged.path}`);
      const answer: FakeAnswer = h ? h(logged) : { status: 404, json: { error: `no route ${logged.method} ${logged.path}` } };
      if ('destroy' in answer) {
        req.socket.destroy();
        return;
      }
      const send = (): void => {
        if (res.destroyed) return;
        const isJson = 'json' in answer;
        res.writeHead(answer.status ?? 200, { 'content-type': isJson ? 'application/json' : 'text/plain', ...(answer.headers ?? {}) });
        res.end(isJson ? JSON.stringify(answer.json) : answer.text);
      };
      if (answer.delayMs) {
        const t = setTimeout(() => {
          this.timers.delete(t);
          send();
        }, answer.delayMs);
        this.timers.add(t);
      } else send();
    });
  }
}

/** A websocket server on a FakeHttpServer's port; `onMessage` answers each client message. */
export class FakeWsServer {
  readonly wss: WebSocketServer;
  readonly received: unknown[] = [];
  connections = 0;
  constructor(http: FakeHttpServer, onMessage: (ws: WebSocket, msg: unknown) => void) {
    this.wss = new WebSocketServer({ server: http.server });
    this.wss.on('connection', (ws) => {
      this.connections++;
      ws.on('message', (data) => {
        let msg: unknown;
        try {
          msg = JSON.parse(String(data));
        } catch {
          msg = String(data);
        }
        this.received.push(msg);
        onMessage(ws, msg);
      });
    });
  }

  get clients(): WebSocket[] {
    return [...this.wss.clients];
  }

  broadcast(msg: unknown): void {
    for (const c of this.wss.clients) c.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }

  /** Drops every connection without a close handshake (a network cut). */
  dropAll(): void {
    for (const c of this.wss.clients) c.terminate();
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}

/** A daily candle in binance's kline array shape. */
export type Kline = [number, string, string, string, string, string, number, string, number, string, string, string];

/**
 * A fake binance spot: REST `/api/v3/exchangeInfo`, `/api/v3/ticker/24hr`, `/api/v3/klines` (paged by
 * startTime/endTime/limit like the real one) and the websocket stream at `/stream/ws/<n>` answering
 * SUBSCRIBE with `{"result":null,"id":...}` (shared/notes/sources.md 5.3).
 */
export interface FakeBinance {
  readonly http: FakeHttpServer;
  readonly ws: FakeWsServer;
  /** ccxt constructor options pointing binance at the fake. */
  readonly ccxtOptions: Record<string, unknown>;
  /** Subscribed stream names so far (e.g. btcusdt@ticker). */
  readonly subscriptions: string[];
  close(): Promise<void>;
}

export async function startFakeBinance(o: { klines?: ReadonlyMap<string, readonly Kline[]> } = {}): Promise<FakeBinance> {
  const http = await FakeHttpServer.start();
  const subscriptions: string[] = [];
  http.route('GET', '/api/v3/exchangeInfo', () => ({ json: fixtureJson('binance/exchange-info.json') }));
  http.route('GET', '/api/v3/ticker/24hr', (r) => {
    const all = fixtureJson('binance/ticker-24hr.json') as { symbol: string }[];
    const one = r.query.get('symbol');
    const many = r.query.get('symbols');
    if (one) return { json: all.find((t) => t.symbol === one) ?? {} };
    if (many) {
      const wanted = JSON.parse(many) as string[];
      return { json: all.filter((t) => wanted.includes(t.symbol)) };
    }
    return { json: all };
  });
  http.route('GET', '/api/v3/klines', (r) => {
    const candles = o.klines?.get(r.query.get('symbol') ?? '') ?? [];
    const start = Number(r.query.get('startTime') ?? 0);
    const end = Number(r.query.get('endTime') ?? Number.MAX_SAFE_INTEGER);
    const limit = Math.min(Number(r.query.get('limit') ?? 500), 1000);
    return { json: candles.filter((k) => k[0] >= start && k[0] <= end).slice(0, limit) };
  });
  const ws = new FakeWsServer(http, (sock, msg) => {
    const m = msg as { method?: string; params?: string[]; id?: number };
    if (m.method === 'SUBSCRIBE') {
      subscriptions.push(...(m.params ?? []));
      sock.send(JSON.stringify({ result: null, id: m.id }));
    }
  });
  const api = `${http.url}/api/v3`;
  return {
    http,
    ws,
    subscriptions,
    ccxtOptions: {
      enableRateLimit: false,
      timeout: 2000,
      options: { fetchMarkets: { types: ['spot'] }, fetchCurrencies: false },
      urls: { api: { public: api, private: api, v3: api, ws: { spot: `ws://127.0.0.1:${http.port}/stream/ws` } } },
    },
    async close() {
      await ws.close();
      await http.close();
    },
  };
}

/** Waits until `pred` holds, checking on each turn of the event loop (a wait, not a timed assertion). */
export async function until(pred: () => boolean, what: string, limitMs = 15_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
