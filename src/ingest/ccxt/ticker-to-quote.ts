import type { Mapped } from '../quote-source.ts';
import { quoted, rejected } from '../quote-source.ts';

/**
 * ccxt unified ticker -> quote. Only the fields we read (ccxt's `Ticker`): symbol, timestamp, last,
 * close. USDT and USDC quotes count as USD (shared/DOMAIN.md), so `BTC/USDT` becomes instrument `BTC`.
 *
 * Event time: the exchange's `timestamp` when ccxt has one (tsSource `source`). Some exchanges'
 * parseTicker leaves it undefined (ccxt 4.5.84: kraken.js and pro/kraken.js `'timestamp': undefined`,
 * bitfinex.js the same): those are stamped with receipt time (tsSource `receipt`), as are exchanges
 * listed in `receiptTime` (config ingest.crypto.receiptTimeExchanges).
 */
export interface TickerLike {
  readonly symbol?: string;
  readonly timestamp?: number;
  readonly last?: number;
  readonly close?: number;
}

export const USD_QUOTES = ['USD', 'USDT', 'USDC'] as const;
const BASES: Readonly<Record<string, 'BTC' | 'ETH'>> = { BTC: 'BTC', XBT: 'BTC', ETH: 'ETH' };

/** `BTC/USDT` -> `BTC`; null for a pair we do not track. */
export function symbolToInstrument(symbol: string): 'BTC' | 'ETH' | null {
  const [base, quote] = symbol.split(/[/:]/);
  if (!base || !quote || !(USD_QUOTES as readonly string[]).includes(quote)) return null;
  return BASES[base] ?? null;
}

export function tickerToQuote(t: TickerLike, o: { exchange: string; receivedAt: number; receiptTime: boolean }): Mapped {
  const symbol = t.symbol ?? '';
  const instrument = symbolToInstrument(symbol);
  if (instrument === null) return rejected(`${o.exchange}: symbol ${JSON.stringify(symbol)} is not BTC or ETH against USD, USDT or USDC`, t);
  const price = typeof t.last === 'number' ? t.last : t.close;
  if (typeof price !== 'number') return rejected(`${o.exchange}: ticker ${symbol} has no last price`, t);
  const fromSource = !o.receiptTime && typeof t.timestamp === 'number' && Number.isFinite(t.timestamp);
  return quoted(
    {
      v: 1,
      instrument,
      price,
      source: o.exchange,
      ts: fromSource ? (t.timestamp as number) : o.receivedAt,
      tsSource: fromSource ? 'source' : 'receipt',
      receivedAt: o.receivedAt,
    },
    { symbol, timestamp: t.timestamp, last: t.last, close: t.close },
  );
}
