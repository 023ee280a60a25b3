import { z } from 'zod';
import { isInstrumentId } from './instruments.ts';

/**
 * The quote message on `ccm.quotes` (ARCHITECTURE.md "Kafka contracts"), version 1:
 * `{ v: 1, instrument, price, source, ts, tsSource, receivedAt, sample? }`.
 * `ts` is the event time in ms UTC; `tsSource` says whether it came from the source or from receipt.
 * Units: crypto USD per coin, rental USD per GPU-hour, resale USD per unit, hashprice USD per TH/s per day.
 */
export const TS_SOURCE = ['source', 'receipt'] as const;
export type TsSource = (typeof TS_SOURCE)[number];

export const QuoteSchema = z.strictObject({
  v: z.literal(1),
  instrument: z.string().refine(isInstrumentId, 'must be an instrument id (BTC, ETH, rental:<model>, resale:<model>, hashprice)'),
  price: z.number().refine(Number.isFinite, 'must be finite').refine((p) => p > 0, 'must be positive'),
  source: z.string().min(1),
  ts: z.number().int().nonnegative(),
  tsSource: z.enum(TS_SOURCE),
  receivedAt: z.number().int().nonnegative(),
  sample: z.number().int().nonnegative().optional(),
  /** Set at the edge when the source's model name is not in the catalog (kept and flagged). */
  unknownModel: z.string().optional(),
});
export type Quote = z.infer<typeof QuoteSchema>;

/** Parses a decoded message; returns the quote or a reason (never throws). */
export function toQuote(value: unknown): { ok: true; quote: Quote } | { ok: false; reason: string } {
  const r = QuoteSchema.safeParse(value);
  if (r.success) return { ok: true, quote: r.data };
  const first = r.error.issues[0];
  const path = first && first.path.length > 0 ? first.path.join('.') : '(root)';
  return { ok: false, reason: `${path}: ${first?.message ?? 'invalid'}` };
}
