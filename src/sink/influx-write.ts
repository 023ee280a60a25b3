import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/**
 * POST /write of a body of line protocol (line-protocol.ts) to InfluxDB 1.x, on a keep-alive
 * agent of its own: the write pipeline's lanes write at once, each on a connection kept open. npm
 * `influx`'s pool (which InfluxSink keeps for queries) encodes each body twice, once only to count
 * its bytes; here the body comes encoded. Retries are the caller's (InfluxSink.withRetry), which
 * reads the failures as npm `influx`'s: a socket error keeps its `code`, a status other than 2xx
 * is an InfluxHttpError with `statusCode` and InfluxDB's answer in the message.
 */
export interface InfluxWriterOptions {
  readonly url: URL;
  readonly username: string;
  readonly password: string;
  readonly database: string;
  readonly retentionPolicy: string;
  readonly timeoutMs: number;
}

/** A request InfluxDB answered with a status other than 2xx. */
export class InfluxHttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'InfluxHttpError';
  }
}

/** The HTTP status of a failed request: an InfluxHttpError's, or npm influx's RequestError's (`res`). */
export function statusOf(err: unknown): number | undefined {
  if (err instanceof InfluxHttpError) return err.statusCode;
  const status = (err as { res?: { statusCode?: number } } | null)?.res?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** InfluxDB's answer kept in an error message, at most. */
const ANSWER_CHARS = 4096;

export class InfluxWriter {
  private readonly https: boolean;
  private readonly path: string;
  private readonly authorization: string;
  private readonly agent: HttpAgent;

  constructor(private readonly o: InfluxWriterOptions) {
    this.https = o.url.protocol === 'https:';
    const query = new URLSearchParams({ db: o.database, rp: o.retentionPolicy, precision: 'ms' });
    const base = o.url.pathname === '/' ? '' : o.url.pathname.replace(/\/$/, '');
    this.path = `${base}/write?${query.toString()}`;
    this.authorization = `Basic ${Buffer.from(`${o.username}:${o.password}`).toString('base64')}`;
    this.agent = this.https ? new HttpsAgent({ keepAlive: true, maxSockets: 4 }) : new HttpAgent({ keepAlive: true, maxSockets: 4 });
  }

  /** Resolves once InfluxDB answers 2xx (the points are durable); rejects with the status or the socket's error. */
  post(body: Buffer): Promise<void> {
    const u = this.o.url;
    const timeoutMs = this.o.timeoutMs;
    return new Promise<void>((resolve, reject) => {
      const req = (this.https ? httpsRequest : httpRequest)(
        {
          hostname: u.hostname,
          port: Number(u.port || (this.https ? 443 : 8086)),
          path: this.path,
          method: 'POST',
          agent: this.agent,
          headers: { 'content-type': 'text/plain; charset=utf-8', 'content-length': body.length, authorization: this.authorization },
        },
        (res: IncomingMessage) => {
          const status = res.statusCode ?? 0;
          res.on('error', reject);
          if (status >= 200 && status < 300) {
            res.on('end', () => resolve());
            res.resume();
            return;
          }
          let answer = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            if (answer.length < ANSWER_CHARS) answer += chunk;
          });
          res.on('end', () => reject(new InfluxHttpError(status, `A ${status} ${res.statusMessage ?? ''} error occurred: ${answer.trim()}`)));
        },
      );
      req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error(`Request timed out after ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Closes the kept-alive connections. */
  close(): void {
    this.agent.destroy();
  }
}
