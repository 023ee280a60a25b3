/**
 * The valuation of one entity at one instant (shared/DOMAIN.md "Output of ccm value --json"),
 * plus the fields lenders need beyond it (docs/valuation.md): cure amount, tenor against
 * collateral life. `null` where a formula says so; never NaN or Infinity.
 */
export const STATUS = ['ok', 'warn', 'margin_call', 'liquidation'] as const;
export type LtvStatus = (typeof STATUS)[number];
export const statusLevel = (s: LtvStatus): number => STATUS.indexOf(s);

/**
 * A status whose input is missing (an index the metric needs has no value): neither `ok` nor a
 * breach. The valuation reports it for a secured facility that owes when a pledged coin has no
 * price, and for DSCR when noi12 cannot be computed; the processor reports it for every rule its
 * alert machine has no status for yet (docs/valuation.md "Unknown statuses").
 */
export const UNKNOWN = 'unknown';
export type Unknown = typeof UNKNOWN;

/** A facility's LTV status as a valuation reports it. */
export type FacilityStatus = LtvStatus | Unknown;

export type DscrStatus = 'ok' | 'breach' | Unknown;

/** The LTV level of a status, or null when it is unknown. */
export const facilityStatusLevel = (s: FacilityStatus): number | null => (s === UNKNOWN ? null : statusLevel(s));

export interface FleetItemValuation {
  readonly id: string;
  readonly model: string;
  readonly marketValue: number | null;
  readonly liquidationValue: number | null;
  readonly haircut: number;
  readonly valuedBy: 'market' | 'model';
}

export interface FacilityValuation {
  readonly id: string;
  readonly outstanding: number;
  readonly collateralValue: number | null;
  readonly liquidationValue: number | null;
  readonly ltv: number | null;
  readonly forcedSaleLtv: number | null;
  readonly headroom: number | null;
  readonly ltvIn12m: number | null;
  readonly status: FacilityStatus;
  // beyond DOMAIN.md (issue 3b, 3c)
  readonly lender?: string | null;
  /** Collateral to add (or principal to repay) that brings LTV back to ltvRestore; 0 when at or below it. */
  readonly cureAmountUsd?: number | null;
  readonly tenorMonthsLeft?: number;
  /** Shortest remaining economic life of the pledged fleet (months); null with no fleet pledged. */
  readonly collateralLifeMonthsLeft?: number | null;
  readonly debtOutlivesCollateral?: boolean;
  /**
   * True when the facility owes and an index its collateral needs is missing: `ltv` is null and
   * `status` is `unknown` (the alert state machine holds the previous status).
   */
  readonly dataMissing?: boolean;
  /** The facility's covenant lines, carried for the InfluxDB `facility` points (Grafana draws them). */
  readonly covenants?: { readonly ltvWarn?: number; readonly ltvMarginCall?: number; readonly ltvLiquidation?: number; readonly dscrMin?: number };
}

export interface StressFacility {
  readonly id: string;
  readonly ltv: number | null;
  readonly status: FacilityStatus;
}

export interface StressResult {
  readonly scenario: string;
  readonly ltv: number | null;
  readonly dscr: number | null;
  readonly facilities: readonly StressFacility[];
}

export interface Valuation {
  readonly entity: string;
  /** The sheet type (neocloud, miner): the `type` tag of InfluxDB `valuation` points. */
  readonly type?: string;
  readonly at: string;
  readonly cryptoValue: number | null;
  readonly fleetValue: number | null;
  readonly cash: number;
  readonly grossAssets: number | null;
  readonly totalDebt: number;
  readonly securedDebt: number;
  readonly collateralValue: number | null;
  readonly liquidationValue: number | null;
  readonly equity: number | null;
  readonly ltv: number | null;
  readonly forcedSaleLtv: number | null;
  readonly noi12: number | null;
  readonly debtService12: number;
  readonly maturities12: number;
  readonly dscr: number | null;
  readonly dscrStatus: DscrStatus;
  readonly liquidityCoverage: number | null;
  readonly runwayMonths: number | null;
  readonly netLeverage: number | null;
  readonly breakevenRentalRate: number | null;
  readonly breakevenRentalRateAtCovenant: number | null;
  readonly fleet: readonly FleetItemValuation[];
  readonly facilities: readonly FacilityValuation[];
  readonly stress: readonly StressResult[];
  /** Instrument ids whose index was needed but missing (drives `stale_data`). */
  readonly missing?: readonly string[];
}
