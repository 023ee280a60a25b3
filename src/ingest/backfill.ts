import ccxt from 'ccxt';
import type { Exchange, OHLCV } from 'ccxt';
import type { Quote } from '../domain/market/quote.ts';
import { MonitorError, ErrorCode } from '../domain/errors.ts';
import { symbolToInstrument } from './ccxt/ticker-to-quote.ts';
import { checkQuote, type PriceBounds } from './check-quote.ts';

/**
 * History from exchange candles (the issue "Ingestors" item 5): page through ccxt `fetchOHLCV` from
 * `fromMs` to `toMs` (exclusive), `since` = last candle + one timeframe (shared/notes/sources.md 5.2),
 * within the exchange's rate limit (ccxt's own limiter, enableRateLimit). Each candle becomes a quote
 * at the candle's CLOSE time (open time + timeframe) with its close price: the price was only known
 * then, so a replay never sees a price before it existed. Edge checks run in history mode (bounds,
 * finite, positive; no future or staleness checks).
 */
export interface BackfillOptions {
  readonly exchange: string;
  readonly symbols: readonly string[];
  readonly timeframe: string;
  readonly fromMs: number;
  readonly toMs: number;
  /** ccxt constructor options (from ingest.crypto.exchanges[].options: urls, options). */
  readonly ccxtOptions?: Readonly<Record<string, unknown>>;
  readonly bounds: Readonly<Record<string, PriceBounds>>;
  readonly receivedAt: number;
  /** Called after each page with candles done and the expected total. */
  readonly onProgress?: (done: number, total: number) => void;
}

export interface BackfillResult {
  /** In event-time order (ties by instrument). */
  readonly quotes: Quote[];
  readonly rejects: { readonly reason: string; readonly raw: unknown }[];
  readonly pages: number;
}

type ExchangeCtor = new (config: Record<string, unknown>) => Exchange;

export function newRestExchange(name: string, options: Readonly<Record<string, unknown>> = {}): Exchange {
  const ctor = (ccxt as unknown as Record<string, ExchangeCtor | undefined>)[name];
  if (typeof ctor !== 'function' || !(ccxt.exchanges as string[]).includes(name)) {
    throw new MonitorError(`unknown exchange "${name}" (ccxt ids such as binance, kraken, coinbase, bitstamp)`, { code: ErrorCode.USAGE });
  }
  return new ctor({ enableRateLimit: true, ...options });
}

/** The most candles one fetchOHLCV call returns (the exchange's `features` block), else 500. */
export function ohlcvPageLimit(ex: Exchange): number {
  const f = (ex as unknown as { features?: { spot?: { fetchOHLCV?: { limit?: number } } } }).features;
  const limit = f?.spot?.fetchOHLCV?.limit;
  return typeof limit === 'number' && limit > 0 ? limit : 500;
}

export async function backfill(o: BackfillOptions): Promise<BackfillResult> {
  const ex = newRestExchange(o.exchange, o.ccxtOptions);
  try {
    if (!ex.has.fetchOHLCV) throw new MonitorError(`${o.exchange} has no fetchOHLCV in ccxt`, { code: ErrorCode.USAGE });
    if (!(o.timeframe in (ex.timeframes ?? {}))) {
      throw new MonitorError(`--timeframe ${o.timeframe}: ${o.exchange} offers ${Object.keys(ex.timeframes ?? {}).join(', ')}`, { code: ErrorCode.USAGE });
    }
    const tfMs = ex.parseTimeframe(o.timeframe) * 1000;
    await ex.loadMarkets();
    for (const s of o.symbols) {
      if (symbolToInstrument(s) === null) throw new MonitorError(`--symbols: ${s} is not BTC or ETH against USD, USDT or USDC`, { code: ErrorCode.USAGE });
      if (!ex.markets?.[s]) throw new MonitorError(`--symbols: ${o.exchange} does not list ${s}`, { code: ErrorCode.USAGE });
    }
    const limit = ohlcvPageLimit(ex);
    const total = Math.max(1, Math.ceil((o.toMs - o.fromMs) / tfMs)) * o.symbols.length;
    const quotes: Quote[] = [];
    const rejects: { reason: string; raw: unknown }[] = [];
    let pages = 0;
    let done = 0;
    for (const symbol of o.symbols) {
      const instrument = symbolToInstrument(symbol) as 'BTC' | 'ETH';
      let since = o.fromMs;
      while (since < o.toMs) {
        const candles: OHLCV[] = await ex.fetchOHLCV(symbol, o.timeframe, since, limit);
        pages++;
        const inRange = candles.filter((c) => typeof c[0] === 'number' && c[0] >= since && c[0] < o.toMs);
        if (inRange.length === 0) break;
        for (const c of inRange) {
          const openMs = c[0] as number;
          const q: Quote = { v: 1, instrument, price: Number(c[4]), source: o.exchange, ts: openMs + tfMs, tsSource: 'source', receivedAt: o.receivedAt };
          const ok = checkQuote(q, { nowMs: o.receivedAt, bounds: o.bounds, clockSkewMs: 0, history: true });
          if (ok.ok) quotes.push(q);
          else rejects.push({ reason: `${o.exchange} ${symbol} candle ${new Date(openMs).toISOString()}: ${ok.reason}`, raw: c });
        }
        done += inRange.length;
        o.onProgress?.(Math.min(done, total), total);
        since = (inRange[inRange.length - 1][0] as number) + tfMs;
      }
    }
    quotes.sort((a, b) => a.ts - b.ts || a.instrument.localeCompare(b.instrument));
    return { quotes, rejects, pages };
  } finally {
    await ex.close().catch(() => undefined);
  }
}
