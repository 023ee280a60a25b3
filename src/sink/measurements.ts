/**
 * Every InfluxDB measurement, tag and field name, once (STYLE.md 10). The schema
 * (ARCHITECTURE.md "InfluxDB contracts"); every point also carries the tag `run`:
 *
 * | measurement    | tags                                   | fields |
 * | -------------- | -------------------------------------- | ------ |
 * | `price`        | instrument, source                     | value |
 * | `index`        | instrument                             | value, sources, stale (0/1), rejected |
 * | `valuation`    | entity, type                           | every number of the valuation in snake_case, dscr_breach (0/1), stale (0/1)*, status_level* (0-3) |
 * | `facility`     | entity, facility, lender               | outstanding, collateral_value, liquidation_value*, ltv, forced_sale_ltv, headroom, ltv_in_12m, status_level (0-3), cure_amount_usd, tenor_months_left, collateral_life_months_left, debt_outlives_collateral* (0/1), data_missing* (0/1), ltv_warn, ltv_margin_call, ltv_liquidation, dscr_min |
 * | `item`         | entity, item, model, valued_by         | market_value, liquidation_value, haircut (written when they change, and once an hour)* |
 * | `stress`*      | entity                                 | <scenario>_ltv, <scenario>_dscr, <scenario>_worst_status_level for every scenario |
 * | `exposure`*    | entity, model                          | units_pledged, units_at_margin_call, depth_per_month (one entity's contribution: the boards sum them) |
 * | `spread`*      | model                                  | rental_usd_per_gpu_hour, resale_usd_per_unit, rental_yield_annual (rental x 8,766 h / resale) |
 * | `alert`        | entity, facility ('-' for entity rules), rule, to | value, threshold, level |
 * | `feed`         | source                                 | quotes, rejects, reconnects, last_tick_age_s |
 * | `data_quality`*| instrument, source, reason             | count (1 per event) |
 * | `deadletter`*  | source, reason                         | count (1 per record) |
 * | `contagion`*   | (none)                                 | rounds, converged (0/1), defaults, contagion_defaults: the book's fire-sale cascade at a window close |
 * | `contagion_model`* | model                              | seized_units, impact, resale_before, resale_after |
 * | `contagion_lender`* | lender                            | outstanding, defaulted_debt_today, defaulted_debt, shortfall |
 * | `contagion_entity`* | entity                            | default_round (-1 for a survivor, 0 in default today, r pulled in at round r), defaulted (0/1), ltv_before, ltv_after |
 * | `contagion_facility`* | entity, facility                | ltv_after, status_level (0-3, after the cascade) |
 * | `run_info`*    | (none)                                 | events, alerts, duration_ms: one point per replay, stamped when it ended (`ccm runs list`) |
 *
 * (*) beyond the ARCHITECTURE.md table: `valuation.stale` (1 when an index the entity needs is
 * missing) and `valuation.status_level` (the worst facility status) drive the overview board and
 * Grafana's rules; `data_quality` and `deadletter` count rejected input per cause for the
 * data-quality board. `exposure` departs from ARCHITECTURE.md (tags `model` only, a book total
 * with months_to_absorb): each processor instance holds only its share of the book, so it writes
 * each entity's contribution and the boards sum the entities' last contributions per hour and
 * compute months_to_absorb = sum(units_at_margin_call) / depth (docs/architecture.md).
 * `months_to_absorb` is no longer written; the name stays for the boards' computed column.
 * `stress` departs from ARCHITECTURE.md (tags `entity`, `scenario`): one point per entity and
 * window with the scenario in the field names (a third of all points were stress points), and
 * `item` points are written only when an item's figures change and at the entity's first
 * valuation of each event-time hour (docs/architecture.md "Output volume").
 * Points of the same series and timestamp overwrite each other, so two
 * data_quality events of one instrument, source and reason at one instant count once.
 * Rollups (continuous queries, see influx-sink.ts) keep the measurement names in their own
 * retention policy.
 */
export const MEASUREMENT = {
  price: 'price',
  index: 'index',
  valuation: 'valuation',
  facility: 'facility',
  item: 'item',
  stress: 'stress',
  exposure: 'exposure',
  spread: 'spread',
  alert: 'alert',
  feed: 'feed',
  dataQuality: 'data_quality',
  deadletter: 'deadletter',
  contagion: 'contagion',
  contagionModel: 'contagion_model',
  contagionLender: 'contagion_lender',
  contagionEntity: 'contagion_entity',
  contagionFacility: 'contagion_facility',
  runInfo: 'run_info',
} as const;
export type Measurement = (typeof MEASUREMENT)[keyof typeof MEASUREMENT];

export const TAG = {
  run: 'run',
  instrument: 'instrument',
  source: 'source',
  entity: 'entity',
  type: 'type',
  facility: 'facility',
  lender: 'lender',
  item: 'item',
  model: 'model',
  valuedBy: 'valued_by',
  scenario: 'scenario',
  rule: 'rule',
  to: 'to',
  reason: 'reason',
} as const;

/** The tag value of `alert.facility` for entity-level rules (dscr, stale_data), and of absent tags. */
export const NO_TAG_VALUE = '-';

export const FIELD = {
  value: 'value',
  sources: 'sources',
  stale: 'stale',
  rejected: 'rejected',
  count: 'count',
  // valuation
  cryptoValue: 'crypto_value',
  fleetValue: 'fleet_value',
  cash: 'cash',
  grossAssets: 'gross_assets',
  totalDebt: 'total_debt',
  securedDebt: 'secured_debt',
  collateralValue: 'collateral_value',
  liquidationValue: 'liquidation_value',
  equity: 'equity',
  ltv: 'ltv',
  forcedSaleLtv: 'forced_sale_ltv',
  noi12: 'noi12',
  debtService12: 'debt_service12',
  maturities12: 'maturities12',
  dscr: 'dscr',
  dscrBreach: 'dscr_breach',
  liquidityCoverage: 'liquidity_coverage',
  runwayMonths: 'runway_months',
  netLeverage: 'net_leverage',
  breakevenRentalRate: 'breakeven_rental_rate',
  breakevenRentalRateAtCovenant: 'breakeven_rental_rate_at_covenant',
  statusLevel: 'status_level',
  // facility
  outstanding: 'outstanding',
  headroom: 'headroom',
  ltvIn12m: 'ltv_in_12m',
  cureAmountUsd: 'cure_amount_usd',
  tenorMonthsLeft: 'tenor_months_left',
  collateralLifeMonthsLeft: 'collateral_life_months_left',
  debtOutlivesCollateral: 'debt_outlives_collateral',
  dataMissing: 'data_missing',
  ltvWarn: 'ltv_warn',
  ltvMarginCall: 'ltv_margin_call',
  ltvLiquidation: 'ltv_liquidation',
  dscrMin: 'dscr_min',
  // item
  marketValue: 'market_value',
  haircut: 'haircut',
  // stress
  worstStatusLevel: 'worst_status_level',
  // exposure
  unitsPledged: 'units_pledged',
  unitsAtMarginCall: 'units_at_margin_call',
  depthPerMonth: 'depth_per_month',
  monthsToAbsorb: 'months_to_absorb',
  // spread
  rentalUsdPerGpuHour: 'rental_usd_per_gpu_hour',
  rounds: 'rounds',
  converged: 'converged',
  defaults: 'defaults',
  contagionDefaults: 'contagion_defaults',
  seizedUnits: 'seized_units',
  impact: 'impact',
  resaleBefore: 'resale_before',
  resaleAfter: 'resale_after',
  defaultedDebtToday: 'defaulted_debt_today',
  defaultedDebt: 'defaulted_debt',
  shortfall: 'shortfall',
  defaultRound: 'default_round',
  defaulted: 'defaulted',
  ltvBefore: 'ltv_before',
  ltvAfter: 'ltv_after',
  events: 'events',
  alerts: 'alerts',
  durationMs: 'duration_ms',
  resaleUsdPerUnit: 'resale_usd_per_unit',
  rentalYieldAnnual: 'rental_yield_annual',
  // alert
  threshold: 'threshold',
  level: 'level',
  // feed
  quotes: 'quotes',
  rejects: 'rejects',
  reconnects: 'reconnects',
  lastTickAgeS: 'last_tick_age_s',
} as const;

/** The field of one stress scenario's figure in the `stress` point: `<scenario>_<field>`, e.g. `crypto_crash_ltv`. */
export const stressField = (scenario: string, field: string): string => `${scenario}_${field}`;
