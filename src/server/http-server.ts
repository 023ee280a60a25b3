import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * HTTP on a configurable address (127.0.0.1 by default): `/healthz` answers 200 once `ready()`
 * says so (consumers joined, sink answers), else 503; `/metrics` serves the Prometheus registries,
 * then the process's own (prom-client's default metrics: resident memory, V8 heap by space,
 * external and ArrayBuffer memory, event-loop lag, GC), what the engineer running `ccm process`
 * on a large book watches it by (docs/performance.md "memory").
 */
export interface HttpServerOptions {
  readonly address: string;
  readonly port: number;
  readonly registries: readonly Registry[];
  readonly ready: () => Promise<boolean> | boolean;
  /** The component that stopped for good, if one did: /healthz then says `failed` and names it. */
  readonly failed?: () => string | null;
  /** More routes (the board): true when it answered the request. */
  readonly routes?: (req: IncomingMessage, res: ServerResponse) => boolean;
  /** Upgrades (the board's WebSocket): true when it took the socket. */
  readonly upgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer) => boolean;
}

let processRegistry: Registry | null = null;
/** One registry of the process's default metrics per process (prom-client's collectors are per registry). */
export function processMetrics(): Registry {
  if (processRegistry === null) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export async function startHttpServer(o: HttpServerOptions): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    void (async () => {
      try {
        if (req.url === '/healthz') {
          const failed = o.failed?.() ?? null;
          const ok = failed === null && (await o.ready());
          res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
          res.end(JSON.stringify(failed === null ? { status: ok ? 'ok' : 'starting' } : { status: 'failed', component: failed }));
        } else if (req.url === '/metrics') {
          const parts = await Promise.all([...o.registries, processMetrics()].map((r) => r.metrics()));
          res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
          res.end(parts.join('\n'));
        } else if (!o.routes?.(req, res)) {
          res.writeHead(404).end();
        }
      } catch (e) {
        res.writeHead(500).end(String(e));
      }
    })();
  });
  server.on('upgrade', (req, socket, head) => {
    if (!o.upgrade?.(req, socket, head)) socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.address, () => resolve());
  });
  const a = server.address() as AddressInfo;
  return {
    server,
    url: `http://${a.address}:${a.port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
