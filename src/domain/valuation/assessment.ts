import { DAYS_PER_REVENUE_MONTH, MS_PER_DAY } from '../calendar.ts';

/** The scratch of one pass of the fast valuation (fast-valuation.ts) over a sheet, and what the passes share. */

export const MS_PER_REVENUE_MONTH = DAYS_PER_REVENUE_MONTH * MS_PER_DAY;

/** An index value, or undefined when the market lacks it (a missing index is absent, never 0). */
export const indexOf = (rec: Readonly<Record<string, number>>, key: string): number | undefined => {
  const v = rec[key];
  return typeof v === 'number' ? v : undefined;
};

/**
 * One pass over the sheet at a (possibly shocked) market: what valuation and stress both need.
 * Scratch space, reused from call to call (two of them: the base valuation's and the stress
 * scenarios'): allocating these small arrays on every revaluation cost more than filling them.
 * `valueEntity` copies out what it reports before it returns, so nothing of it escapes a call.
 */
export class Assessment {
  itemMv = new Float64Array(8);
  itemLv = new Float64Array(8);
  itemHaircut = new Float64Array(8);
  itemByModel = new Uint8Array(8);
  itemPledgedOut = new Float64Array(8);
  /** Per item, the forward twelve months: FWD_NONE (count 0), FWD_VALUE, or FWD_MISSING (an index is missing). */
  itemFwd = new Uint8Array(8);
  /** Per item with FWD_VALUE: what it adds to noi12 and to the spot revenue. */
  itemNoi = new Float64Array(8);
  itemSpot = new Float64Array(8);
  /** Per facility: its share of collateral MV / LV / MV in twelve months; facNull = 1 when an index is missing (all three null). */
  facCv = new Float64Array(4);
  facLv = new Float64Array(4);
  facCv12 = new Float64Array(4);
  facNull = new Uint8Array(4);
  cryptoValue: number | null = null;
  /** Outstanding of the facilities pledging all of a coin, and the units of its lots (BTC, ETH). */
  wholeOutBtc = 0;
  wholeOutEth = 0;
  lotsBtc = 0;
  lotsEth = 0;
  unpledgedCrypto: number | null = null;
  collateralValue: number | null = null;
  liquidationValue: number | null = null;
  noi12: number | null = null;
  /** Spot rental revenue of the twelve months (B of the break-even, DOMAIN.md). */
  spotRevenue12 = 0;

  /** Makes room for a sheet; zeroes what the pass accumulates into. */
  reset(nItems: number, nFac: number): void {
    if (this.itemMv.length < nItems) {
      const n = Math.max(nItems, this.itemMv.length * 2);
      this.itemMv = new Float64Array(n);
      this.itemLv = new Float64Array(n);
      this.itemHaircut = new Float64Array(n);
      this.itemByModel = new Uint8Array(n);
      this.itemPledgedOut = new Float64Array(n);
      this.itemFwd = new Uint8Array(n);
      this.itemNoi = new Float64Array(n);
      this.itemSpot = new Float64Array(n);
    }
    if (this.facCv.length < nFac) {
      const n = Math.max(nFac, this.facCv.length * 2);
      this.facCv = new Float64Array(n);
      this.facLv = new Float64Array(n);
      this.facCv12 = new Float64Array(n);
      this.facNull = new Uint8Array(n);
    }
    this.itemByModel.fill(0, 0, nItems);
    this.itemPledgedOut.fill(0, 0, nItems);
  }
}

export const FWD_NONE = 0;
export const FWD_VALUE = 1;
export const FWD_MISSING = 2;
