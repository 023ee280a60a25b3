import { describe, expect, it } from 'vitest';
import { loadCatalog, loadSheets } from '../../src/config/load-sheets.ts';
import { loadScenariosFile, simulateQuotes } from '../../src/ingest/simulate/index.ts';
import { replayParams } from '../../src/replay/replay.ts';
import type { Quote } from '../../src/domain/market/quote.ts';
import type { StepOutput } from '../../src/domain/step/step-types.ts';
import { flush, initialState, step } from '../../src/domain/step/step.ts';
import { defaultDomainParams, ltvStatusOf } from '../../src/domain/valuation/valuation.ts';
import { HOUR, T0, aSheet, alertsOf, anEntity, entityEvent, ofKind, params, quoteEvent, resaleForLtv, run, tickEvent } from './step-helpers.ts';

/**
 * No false alerts at the start of a run (issue 14 point 1): the alert machine starts from the
 * first complete valuation, silently, and a status whose input is missing is `unknown`.
 */
const p = params();
const RESALE = 'resale:H100-SXM';

describe('the start of a run', () => {
  it('raises no alert for the sample book at the first instant of a 10-day double_leverage replay, and its first alerts are crossings', async () => {
    const { entities, problems } = await loadSheets('config/entities');
    expect(problems).toEqual([]);
    const from = Date.parse('2025-10-01T00:00:00Z');
    const records = [...simulateQuotes({ file: await loadScenariosFile(), scenario: 'double_leverage', seed: 42, fromMs: from, toMs: from + 10 * 86_400_000 })];
    const { params: rp } = await replayParams(defaultDomainParams(await loadCatalog('config/catalog.yaml')), records);
    let state = initialState(rp);
    const outputs: StepOutput[] = [];
    for (const e of entities) state = step(state, { kind: 'entity', id: e.id, entity: e, ts: 1 }, rp).state;
    for (const r of records) outputs.push(...step(state, { kind: 'quote', quote: r.value as Quote }, rp).outputs);
    outputs.push(...flush(state, rp).outputs);
    const alerts = alertsOf(outputs);
    expect(alerts.length).toBeGreaterThan(0);
    expect(alerts.filter((a) => a.at === from)).toEqual([]);
    // every rule starts where its baseline put it: each key's first alert leaves the status the
    // machine recorded for it at the start (the first window's alert_state), which was not ok for some
    const baseline = new Map(ofKind(outputs, 'alert_state').filter((s) => s.ts === from).map((s) => [s.key, s.status]));
    expect([...baseline.values()].some((s) => s !== 'ok')).toBe(true);
    const seen = new Set<string>();
    for (const a of alerts) {
      const key = `${a.entity}/${a.facility ?? '-'}/${a.rule}`;
      if (seen.has(key) || !baseline.has(key)) continue;
      seen.add(key);
      expect(a.from).toBe(baseline.get(key));
    }
    expect(seen.size).toBeGreaterThan(0);
  });

  it('starts the machine only once every index the sheet needs has a value: a model-valued collateral at the start is no liquidation', () => {
    // the H100 loan is at 0.4 of its resale value; valued by model (cost, depreciated) it would be far worse
    const sheet = aSheet({ fleet: [{ ...aSheet().fleet[0], costPerUnit: 10_000 }] });
    // the entity arrives once the clock runs: valued at once, by model (no resale index yet)
    const before = run([quoteEvent('BTC', 100_000, T0), entityEvent(anEntity([sheet]))], p);
    expect(alertsOf(before.outputs)).toEqual([]);
    const v = ofKind(flush(before.state, p).outputs, 'valuation')[0].valuation;
    expect(v.fleet[0].valuedBy).toBe('model');
    expect(v.facilities[0].ltv).toBeGreaterThan(0.85);
    expect(v.facilities[0].status).toBe('unknown');
    const started = run([quoteEvent(RESALE, resaleForLtv(0.4), T0 + 1), quoteEvent(RESALE, resaleForLtv(0.8), T0 + 2)], p, before.state);
    expect(alertsOf(started.outputs).map((a) => `${a.rule}:${a.from}->${a.to}`)).toEqual(['ltv:ok->margin_call']);
  });

  it('starts from the model value once the resale index has been missing for its whole warm-up', () => {
    const sheet = aSheet({ fleet: [{ ...aSheet().fleet[0], costPerUnit: 10_000 }] });
    const warmUp = 2 * 24 * HOUR; // kind:resale
    const { outputs, state } = run([entityEvent(anEntity([sheet])), tickEvent(T0), tickEvent(T0 + warmUp), tickEvent(T0 + warmUp + 1)], p);
    expect(alertsOf(outputs)).toEqual([]);
    const ltv = state.entities.get('acme')?.ltv.get('loan-1');
    expect(ltv?.status).toBe(ltvStatusOf(20_000_000 / (1000 * 10_000 * Math.pow(0.7, (T0 + warmUp + 1 - Date.UTC(2024, 0, 1)) / (365.25 * 86_400_000))), aSheet().facilities[0].covenants));
    expect(ltv?.since).toBe(T0 + warmUp + 1);
  });

  it('reports a status whose input is missing as unknown, never ok', () => {
    const btcLoan = aSheet({
      holdings: { BTC: 500, ETH: 0 },
      facilities: [{ ...aSheet().facilities[0], collateral: ['holdings:BTC'], covenants: { ltvWarn: 0.65, ltvMarginCall: 0.75, ltvLiquidation: 0.85, dscrMin: 1.2 } }],
      fleet: [{ ...aSheet().fleet[0], contracted: undefined }],
    });
    const { state } = run([entityEvent(anEntity([btcLoan])), quoteEvent(RESALE, resaleForLtv(0.4), T0)], p);
    const v = ofKind(flush(state, p).outputs, 'valuation')[0].valuation;
    expect(v.facilities[0].status).toBe('unknown');
    expect(v.dscrStatus).toBe('unknown');
  });
});
