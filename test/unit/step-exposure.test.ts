import { describe, expect, it } from 'vitest';
import { EXPOSURE_REFRESH_MS, flush, initialState } from '../../src/domain/step/step.ts';
import type { ProcessorState } from '../../src/domain/step/step.ts';
import { portfolioExposure } from '../../src/domain/valuation/portfolio.ts';
import { valueEntity } from '../../src/domain/valuation/valuation.ts';
import type { Entity } from '../../src/domain/sheet/sheet.ts';
import type { StepEvent, StepOutput } from '../../src/domain/step/step-types.ts';
import { RELEASED_ENTITY_TS } from '../../src/domain/step/step-types.ts';
import { COUNT, HOUR, MINUTE, T0, aSheet, anEntity, entityEvent, ofKind, params, quoteEvent, resaleForLtv, run } from './step-helpers.ts';

/**
 * `exposure` is written per entity and model (step.ts header, docs/architecture.md): instances that
 * hold different shares of the book write disjoint series, and the book's figures are the sum of
 * the entities' last contributions per hourly bucket.
 */
const p = params();
const H100 = 'resale:H100-SXM';
const H200 = 'resale:H200';
// T0 is midnight: the first close of each hour writes the whole book
const IN_HOUR = T0 + 10 * MINUTE;

/** A second borrower: 500 H200 pledged to a loan of 10M (ltv set by the H200 resale index). */
const beta = (overrides: Parameters<typeof aSheet>[0] = {}) =>
  aSheet({
    id: 'beta',
    fleet: [{ id: 'h200-a', model: 'H200', count: 500, costPerUnit: 35_000, acquiredAt: '2024-06-01', contracted: { share: 1, ratePerHour: 3, until: '2035-01-01' } }],
    facilities: [{ ...aSheet().facilities[0], id: 'loan-b', principal: 10_000_000, collateral: ['fleet:h200-a'] }],
    ...overrides,
  });
const h200ForLtv = (ltv: number): number => 10_000_000 / (500 * ltv);
const both = (): StepEvent[] => [entityEvent(anEntity()), entityEvent(anEntity([beta()]))];
const exposureOf = (outputs: readonly StepOutput[]) => ofKind(outputs, 'exposure').map(({ eventId: _e, kind: _k, ...x }) => x);
const removal = (id: string, ts: number): StepEvent => ({ kind: 'entity', id, entity: null, ts });

describe('step: exposure per entity', () => {
  it('writes each entity contribution per model, tagged by entity, at the window close', () => {
    const { state, outputs } = run([...both(), quoteEvent(H100, resaleForLtv(0.8), IN_HOUR), quoteEvent(H200, h200ForLtv(0.5), IN_HOUR + 1)], p);
    expect(exposureOf(outputs)).toEqual([]);
    expect(exposureOf(flush(state, p).outputs)).toEqual([
      { ts: IN_HOUR, entity: 'acme', model: 'H100-SXM', unitsPledged: COUNT, unitsAtMarginCall: COUNT, depthPerMonth: 8000 },
      { ts: IN_HOUR, entity: 'beta', model: 'H200', unitsPledged: 500, unitsAtMarginCall: 0, depthPerMonth: 8000 },
    ]);
  });

  it('between hourly refreshes writes only the entities revalued in the window', () => {
    const start = [...both(), quoteEvent(H100, resaleForLtv(0.5), IN_HOUR), quoteEvent(H200, h200ForLtv(0.5), IN_HOUR + 1)];
    const { outputs } = run([...start, quoteEvent(H100, resaleForLtv(0.8), IN_HOUR + MINUTE), quoteEvent(H100, resaleForLtv(0.8), IN_HOUR + 2 * MINUTE)], p);
    const later = exposureOf(outputs).filter((x) => x.ts === IN_HOUR + MINUTE);
    expect(later).toEqual([{ ts: IN_HOUR + MINUTE, entity: 'acme', model: 'H100-SXM', unitsPledged: COUNT, unitsAtMarginCall: COUNT, depthPerMonth: 8000 }]);
  });

  it('writes every entity held at the first close of each hour, revalued or not', () => {
    const start = [...both(), quoteEvent(H100, resaleForLtv(0.5), IN_HOUR), quoteEvent(H200, h200ForLtv(0.5), IN_HOUR + 1)];
    const nextHour = T0 + HOUR + 5 * MINUTE;
    const { state, outputs } = run([...start, quoteEvent(H100, resaleForLtv(0.55), nextHour), quoteEvent(H100, resaleForLtv(0.55), nextHour + 3 * MINUTE)], p);
    const last = [...exposureOf(outputs), ...exposureOf(flush(state, p).outputs)];
    expect(last.filter((x) => x.ts === nextHour).map((x) => x.entity)).toEqual(['acme', 'beta']);
    expect(EXPOSURE_REFRESH_MS).toBe(HOUR);
  });

  it('writes zeros once for a model whose contribution ended: the pledge released by a sheet update', () => {
    const unpledged = anEntity([aSheet({ facilities: [{ ...aSheet().facilities[0], collateral: [] }] })]);
    const { state, outputs } = run([entityEvent(anEntity()), quoteEvent(H100, resaleForLtv(0.8), IN_HOUR), quoteEvent(H100, resaleForLtv(0.8), IN_HOUR + MINUTE), entityEvent(unpledged, T0)], p);
    expect(exposureOf(outputs)).toEqual([{ ts: IN_HOUR, entity: 'acme', model: 'H100-SXM', unitsPledged: COUNT, unitsAtMarginCall: COUNT, depthPerMonth: 8000 }]);
    const { state: after, outputs: more } = run([quoteEvent(H100, resaleForLtv(0.6), IN_HOUR + 2 * MINUTE)], p, state);
    expect(exposureOf(more)).toEqual([{ ts: IN_HOUR + MINUTE, entity: 'acme', model: 'H100-SXM', unitsPledged: 0, unitsAtMarginCall: 0, depthPerMonth: null }]);
    expect(exposureOf(flush(after, p).outputs)).toEqual([]);
  });

  it('writes zeros for a model the sheet drops, beside the contribution of the model it now holds', () => {
    const swapped = anEntity([aSheet({ fleet: [{ ...aSheet().fleet[0], model: 'H200' }] })]);
    const { state } = run([entityEvent(anEntity()), quoteEvent(H100, resaleForLtv(0.5), IN_HOUR), quoteEvent(H100, resaleForLtv(0.5), IN_HOUR + MINUTE), entityEvent(swapped, T0)], p);
    expect(exposureOf(flush(state, p).outputs)).toEqual([
      { ts: IN_HOUR + MINUTE, entity: 'acme', model: 'H100-SXM', unitsPledged: 0, unitsAtMarginCall: 0, depthPerMonth: null },
      // no H200 resale index: valued from its cost, far below the loan (liquidation)
      { ts: IN_HOUR + MINUTE, entity: 'acme', model: 'H200', unitsPledged: COUNT, unitsAtMarginCall: COUNT, depthPerMonth: 8000 },
    ]);
  });

  it('writes zeros for every model of an entity removed by a tombstone, and nothing for one released to another instance', () => {
    const start = [...both(), quoteEvent(H100, resaleForLtv(0.8), IN_HOUR), quoteEvent(H200, h200ForLtv(0.5), IN_HOUR + 1), quoteEvent(H100, resaleForLtv(0.8), IN_HOUR + MINUTE)];
    const { state } = run([...start, removal('acme', IN_HOUR + MINUTE + 5), removal('beta', RELEASED_ENTITY_TS)], p);
    expect(exposureOf(flush(state, p).outputs)).toEqual([{ ts: IN_HOUR + MINUTE, entity: 'acme', model: 'H100-SXM', unitsPledged: 0, unitsAtMarginCall: 0, depthPerMonth: null }]);
    expect(exposureOf(flush(state, p).outputs)).toEqual([]);
  });

  it('at a refresh, the contributions add up to the book view (portfolioExposure over the latest valuations)', () => {
    const gamma = aSheet({ id: 'gamma', facilities: [{ ...aSheet().facilities[0], principal: 5_000_000 }] });
    const events = [...both(), entityEvent(anEntity([gamma])), quoteEvent(H100, resaleForLtv(0.8), IN_HOUR), quoteEvent(H200, h200ForLtv(0.9), IN_HOUR + 1)];
    const { state } = run(events, p);
    const contributions = exposureOf(flush(state, p).outputs);
    expect(contributions.map((c) => c.entity)).toEqual(['acme', 'beta', 'gamma']);
    const market = state.index.market;
    // the alert machine agrees with the raw statuses here (no hysteresis band crossed)
    const book = portfolioExposure(
      [aSheet(), beta(), gamma].map((sheet) => ({ sheet, valuation: valueEntity(sheet, market, IN_HOUR + 1, p, { stress: false }) })),
      p,
    );
    const summed = ['H100-SXM', 'H200'].map((model) => {
      const of = contributions.filter((c) => c.model === model);
      return { model, unitsPledged: sum(of.map((c) => c.unitsPledged)), unitsAtMarginCall: sum(of.map((c) => c.unitsAtMarginCall)) };
    });
    expect(summed).toEqual(book.map(({ model, unitsPledged, unitsAtMarginCall }) => ({ model, unitsPledged, unitsAtMarginCall })));
    expect(book).toEqual([
      { model: 'H100-SXM', unitsPledged: 2 * COUNT, unitsAtMarginCall: COUNT, depthPerMonth: 8000, monthsToAbsorb: COUNT / 8000 },
      { model: 'H200', unitsPledged: 500, unitsAtMarginCall: 500, depthPerMonth: 8000, monthsToAbsorb: 500 / 8000 },
    ]);
  });

  it('two states holding halves of the book write together exactly what one state holding all of it writes', () => {
    const entities: Entity[] = [
      anEntity(),
      anEntity([beta()]),
      anEntity([aSheet({ id: 'gamma', facilities: [{ ...aSheet().facilities[0], principal: 5_000_000 }] })]),
      anEntity([beta({ id: 'delta' })]),
    ];
    const quotes: StepEvent[] = [];
    for (let i = 0; i < 400; i++) {
      const ts = IN_HOUR + i * 37_000; // about four hours, several windows per hour
      const ltv = 0.6 + 0.3 * Math.sin(i / 9);
      quotes.push(i % 3 === 0 ? quoteEvent(H200, h200ForLtv(ltv), ts) : quoteEvent(H100, resaleForLtv(ltv), ts));
    }
    const fold = (held: readonly Entity[]): StepOutput[] => {
      const r = run([...held.map((e) => entityEvent(e)), ...quotes], p, initialState(p) as ProcessorState);
      return [...r.outputs, ...flush(r.state, p).outputs];
    };
    const one = exposureOf(fold(entities));
    const a = exposureOf(fold([entities[0], entities[2]]));
    const b = exposureOf(fold([entities[1], entities[3]]));
    const key = (x: { ts: number; entity: string; model: string }) => `${x.ts}|${x.entity}|${x.model}`;
    const order = (xs: typeof one) => [...xs].sort((x, y) => key(x).localeCompare(key(y)));
    expect(one.length).toBeGreaterThan(entities.length * 4);
    expect(one.some((x) => x.unitsAtMarginCall > 0)).toBe(true);
    expect(order([...a, ...b])).toEqual(order(one));
    // and every hourly bucket holds every entity
    const hours = new Set(one.map((x) => Math.floor(x.ts / HOUR)));
    for (const h of hours) expect(new Set(one.filter((x) => Math.floor(x.ts / HOUR) === h).map((x) => x.entity)).size, `hour ${h}`).toBe(entities.length);
  });
});

const sum = (xs: readonly number[]): number => xs.reduce((s, x) => s + x, 0);
