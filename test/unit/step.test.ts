import { describe, expect, it } from 'vitest';
import { alertStates, flush, initialState, restoreAlertStates } from '../../src/domain/step/step.ts';
import type { AlertStateRecord, StepEvent } from '../../src/domain/step/step-types.ts';
import { HOUR, MINUTE, T0, aSheet, alertsOf, anEntity, entityEvent, ofKind, params, quoteEvent, resaleForLtv, run, tickEvent } from './step-helpers.ts';

const p = params();
const RESALE = 'resale:H100-SXM';
const ltvQuote = (ltv: number, ts: number, source = 'src-a') => quoteEvent(RESALE, resaleForLtv(ltv), ts, source);
/** The entity of anEntity() handed over with its previous owner's statuses. */
const handover = (statuses: readonly AlertStateRecord[]): StepEvent => ({ kind: 'entity', id: 'acme', entity: anEntity(), ts: 0, statuses });

describe('step: quotes, valuations and LTV alerts', () => {
  it('emits a price output per quote and an ltv alert at once when a quote crosses a line', () => {
    const { outputs } = run([entityEvent(anEntity()), ltvQuote(0.5, T0), ltvQuote(0.8, T0 + 1_000)], p);
    expect(ofKind(outputs, 'price')).toHaveLength(2);
    const alerts = alertsOf(outputs, 'ltv');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ entity: 'acme', facility: 'loan-1', from: 'ok', to: 'margin_call', threshold: 0.75, at: T0 + 1_000 });
    expect(alerts[0].value).toBeCloseTo(0.8, 12);
    expect(alerts[0].eventId).toMatch(/^[0-9a-f]{16}$/);
  });

  it('recovers only below the line by more than the hysteresis band', () => {
    const { outputs } = run([entityEvent(anEntity()), ltvQuote(0.5, T0 - 1), ltvQuote(0.76, T0), ltvQuote(0.735, T0 + 1), ltvQuote(0.7, T0 + 2)], p);
    expect(alertsOf(outputs, 'ltv').map((a) => `${a.from}->${a.to}`)).toEqual(['ok->margin_call', 'margin_call->warn']);
  });

  it('conflates a window into one index output per instrument and one valuation per entity, stamped with the window start', () => {
    const events = [entityEvent(anEntity()), ltvQuote(0.5, T0 + 1_000), ltvQuote(0.55, T0 + 2_000), ltvQuote(0.6, T0 + 3_000), ltvQuote(0.61, T0 + MINUTE + 5)];
    const { state, outputs } = run(events, p);
    const valuations = ofKind(outputs, 'valuation');
    expect(valuations).toHaveLength(1);
    expect(valuations[0].ts).toBe(T0);
    expect(valuations[0].valuation.facilities[0].ltv).toBeCloseTo(0.6, 12);
    expect(valuations[0].valuation.stress.length).toBeGreaterThan(0);
    expect(valuations[0].inputs[RESALE]).toEqual({ value: resaleForLtv(0.6), sources: 1 });
    const indexes = ofKind(outputs, 'index');
    expect(indexes).toHaveLength(1);
    expect(indexes[0]).toMatchObject({ instrument: RESALE, ts: T0, value: resaleForLtv(0.6), sources: 1, stale: false, rejected: 0 });
    const last = flush(state, p).outputs;
    expect(ofKind(last, 'valuation').map((v) => v.ts)).toEqual([T0 + MINUTE]);
  });

  it('emits the entity exposure per model at a window close, counting units pledged to facilities at margin call (with hysteresis)', () => {
    const { state } = run([entityEvent(anEntity()), ltvQuote(0.76, T0), ltvQuote(0.74, T0 + 1)], p);
    const exposure = ofKind(flush(state, p).outputs, 'exposure');
    expect(exposure).toHaveLength(1);
    expect(exposure[0]).toMatchObject({ entity: 'acme', model: 'H100-SXM', ts: T0, unitsPledged: 1000, unitsAtMarginCall: 1000, depthPerMonth: 8000 });
  });

  it('reports the alert machine status (with hysteresis) in the conflated valuation', () => {
    const { state } = run([entityEvent(anEntity()), ltvQuote(0.76, T0), ltvQuote(0.74, T0 + 1)], p);
    const v = ofKind(flush(state, p).outputs, 'valuation')[0].valuation;
    expect(v.facilities[0].status).toBe('margin_call');
  });

  it('values a quote in 2022 against the 2022 version of the sheet and a later one against the version then in force', () => {
    const v2022 = aSheet({ effectiveFrom: '2022-01-01' });
    const v2025 = aSheet({
      effectiveFrom: '2025-01-01',
      facilities: [{ ...aSheet().facilities[0], principal: 10_000_000 }],
    });
    const in2022 = Date.UTC(2022, 5, 1);
    const { outputs } = run([entityEvent(anEntity([v2022, v2025])), ltvQuote(0.5, in2022), ltvQuote(0.8, in2022 + 1), ltvQuote(0.8, T0)], p);
    const values = ofKind(outputs, 'valuation').map((v) => v.valuation.facilities[0].outstanding);
    expect(values).toEqual([20_000_000]);
    const alerts = alertsOf(outputs, 'ltv');
    expect(alerts.map((a) => `${a.from}->${a.to}@${a.at}`)).toEqual([`ok->margin_call@${in2022 + 1}`, `margin_call->ok@${T0}`]);
    expect(alerts[1].value).toBeCloseTo(0.4, 12);
  });

  it('values nothing before the first version comes into force', () => {
    const { outputs } = run([entityEvent(anEntity([aSheet({ effectiveFrom: '2030-01-01' })])), ltvQuote(0.9, T0)], p);
    expect(alertsOf(outputs)).toEqual([]);
  });

  it('revalues an entity at the current clock when its sheet changes', () => {
    const lower = aSheet({ facilities: [{ ...aSheet().facilities[0], principal: 10_000_000 }] });
    const { outputs } = run([entityEvent(anEntity()), ltvQuote(0.5, T0 - 1), ltvQuote(0.8, T0), entityEvent(anEntity([lower]))], p);
    expect(alertsOf(outputs, 'ltv').map((a) => `${a.from}->${a.to}@${a.at}`)).toEqual([`ok->margin_call@${T0}`, `margin_call->ok@${T0}`]);
  });
});

describe('step: cure ladder', () => {
  it('fires cure_expired exactly once when the clock passes the deadline, and cured on recovery', () => {
    const ticks = Array.from({ length: 24 }, (_, i) => tickEvent(T0 + (i + 1) * 10 * MINUTE));
    const { outputs } = run([entityEvent(anEntity()), ltvQuote(0.8, T0), ...ticks, ltvQuote(0.5, T0 + 5 * HOUR)], p);
    const cures = alertsOf(outputs, 'cure_expired');
    expect(cures.map((c) => `${c.from}->${c.to}@${c.at}`)).toEqual([`pending->expired@${T0 + HOUR}`, `expired->cured@${T0 + 5 * HOUR}`]);
  });

  it('emits no cure_expired when the facility recovers before the deadline', () => {
    const { outputs } = run([entityEvent(anEntity()), ltvQuote(0.8, T0), ltvQuote(0.5, T0 + 30 * MINUTE), tickEvent(T0 + 3 * HOUR)], p);
    expect(alertsOf(outputs, 'cure_expired')).toEqual([]);
  });

  it('keeps the deadline of the first margin call while the facility moves on to liquidation', () => {
    const { outputs } = run([entityEvent(anEntity()), ltvQuote(0.8, T0), ltvQuote(0.9, T0 + 30 * MINUTE), tickEvent(T0 + HOUR)], p);
    expect(alertsOf(outputs, 'cure_expired').map((c) => c.at)).toEqual([T0 + HOUR]);
  });

  it('carries a pending deadline across a restart without firing again', () => {
    const entity = entityEvent(anEntity());
    const before = run([entity, ltvQuote(0.8, T0), ltvQuote(0.81, T0 + 20 * MINUTE)], p);
    const records = alertStates(before.state);
    expect(records.find((r) => r.key === 'acme/loan-1/ltv')).toMatchObject({ status: 'margin_call', cureDeadline: T0 + HOUR, since: T0 });
    // The look-back rebuild sees only the later quote: on its own it would start a new deadline.
    const rebuilt = run([entity, ltvQuote(0.81, T0 + 20 * MINUTE)], p);
    const restored = restoreAlertStates(rebuilt.state, records);
    expect(alertStates(restored)).toEqual(records);
    const after = run([ltvQuote(0.82, T0 + 30 * MINUTE), tickEvent(T0 + HOUR)], p, restored);
    expect(alertsOf(after.outputs, 'ltv')).toEqual([]);
    expect(alertsOf(after.outputs, 'cure_expired').map((c) => c.at)).toEqual([T0 + HOUR]);
  });

  it('continues the previous owner\'s alert machine on a handover instead of starting it again', () => {
    const entity = entityEvent(anEntity());
    const market = [ltvQuote(0.5, T0 - 1), ltvQuote(0.8, T0), ltvQuote(0.81, T0 + 20 * MINUTE)];
    // Instance a held the entity: margin call at T0, cure deadline T0 + 1 h.
    const a = run([entity, ...market], p);
    const handed = alertStates(a.state).filter((r) => r.key.startsWith('acme/'));
    expect(handed.find((r) => r.key === 'acme/loan-1/ltv')).toMatchObject({ status: 'margin_call', since: T0, cureDeadline: T0 + HOUR });
    // Instance b follows the same market without the entity, then takes it over in a rebalance.
    const bMarket = run(market, p);
    // without the handover the new owner starts the machine again: the margin call as its baseline, a new deadline
    const plain = run([entity], p, run(market, p).state);
    expect(alertsOf(plain.outputs, 'ltv')).toEqual([]);
    expect(alertStates(plain.state).find((r) => r.key === 'acme/loan-1/ltv')).toMatchObject({ status: 'margin_call', cureDeadline: T0 + 20 * MINUTE + HOUR });
    const b = run([handover(handed)], p, bMarket.state);
    expect(alertsOf(b.outputs, 'ltv')).toEqual([]);
    expect(alertStates(b.state).filter((r) => r.key.startsWith('acme/'))).toEqual(handed);
    // and the handed-over deadline still expires once, at its time
    const after = run([tickEvent(T0 + HOUR)], p, b.state);
    expect(alertsOf(after.outputs, 'cure_expired').map((c) => c.at)).toEqual([T0 + HOUR]);
  });

  it('ignores a handover for an entity it already holds, and statuses of other entities or rules', () => {
    const entity = entityEvent(anEntity());
    const held = run([entity, ltvQuote(0.8, T0)], p);
    const before = alertStates(held.state);
    const bogus = [
      { key: 'acme/loan-1/ltv', status: 'ok', cureDeadline: null, since: T0 - HOUR },
      { key: 'other/loan-1/ltv', status: 'margin_call', cureDeadline: null, since: T0 },
      { key: 'acme/loan-1/ltv-typo', status: 'margin_call', cureDeadline: null, since: T0 },
    ];
    const again = run([handover(bogus)], p, held.state);
    expect(alertStates(again.state)).toEqual(before);
    const fresh = run([handover(bogus.slice(1))], p, run([ltvQuote(0.5, T0)], p).state);
    expect(alertStates(fresh.state).map((r) => r.key)).not.toContain('other/loan-1/ltv');
  });
});

describe('step: market data quality', () => {
  const gpuSheet = aSheet({
    fleet: [{ id: 'h100-a', model: 'H100-SXM', count: 1000, costPerUnit: 30_000, acquiredAt: '2024-01-01' }],
  });

  it('raises stale_data naming the indexes when feeds stop and ticks pass staleAfter, and clears it when they return', () => {
    const rental = 'rental:H100-SXM';
    const staleAfter = 2 * 24 * HOUR; // kind:rental and kind:resale in the default params
    const events = [entityEvent(anEntity([gpuSheet])), quoteEvent(rental, 2.1, T0), ltvQuote(0.5, T0)];
    for (let t = T0 + HOUR; t <= T0 + staleAfter + 2 * HOUR; t += HOUR) events.push(tickEvent(t));
    events.push(quoteEvent(rental, 2.1, T0 + staleAfter + 3 * HOUR), ltvQuote(0.5, T0 + staleAfter + 3 * HOUR));
    const stale = alertsOf(run(events, p).outputs, 'stale_data');
    expect(stale.map((a) => `${a.from}->${a.to}@${a.at}`)).toEqual([`ok->stale@${T0 + staleAfter + HOUR}`, `stale->ok@${T0 + staleAfter + 3 * HOUR}`]);
    expect(stale[0].cause).toEqual({ [rental]: 'stale', [RESALE]: 'stale' });
  });

  it('raises stale_data for an index the valuation needs that never had a value, once its warm-up is over', () => {
    const warmUp = 2 * 24 * HOUR; // kind:rental's staleAfter
    const events = [entityEvent(anEntity([gpuSheet])), ltvQuote(0.5, T0), ltvQuote(0.5, T0 + warmUp), tickEvent(T0 + warmUp + 1)];
    const stale = alertsOf(run(events, p).outputs, 'stale_data');
    expect(stale.map((a) => `${a.from}->${a.to}@${a.at}`)).toEqual([`ok->stale@${T0 + warmUp + 1}`]);
    expect(stale[0].cause).toEqual({ 'rental:H100-SXM': 'missing' });
  });

  it('rejects an outlier quote with one data_quality output and one alert, counted in the window', () => {
    const events = [
      entityEvent(anEntity()),
      quoteEvent('BTC', 100_000, T0, 'a'),
      quoteEvent('BTC', 100_100, T0 + 1, 'b'),
      quoteEvent('BTC', 150_000, T0 + 2, 'c'),
      quoteEvent('BTC', 100_050, T0 + 3, 'a'),
    ];
    const { state, outputs } = run(events, p);
    expect(ofKind(outputs, 'data_quality').map((d) => `${d.reason}:${d.source}:${d.value}`)).toEqual(['outlier:c:150000']);
    const alerts = alertsOf(outputs, 'data_quality');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ entity: '-', facility: null, from: 'accepted', to: 'rejected', value: 150_000 });
    const index = ofKind(flush(state, p).outputs, 'index')[0];
    expect(index).toMatchObject({ instrument: 'BTC', sources: 2, rejected: 1, bySource: { a: 100_050, b: 100_100 } });
    expect(index.value).toBe((100_050 + 100_100) / 2);
  });

  it('gives outliers of different instruments rejected at the same instant different event ids', () => {
    const events = ['BTC', 'ETH'].flatMap((i) => [quoteEvent(i, 100, T0, 'a'), quoteEvent(i, 100, T0, 'b'), quoteEvent(i, 500, T0, 'c')]);
    const ids = alertsOf(run(events, p).outputs, 'data_quality').map((a) => a.eventId);
    expect(ids).toHaveLength(2);
    expect(new Set(ids).size).toBe(2);
  });

  it('counts a late quote, applies it only if newer than its source, and never moves the clock back', () => {
    const { state, outputs } = run([quoteEvent('BTC', 100, T0 + 10_000, 'a'), quoteEvent('BTC', 90, T0 + 5_000, 'b'), quoteEvent('BTC', 80, T0 + 1_000, 'a')], p);
    expect(ofKind(outputs, 'data_quality').map((d) => `${d.reason}:${d.source}`)).toEqual(['late:b', 'late:a']);
    expect(state.clockMs).toBe(T0 + 10_000);
    expect(state.index.market.crypto.BTC).toBe(95);
  });
});

describe('step: state', () => {
  it('starts empty', () => {
    const s = initialState(p);
    expect(s.clockMs).toBeNull();
    expect(alertStates(s)).toEqual([]);
    expect(flush(s, p).outputs).toEqual([]);
  });
});
