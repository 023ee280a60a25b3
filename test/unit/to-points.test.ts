import { describe, expect, it } from 'vitest';
import type { StepOutput } from '../../src/domain/step/step-types.ts';
import type { Valuation } from '../../src/domain/valuation/valuation-types.ts';
import { toPoints } from '../../src/sink/to-points.ts';

const TS = Date.UTC(2025, 9, 1);

function aValuation(overrides: Partial<Valuation> = {}): Valuation {
  return {
    entity: 'northwind-neocloud',
    type: 'neocloud',
    at: new Date(TS).toISOString(),
    cryptoValue: 0,
    fleetValue: 1_120_000_000,
    cash: 150_000_000,
    grossAssets: 1_270_000_000,
    totalDebt: 880_000_000,
    securedDebt: 880_000_000,
    collateralValue: 1_120_000_000,
    liquidationValue: 728_000_000,
    equity: 390_000_000,
    ltv: 0.7857,
    forcedSaleLtv: 1.2088,
    noi12: 528_000_000,
    debtService12: 324_700_000,
    maturities12: 0,
    dscr: 1.6268,
    dscrStatus: 'ok',
    liquidityCoverage: 2.09,
    runwayMonths: null,
    netLeverage: 1.38,
    breakevenRentalRate: 0.07,
    breakevenRentalRateAtCovenant: 0.88,
    fleet: [{ id: 'h100-a', model: 'H100-SXM', marketValue: 1_120_000_000, liquidationValue: 728_000_000, haircut: 0.35, valuedBy: 'market' }],
    facilities: [
      {
        id: 'ddtl-1',
        lender: 'atlas-credit',
        outstanding: 880_000_000,
        collateralValue: 1_120_000_000,
        liquidationValue: 728_000_000,
        ltv: 0.7857,
        forcedSaleLtv: 1.2088,
        headroom: -0.0476,
        ltvIn12m: 0.8163,
        status: 'margin_call',
        cureAmountUsd: 40_000_000,
        tenorMonthsLeft: 36,
        collateralLifeMonthsLeft: null,
        debtOutlivesCollateral: true,
        covenants: { ltvWarn: 0.65, ltvMarginCall: 0.75, ltvLiquidation: 0.85, dscrMin: 1.2 },
      },
    ],
    stress: [
      { scenario: 'crypto_crash', ltv: 0.79, dscr: 1.6, facilities: [{ id: 'ddtl-1', ltv: 0.79, status: 'margin_call' }] },
      { scenario: 'double_leverage', ltv: 0.9, dscr: null, facilities: [{ id: 'ddtl-1', ltv: 0.9, status: 'liquidation' }] },
    ],
    ...overrides,
  };
}

const valuationOutput = (v: Valuation): StepOutput => ({ kind: 'valuation', eventId: 'e1', ts: TS, valuation: v, inputs: {} });

describe('toPoints', () => {
  it('maps a price to one price point tagged by instrument, source and run', () => {
    const points = toPoints({ kind: 'price', eventId: 'p', instrument: 'BTC', source: 'kraken', ts: TS, value: 110_000 }, 'live');
    expect(points).toEqual([{ measurement: 'price', tags: { instrument: 'BTC', source: 'kraken', run: 'live' }, fields: { value: 110_000 }, ts: TS }]);
  });

  it('maps an index update with stale as 0/1 and omits a null value', () => {
    const base = { kind: 'index', eventId: 'i', instrument: 'rental:H100-SXM', ts: TS, sources: 0, stale: true, rejected: 2, bySource: {} } as const;
    expect(toPoints({ ...base, value: null }, 'demo')).toEqual([
      { measurement: 'index', tags: { instrument: 'rental:H100-SXM', run: 'demo' }, fields: { sources: 0, stale: 1, rejected: 2 }, ts: TS },
    ]);
    expect(toPoints({ ...base, value: 2.1, stale: false }, 'demo')[0].fields).toEqual({ value: 2.1, sources: 0, stale: 0, rejected: 2 });
  });

  it('maps a valuation to a valuation point with every number in snake_case, null ones left out', () => {
    const points = toPoints(valuationOutput(aValuation()), 'live');
    const v = points.find((p) => p.measurement === 'valuation');
    expect(v?.tags).toEqual({ entity: 'northwind-neocloud', type: 'neocloud', run: 'live' });
    expect(v?.ts).toBe(TS);
    expect(v?.fields).toEqual({
      crypto_value: 0,
      fleet_value: 1_120_000_000,
      cash: 150_000_000,
      gross_assets: 1_270_000_000,
      total_debt: 880_000_000,
      secured_debt: 880_000_000,
      collateral_value: 1_120_000_000,
      liquidation_value: 728_000_000,
      equity: 390_000_000,
      ltv: 0.7857,
      forced_sale_ltv: 1.2088,
      noi12: 528_000_000,
      debt_service12: 324_700_000,
      maturities12: 0,
      dscr: 1.6268,
      dscr_breach: 0,
      liquidity_coverage: 2.09,
      net_leverage: 1.38,
      breakeven_rental_rate: 0.07,
      breakeven_rental_rate_at_covenant: 0.88,
      stale: 0,
      status_level: 2,
    });
  });

  it('flags a DSCR breach and missing inputs on the valuation point', () => {
    const [v] = toPoints(valuationOutput(aValuation({ dscrStatus: 'breach', missing: ['resale:H100-SXM'] })), 'live');
    expect(v.fields.dscr_breach).toBe(1);
    expect(v.fields.stale).toBe(1);
  });

  it('writes one facility point per facility with its status level, cure amount and covenant lines', () => {
    const f = toPoints(valuationOutput(aValuation()), 'live').filter((p) => p.measurement === 'facility');
    expect(f).toEqual([
      {
        measurement: 'facility',
        tags: { entity: 'northwind-neocloud', facility: 'ddtl-1', lender: 'atlas-credit', run: 'live' },
        fields: {
          outstanding: 880_000_000,
          collateral_value: 1_120_000_000,
          liquidation_value: 728_000_000,
          ltv: 0.7857,
          forced_sale_ltv: 1.2088,
          headroom: -0.0476,
          ltv_in_12m: 0.8163,
          status_level: 2,
          cure_amount_usd: 40_000_000,
          tenor_months_left: 36,
          debt_outlives_collateral: 1,
          ltv_warn: 0.65,
          ltv_margin_call: 0.75,
          ltv_liquidation: 0.85,
          dscr_min: 1.2,
        },
        ts: TS,
      },
    ]);
  });

  it('tags a facility without a lender with "-" and leaves out its status while data is missing', () => {
    const v = aValuation();
    const facility = { ...v.facilities[0], lender: null, dataMissing: true, ltv: null, covenants: undefined };
    const [f] = toPoints(valuationOutput({ ...v, facilities: [facility] }), 'live').filter((p) => p.measurement === 'facility');
    expect(f.tags.lender).toBe('-');
    expect(f.fields).not.toHaveProperty('status_level');
    expect(f.fields).not.toHaveProperty('ltv');
    expect(f.fields).not.toHaveProperty('ltv_warn');
    expect(f.fields.data_missing).toBe(1);
  });

  it('writes fleet items and stress scenarios with the worst status level of each scenario', () => {
    const points = toPoints(valuationOutput(aValuation()), 'r1');
    expect(points.filter((p) => p.measurement === 'item')).toEqual([
      {
        measurement: 'item',
        tags: { entity: 'northwind-neocloud', item: 'h100-a', model: 'H100-SXM', valued_by: 'market', run: 'r1' },
        fields: { market_value: 1_120_000_000, liquidation_value: 728_000_000, haircut: 0.35 },
        ts: TS,
      },
    ]);
    const stress = points.filter((p) => p.measurement === 'stress');
    expect(stress).toEqual([
      {
        measurement: 'stress',
        tags: { entity: 'northwind-neocloud', run: 'r1' },
        fields: { crypto_crash_ltv: 0.79, crypto_crash_dscr: 1.6, crypto_crash_worst_status_level: 2, double_leverage_ltv: 0.9, double_leverage_worst_status_level: 3 },
        ts: TS,
      },
    ]);
  });

  it('writes only the fleet items the step marked as changed', () => {
    const two = aValuation({ fleet: [...aValuation().fleet, { id: 'h200-b', model: 'H200', marketValue: 1e8, liquidationValue: 7e7, haircut: 0.3, valuedBy: 'model' }] });
    const points = toPoints({ kind: 'valuation', eventId: 'e1', ts: TS, valuation: two, inputs: {}, itemsChanged: [false, true] }, 'r1');
    expect(points.filter((p) => p.measurement === 'item').map((p) => p.tags.item)).toEqual(['h200-b']);
  });

  it('leaves out the status level of an unknown status, and the DSCR breach flag of an unknown DSCR status', () => {
    const v = aValuation({ dscrStatus: 'unknown', facilities: [{ ...aValuation().facilities[0], status: 'unknown' }] });
    const points = toPoints(valuationOutput(v), 'r1');
    const valuation = points.find((p) => p.measurement === 'valuation');
    expect(valuation?.fields).not.toHaveProperty('dscr_breach');
    expect(valuation?.fields).not.toHaveProperty('status_level');
    expect(points.find((p) => p.measurement === 'facility')?.fields).not.toHaveProperty('status_level');
  });

  it('maps alerts with "-" for entity rules and the level of the new status', () => {
    const base = { kind: 'alert', eventId: 'a', entity: 'granite-mining', from: 'ok', value: 0.71, threshold: 1.2, at: TS + 1 } as const;
    const dscr = toPoints({ ...base, facility: null, rule: 'dscr', to: 'breach' }, 'live');
    expect(dscr).toEqual([
      {
        measurement: 'alert',
        tags: { entity: 'granite-mining', facility: '-', rule: 'dscr', to: 'breach', run: 'live' },
        fields: { value: 0.71, threshold: 1.2, level: 1 },
        ts: TS + 1,
      },
    ]);
    expect(toPoints({ ...base, facility: 'abl', rule: 'ltv', to: 'margin_call' }, 'live')[0].fields.level).toBe(2);
    expect(toPoints({ ...base, facility: 'abl', rule: 'ltv', to: 'ok', value: null, threshold: null }, 'live')[0].fields).toEqual({ level: 0 });
  });

  it('counts a data-quality event and writes nothing for alert state', () => {
    expect(toPoints({ kind: 'data_quality', eventId: 'd', ts: TS, instrument: 'BTC', source: 'kraken', reason: 'outlier', value: 1 }, 'live')).toEqual([
      { measurement: 'data_quality', tags: { instrument: 'BTC', source: 'kraken', reason: 'outlier', run: 'live' }, fields: { count: 1 }, ts: TS },
    ]);
    expect(toPoints({ kind: 'alert_state', eventId: 's', ts: TS, key: 'e/f/ltv', status: 'warn', cureDeadline: null, since: TS }, 'live')).toEqual([]);
  });

  it('maps an entity exposure to one exposure point tagged by entity and model', () => {
    const out: StepOutput = { kind: 'exposure', eventId: 'x', ts: TS, entity: 'acme', model: 'H100-SXM', unitsPledged: 40_000, unitsAtMarginCall: 24_000, depthPerMonth: 8_000 };
    expect(toPoints(out, 'live')).toEqual([
      {
        measurement: 'exposure',
        tags: { entity: 'acme', model: 'H100-SXM', run: 'live' },
        fields: { units_pledged: 40_000, units_at_margin_call: 24_000, depth_per_month: 8_000 },
        ts: TS,
      },
    ]);
  });

  it('writes an ended exposure contribution as zero units without a depth', () => {
    const out: StepOutput = { kind: 'exposure', eventId: 'x', ts: TS, entity: 'acme', model: 'H100-SXM', unitsPledged: 0, unitsAtMarginCall: 0, depthPerMonth: null };
    expect(toPoints(out, 'live')).toEqual([{ measurement: 'exposure', tags: { entity: 'acme', model: 'H100-SXM', run: 'live' }, fields: { units_pledged: 0, units_at_margin_call: 0 }, ts: TS }]);
  });

  it('never writes NaN or Infinity, and drops a point left without fields', () => {
    const points = toPoints(valuationOutput(aValuation({ ltv: Number.NaN, dscr: Number.POSITIVE_INFINITY })), 'live');
    for (const p of points) for (const v of Object.values(p.fields)) expect(Number.isFinite(v)).toBe(true);
    expect(toPoints({ kind: 'price', eventId: 'p', instrument: 'BTC', source: 'x', ts: TS, value: Number.NaN }, 'live')).toEqual([]);
  });

  it('gives identical points for a redelivered output', () => {
    const out = valuationOutput(aValuation());
    expect(toPoints(out, 'live')).toEqual(toPoints(structuredClone(out), 'live'));
  });

  it('gives every kind of point its tags in key order, run in its place (InfluxDB sorts unsorted tags itself)', () => {
    const outputs = [
      { kind: 'price', eventId: 'p', instrument: 'BTC', source: 'kraken', ts: TS, value: 1 },
      { kind: 'index', eventId: 'i', instrument: 'BTC', value: 1, sources: 3, stale: false, rejected: 0, ts: TS },
      valuationOutput(aValuation()),
      { kind: 'alert', eventId: 'a', entity: 'acme', facility: 'f1', rule: 'ltv', from: 'ok', to: 'warn', value: 0.7, threshold: 0.65, at: TS },
      { kind: 'data_quality', eventId: 'd', instrument: 'BTC', source: 'kraken', reason: 'outlier', ts: TS },
      { kind: 'exposure', eventId: 'x', ts: TS, entity: 'acme', model: 'H100-SXM', unitsPledged: 1, unitsAtMarginCall: 0, depthPerMonth: 5 },
      { kind: 'spread', eventId: 's', ts: TS, model: 'H100-SXM', rentalUsdPerGpuHour: 2, resaleUsdPerUnit: 20_000, rentalYieldAnnual: 0.8 },
      { kind: 'contagion_entity', eventId: 'c', ts: TS, entity: { entity: 'acme', defaultRound: 1, ltvBefore: 0.7, ltvAfter: 0.9, facilities: [{ id: 'f1', ltvAfter: 0.9, statusAfter: 'margin_call' }] } },
      {
        kind: 'contagion_book',
        eventId: 'b',
        ts: TS,
        rounds: 2,
        converged: true,
        defaults: 1,
        contagionDefaults: 1,
        models: [{ model: 'H100-SXM', seizedUnits: 10, impact: 0.1, resaleBefore: 20_000, resaleAfter: 18_000 }],
        lenders: [{ lender: 'atlas', outstanding: 1, defaultedDebtToday: 0, defaultedDebt: 1, shortfall: 0 }],
      },
    ] as unknown as StepOutput[];
    const measurements = new Set<string>();
    for (const out of outputs) {
      for (const p of toPoints(out, 'live')) {
        measurements.add(p.measurement);
        const keys = Object.keys(p.tags);
        expect(keys, p.measurement).toEqual([...keys].sort());
        expect(keys, p.measurement).toContain('run');
      }
    }
    expect(measurements.size).toBe(15);
  });
});
