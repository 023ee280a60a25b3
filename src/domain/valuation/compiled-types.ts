import type { Covenants, SheetVersion } from '../sheet/sheet.ts';

/** The compiled form of a sheet version at an instant (compiled.ts, where its contract is written). */

export interface CompiledItem {
  readonly id: string;
  readonly model: string;
  readonly isGpu: boolean;
  readonly count: number;
  /** Input (index into `inputs`) of the item's resale index; -1 when the market had none: valued by model. */
  readonly resaleInput: number;
  /** The model value (count x cost x depreciation) at `atMs` and at `untilMs`; 0 when valued by market. */
  readonly modelValueAt: number;
  readonly modelValueUntil: number;
  readonly haircut: number;
  /** Pledged to a secured facility that owes: counted (once) in the entity's collateral. */
  readonly pledged: boolean;
}

/** A pledge of a facility that owes: a share of a fleet item, or units of a coin. */
export type CompiledPledge =
  | { readonly kind: 'item'; readonly item: number; readonly share: number }
  | { readonly kind: 'coin'; readonly input: number; readonly units: number };

export interface CompiledFacility {
  readonly id: string;
  readonly outstanding: number;
  readonly secured: boolean;
  readonly covenants: Covenants;
  /** Empty unless the facility is secured and owes (a repaid facility releases its pledges). */
  readonly pledges: readonly CompiledPledge[];
}

export interface CompiledCoin {
  /** Input of the coin's price; -1 when the sheet holds none. */
  readonly input: number;
  readonly held: number;
  /** Units pledged to facilities that owe. */
  readonly pledged: number;
}

export interface CompiledNoi {
  /** Contracted revenue less opex and fixed costs: what does not move with any index. */
  readonly constant: number;
  /** noi12 += coef x rental index. */
  readonly rental: ReadonlyArray<{ readonly input: number; readonly coef: number }>;
  /** noi12 += sum over months of max(0, alpha[m] x hashprice - beta), per ASIC item. */
  readonly hash: ReadonlyArray<{ readonly input: number; readonly alpha: Float64Array; readonly beta: number }>;
  /** The sum of the terms' magnitudes at the compile-time prices: the scale of noi12's rounding. */
  readonly magnitude: number;
}

export interface CompiledEntity {
  readonly entity: string;
  readonly sheet: SheetVersion;
  readonly atMs: number;
  readonly untilMs: number;
  /** The instruments whose prices the form reads (the sheet's exposure, sorted). */
  readonly inputs: readonly string[];
  /** Each input's price in the compile-time market; NaN when it had none. */
  readonly prices: Float64Array;
  readonly items: readonly CompiledItem[];
  readonly facilities: readonly CompiledFacility[];
  /** BTC, then ETH. */
  readonly coins: readonly [CompiledCoin, CompiledCoin];
  /** null when an index noi12 needs has no price. */
  readonly noi: CompiledNoi | null;
  readonly debtService12: number;
  /** The largest dscrMin of facilities that owe (null without one). */
  readonly dscrMin: number | null;
  readonly securedDebt: number;
  readonly cryptoHaircut: number;
}
