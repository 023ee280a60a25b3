/**
 * The latest accepted price per instrument and source, for what the ingestor derives itself
 * (hashprice from the BTC index). The index here is the plain median of fresh sources; the outlier
 * guard belongs to the market index of the valuation core.
 */
export class LatestPrices {
  private readonly byInstrument = new Map<string, Map<string, { price: number; ts: number }>>();

  update(instrument: string, source: string, price: number, ts: number): void {
    const m = this.byInstrument.get(instrument) ?? new Map<string, { price: number; ts: number }>();
    const cur = m.get(source);
    if (!cur || ts >= cur.ts) m.set(source, { price, ts });
    this.byInstrument.set(instrument, m);
  }

  /** Median of the sources' latest prices no older than maxAgeMs at nowMs; null when none. */
  median(instrument: string, nowMs: number, maxAgeMs: number): number | null {
    const xs = [...(this.byInstrument.get(instrument)?.values() ?? [])].filter((p) => nowMs - p.ts <= maxAgeMs).map((p) => p.price).sort((a, b) => a - b);
    if (xs.length === 0) return null;
    const mid = Math.floor(xs.length / 2);
    return xs.length % 2 === 1 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2;
  }
}
