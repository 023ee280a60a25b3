import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { BoardState } from './board-state.ts';
import { ErrorCode, MonitorError } from '../domain/errors.ts';
import { BOARD_FLUSH_MS } from './protocol.ts';

/**
 * The board on the HTTP server `ccm run`, `ccm process` and `ccm replay --board` already run
 * (docs/board.md): `/` the page, `/board.js` and `/board.css` its bundle, `/ws` the stream (ws, noServer). Read-only.
 *
 * Slow clients: every flush sends each client the same conflated deltas (board-state.ts); a
 * client whose socket holds more than `MAX_BUFFERED_BYTES` unsent is not sent deltas but marked
 * stale, and gets a fresh snapshot once it has drained (it never makes the server buffer without
 * bound); one past `DROP_BUFFERED_BYTES` is closed (the page reconnects and resumes from a
 * snapshot). What a client sends is ignored; a socket error closes that client only.
 *
 * Security: on a loopback address nothing more; bound to any other address, `CCM_BOARD_TOKEN` is
 * required (the server refuses to start without it), on the page (`?token=`) and the upgrade,
 * compared in constant time; the upgrade's `Origin` must be the board's own; every page response
 * carries a strict Content-Security-Policy.
 */
export const MAX_BUFFERED_BYTES = 1 << 20;
export const DROP_BUFFERED_BYTES = 8 << 20;
export const BOARD_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export interface BoardServerOptions {
  readonly state: BoardState;
  readonly page: () => Promise<{ html: string; js: string; css: string }>;
  /** Required when the server is not on loopback. */
  readonly token?: string;
  readonly loopback: boolean;
  readonly flushMs?: number;
}

/**
 * What the server did for its clients since it started: what the bench reads and what the
 * slow-consumer test checks (the protocol is unchanged). `maxBufferedBytes` is the largest
 * `bufferedAmount` of any socket, seen at a flush and right after each send.
 */
export interface BoardServerStats {
  /** Messages handed to sockets (snapshots included), and their bytes. */
  messagesSent: number;
  bytesSent: number;
  /** Flushes whose deltas a lagging client did not get (conflated into its next snapshot). */
  deltasWithheld: number;
  /** Snapshots sent to a client once it had drained, in place of the deltas it missed. */
  snapshotsResent: number;
  /** Clients closed for holding more than DROP_BUFFERED_BYTES unsent. */
  clientsDropped: number;
  maxBufferedBytes: number;
}

interface Client {
  readonly ws: WebSocket;
  stale: boolean;
}

const isLoopbackHost = (host: string): boolean => host === '127.0.0.1' || host === 'localhost' || host === '::1' || host.startsWith('127.');

export function isLoopback(address: string): boolean {
  return isLoopbackHost(address);
}

export class BoardServer {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });
  private readonly clients = new Set<Client>();
  private readonly timer: NodeJS.Timeout;
  readonly stats: BoardServerStats = { messagesSent: 0, bytesSent: 0, deltasWithheld: 0, snapshotsResent: 0, clientsDropped: 0, maxBufferedBytes: 0 };

  constructor(private readonly o: BoardServerOptions) {
    if (!o.loopback && (o.token === undefined || o.token.length < 16)) {
      throw new MonitorError('environment CCM_BOARD_TOKEN: required (16 characters at least) when the board is served on an address other than loopback (http.address)', { code: ErrorCode.USAGE });
    }
    this.timer = setInterval(() => this.flush(), o.flushMs ?? BOARD_FLUSH_MS);
    this.timer.unref();
  }

  get clientCount(): number {
    return this.clients.size;
  }

  private authorised(url: URL): boolean {
    if (this.o.loopback) return true;
    const given = Buffer.from(url.searchParams.get('token') ?? '');
    const want = Buffer.from(this.o.token ?? '');
    return given.length === want.length && timingSafeEqual(given, want);
  }

  /** Serves `/` and `/board.js`; false for any other path (the caller's 404). */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = new URL(req.url ?? '/', 'http://board');
    if (url.pathname !== '/' && url.pathname !== '/board.js' && url.pathname !== '/board.css') return false;
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' }).end();
      return true;
    }
    if (url.pathname === '/' && !this.authorised(url)) {
      res.writeHead(401, { 'content-type': 'text/plain' }).end('token required (CCM_BOARD_TOKEN): open the URL ccm printed\n');
      return true;
    }
    void this.o.page().then(
      ({ html, js, css }) => {
        const headers = { 'content-security-policy': BOARD_CSP, 'x-content-type-options': 'nosniff', 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' };
        if (url.pathname === '/') res.writeHead(200, { ...headers, 'content-type': 'text/html; charset=utf-8' }).end(html);
        else if (url.pathname === '/board.css') res.writeHead(200, { ...headers, 'content-type': 'text/css; charset=utf-8' }).end(css);
        else res.writeHead(200, { ...headers, 'content-type': 'text/javascript; charset=utf-8' }).end(js);
      },
      (e: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`board page not built: ${(e as Error).message}\n`),
    );
    return true;
  }

  /** The `/ws` upgrade; false for any other path. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const url = new URL(req.url ?? '/', 'http://board');
    if (url.pathname !== '/ws') return false;
    const origin = req.headers.origin;
    const host = req.headers.host;
    if (!this.authorised(url) || (origin !== undefined && host !== undefined && origin !== `http://${host}`)) {
      socket.end('HTTP/1.1 403 Forbidden\r\nconnection: close\r\n\r\n');
      return true;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.connected(ws));
    return true;
  }

  private connected(ws: WebSocket): void {
    const c: Client = { ws, stale: false };
    this.clients.add(c);
    ws.on('message', () => undefined); // read-only: a page's frames (or garbage) are ignored
    ws.on('error', () => ws.terminate());
    ws.on('close', () => this.clients.delete(c));
    this.send(c, JSON.stringify(this.o.state.snapshot()));
  }

  private send(c: Client, data: string): void {
    if (c.ws.readyState !== c.ws.OPEN) return;
    c.ws.send(data, (err) => {
      if (err) c.ws.terminate();
    });
    this.stats.messagesSent++;
    this.stats.bytesSent += Buffer.byteLength(data);
    this.seen(c.ws.bufferedAmount);
  }

  private seen(buffered: number): void {
    if (buffered > this.stats.maxBufferedBytes) this.stats.maxBufferedBytes = buffered;
  }

  /** Sends the conflated deltas to every client that keeps up; a lagging one gets a snapshot once it drained. */
  flush(): void {
    const deltas = this.o.state.takeDeltas().map((m) => JSON.stringify(m));
    for (const c of this.clients) {
      const buffered = c.ws.bufferedAmount;
      this.seen(buffered);
      if (buffered > DROP_BUFFERED_BYTES) {
        this.stats.clientsDropped++;
        c.ws.terminate();
        continue;
      }
      if (buffered > MAX_BUFFERED_BYTES) {
        c.stale = true;
        if (deltas.length > 0) this.stats.deltasWithheld++;
        continue;
      }
      if (c.stale) {
        c.stale = false;
        this.stats.snapshotsResent++;
        this.send(c, JSON.stringify(this.o.state.snapshot()));
        continue;
      }
      for (const d of deltas) this.send(c, d);
    }
  }

  /**
   * Stops serving: the deltas not flushed yet go out first, then each socket is closed (1001,
   * going away) behind them, so a page keeps the final state of a run that stopped; a socket that
   * has not closed a second later is ended.
   */
  close(): void {
    clearInterval(this.timer);
    this.flush();
    for (const c of this.clients) {
      c.ws.close(1001, 'the board stopped');
      setTimeout(() => c.ws.terminate(), 1000).unref();
    }
    this.wss.close();
  }
}
