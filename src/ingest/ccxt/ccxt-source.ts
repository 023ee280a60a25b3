import ccxt from 'ccxt';
import type { Exchange, Ticker } from 'ccxt';
import type { Logger } from '../../logger.ts';
import type { Emit, Mapped, QuoteSource } from '../quote-source.ts';
import { rejected } from '../quote-source.ts';
import { Backoff, sleep } from '../backoff.ts';
import { HttpAnswerError, HttpPollSource, HttpUnreachableError } from '../http-poll-source.ts';
import { tickerToQuote } from './ticker-to-quote.ts';

/**
 * Crypto tickers through ccxt (the only folder that imports ccxt: the processor must not).
 * - `ws`: ccxt pro `watchTickers` (or one `watchTicker` loop per symbol where the exchange lacks it),
 *   with a silence watchdog (no tick for `watchdogMs`: close the socket, reconnect, count it) and
 *   exponential backoff between reconnects;
 * - `rest`: `fetchTickers` / `fetchTicker` polled on a node-cron schedule, with the HttpPollSource's
 *   failure policy (ccxt NetworkError = unreachable, retried with backoff; other errors = rejected).
 * `auto` picks ws where ccxt pro has watchTicker for the exchange, else rest.
 * Symbols an exchange does not list are dropped with one warning (e.g. kraken has no BTC/USDC pair).
 */
export interface CcxtSourceOptions {
  readonly exchange: string;
  readonly symbols: readonly string[];
  readonly mode: 'auto' | 'ws' | 'rest';
  /** ccxt constructor options, deep-merged by ccxt (urls, options, timeout, enableRateLimit). */
  readonly options: Readonly<Record<string, unknown>>;
  readonly pollCron: string | null;
  readonly watchdogMs: number;
  readonly backoff: { readonly initialMs: number; readonly maxMs: number };
  readonly receiptTime: boolean;
  readonly logger?: Logger;
  readonly clock?: () => number;
}

type ExchangeCtor = new (config: Record<string, unknown>) => Exchange;

export function hasWebsocket(exchange: string): boolean {
  const ctor = (ccxt.pro as unknown as Record<string, ExchangeCtor | undefined>)[exchange];
  if (!ctor) return false;
  const has = (new ctor({}) as Exchange).has;
  return has.watchTicker === true || has.watchTickers === true;
}

export function createCcxtSource(o: CcxtSourceOptions): QuoteSource {
  const ws = o.mode === 'ws' || (o.mode === 'auto' && hasWebsocket(o.exchange));
  return ws ? new CcxtWsSource(o) : createCcxtRestSource(o);
}

function newExchange(name: string, pro: boolean, options: Readonly<Record<string, unknown>>): Exchange {
  const table = (pro ? ccxt.pro : ccxt) as unknown as Record<string, ExchangeCtor | undefined>;
  const ctor = table[name];
  if (!ctor) throw new Error(`ccxt has no ${pro ? 'websocket ' : ''}exchange "${name}"`);
  return new ctor({ enableRateLimit: true, timeout: 10_000, ...options });
}

const hasMarkets = (ex: Exchange): boolean => ex.markets !== undefined && Object.keys(ex.markets).length > 0;

/** loadMarkets caches a rejected promise until reload=true (ccxt Exchange.loadMarkets), so reload after a failure. */
async function ensureMarkets(ex: Exchange): Promise<void> {
  if (!hasMarkets(ex)) await ex.loadMarkets(true);
}

function listed(ex: Exchange, symbols: readonly string[], logger: Logger | undefined, warned: Set<string>): string[] {
  const ok = symbols.filter((s) => ex.markets?.[s] !== undefined);
  for (const s of symbols) {
    if (!ok.includes(s) && !warned.has(s)) {
      warned.add(s);
      logger?.warn({ source: ex.id, symbol: s }, 'symbol not listed on this exchange: skipped');
    }
  }
  return ok;
}

const isNetworkError = (e: unknown): boolean => e instanceof ccxt.NetworkError;
const reasonOf = (e: unknown): string => `${(e as Error).name ?? 'Error'}: ${String((e as Error).message ?? e).slice(0, 300)}`;

export function createCcxtRestSource(o: CcxtSourceOptions): HttpPollSource {
  const ex = newExchange(o.exchange, false, o.options);
  const warned = new Set<string>();
  return new HttpPollSource({
    name: o.exchange,
    cron: o.pollCron,
    timeoutMs: Number(o.options.timeout ?? 10_000),
    backoff: o.backoff,
    logger: o.logger,
    clock: o.clock,
    poll: async (_fetchJson, clock) => {
      try {
        await ensureMarkets(ex);
        const symbols = listed(ex, o.symbols, o.logger, warned);
        if (symbols.length === 0) return [rejected(`${o.exchange}: none of ${o.symbols.join(', ')} is listed`, o.symbols)];
        const tickers: Ticker[] = ex.has.fetchTickers ? Object.values(await ex.fetchTickers(symbols)) : await Promise.all(symbols.map((s) => ex.fetchTicker(s)));
        const receivedAt = clock();
        return tickers.filter((t) => symbols.includes(t.symbol ?? '')).map((t) => tickerToQuote(t, { exchange: o.exchange, receivedAt, receiptTime: o.receiptTime }));
      } catch (e) {
        if (e instanceof ccxt.RateLimitExceeded || e instanceof ccxt.DDoSProtection) throw new HttpAnswerError(reasonOf(e), 429, { error: reasonOf(e) }, true, 0);
        if (e instanceof ccxt.ExchangeNotAvailable && /\b5\d\d\b/.test(String((e as Error).message))) throw new HttpAnswerError(reasonOf(e), 500, { error: reasonOf(e) }, true, 0);
        if (isNetworkError(e)) throw new HttpUnreachableError(`${o.exchange}: ${reasonOf(e)}`);
        throw new HttpAnswerError(reasonOf(e), 0, { error: reasonOf(e) }, false, 0);
      }
    },
  });
}

export class CcxtWsSource implements QuoteSource {
  readonly name: string;
  private emit: Emit | null = null;
  private stopped = false;
  private readonly abort = new AbortController();
  private current: Exchange | null = null;
  private loop: Promise<void> | null = null;
  private watchdog: NodeJS.Timeout | null = null;
  private silent = false;
  private readonly backoff: Backoff;
  private readonly clock: () => number;
  private readonly warned = new Set<string>();

  constructor(private readonly o: CcxtSourceOptions) {
    this.name = o.exchange;
    this.backoff = new Backoff(o.backoff.initialMs, o.backoff.maxMs);
    this.clock = o.clock ?? Date.now;
  }

  async start(emit: Emit): Promise<void> {
    this.emit = emit;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    this.clearWatchdog();
    await this.current?.close().catch(() => undefined);
    await this.loop;
    this.emit = null;
  }

  private armWatchdog(): void {
    this.clearWatchdog();
    this.watchdog = setTimeout(() => {
      this.silent = true;
      void this.current?.close().catch(() => undefined);
    }, this.o.watchdogMs);
  }

  private clearWatchdog(): void {
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = null;
  }

  private async run(): Promise<void> {
    let down = false;
    while (!this.stopped) {
      let ex: Exchange;
      try {
        ex = newExchange(this.o.exchange, true, this.o.options);
      } catch (e) {
        this.emit?.({ kind: 'down', reason: reasonOf(e) });
        return;
      }
      this.current = ex;
      this.silent = false;
      let failure: string;
      try {
        // ccxt refuses plain ws:// URLs (test servers, local relays) until its http agent is loaded
        // (Exchange.getHttpAgentIfNeeded, ccxt 4.5.84); loading it is harmless for wss://.
        await ex.loadHttpProxyAgent();
        await ensureMarkets(ex);
        const symbols = listed(ex, this.o.symbols, this.o.logger, this.warned);
        if (symbols.length === 0) throw new Error(`none of ${this.o.symbols.join(', ')} is listed`);
        this.armWatchdog();
        await this.watch(ex, symbols, () => {
          if (down) this.emit?.({ kind: 'up' });
          down = false;
          this.backoff.reset();
        });
        failure = 'watch ended';
      } catch (e) {
        failure = this.silent ? `no tick for ${this.o.watchdogMs} ms` : reasonOf(e);
      }
      this.clearWatchdog();
      await ex.close().catch(() => undefined);
      if (this.stopped) return;
      if (!down && !this.silent) this.emit?.({ kind: 'down', reason: `${this.o.exchange}: ${failure}` });
      if (!this.silent) down = true;
      if (!(await sleep(this.backoff.next(), this.abort.signal))) return;
      this.emit?.({ kind: 'reconnect', reason: failure });
    }
  }

  /** Watches until an error (socket closed, watchdog, stop); every ticker re-arms the watchdog. */
  private async watch(ex: Exchange, symbols: string[], onTick: () => void): Promise<void> {
    const handle = (tickers: Ticker[]): void => {
      const receivedAt = this.clock();
      this.armWatchdog();
      onTick();
      for (const t of tickers) {
        if (!symbols.includes(t.symbol ?? '')) continue;
        const m: Mapped = tickerToQuote(t, { exchange: this.o.exchange, receivedAt, receiptTime: this.o.receiptTime });
        this.emit?.(m);
      }
    };
    if (ex.has.watchTickers) {
      while (!this.stopped) handle(Object.values(await ex.watchTickers(symbols)));
      return;
    }
    await Promise.all(
      symbols.map(async (s) => {
        while (!this.stopped) handle([await ex.watchTicker(s)]);
      }),
    );
  }
}
