import { z } from 'zod';

/**
 * A market snapshot (shared/DOMAIN.md "Market state"), as used by `ccm value` and tests:
 * `{ at, crypto: { BTC, ETH }, rental: { <model>: usdPerGpuHour }, resale: { <model>: usdPerUnit }, hashprice }`.
 * A missing index is simply absent (never 0).
 */
export const MarketSnapshotSchema = z.strictObject({
  at: z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO date-time'),
  crypto: z.record(z.string(), z.number().positive()).default({}),
  rental: z.record(z.string(), z.number().positive()).default({}),
  resale: z.record(z.string(), z.number().positive()).default({}),
  hashprice: z.number().positive().optional(),
});
export type MarketSnapshotFile = z.infer<typeof MarketSnapshotSchema>;

/** The market as the valuation reads it: plain maps of index values. */
export interface Market {
  readonly crypto: Readonly<Record<string, number>>;
  readonly rental: Readonly<Record<string, number>>;
  readonly resale: Readonly<Record<string, number>>;
  readonly hashprice: number | null;
}

export const toMarket = (f: MarketSnapshotFile): Market => ({
  crypto: f.crypto,
  rental: f.rental,
  resale: f.resale,
  hashprice: f.hashprice ?? null,
});
