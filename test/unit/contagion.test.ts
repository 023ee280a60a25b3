import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { contagion, impactOf, MAX_CONTAGION_ROUNDS, seizableUnits } from '../../src/domain/contagion/contagion.ts';
import { defaultDomainParams } from '../../src/domain/valuation/valuation.ts';
import { aCatalog, aCatalogModel, aFacility, aFleetItem, aMarket, aSheet, AT_MS } from '../support/builders.ts';

/**
 * The cascade of shared/DOMAIN.md "Fire-sale contagion", worked by hand on a three-entity book of
 * H100s (catalog liquidity 8,000 units a month, h0 0.10, k 0.05, hmax 0.80; resale 25,000):
 * - big: 40,000 units, owes 900 M to bank-a: LTV 0.90 >= 0.85, in default today (round 0);
 *   its seizure cuts the H100 by min(0.70, 0.05 * 40,000 / 8,000) = 0.25, to 18,750;
 * - mid: 1,000 units, owes 17.5 M to bank-a: LTV 0.70 (warn), at 18,750 it is 0.9333: round 1;
 *   41,000 seized then: impact 0.25625, resale 18,593.75;
 * - safe: 1,000 units, owes 10 M to bank-b: 0.40, then 0.5378: a survivor. Round 2 adds no one.
 */
const params = defaultDomainParams(aCatalog([aCatalogModel()]));
const loan = (id: string, principal: number, lender: string, item: string) =>
  aFacility({ id, principal, lender, collateral: [`fleet:${item}`], amortization: { kind: 'bullet' } });
const entity = (id: string, units: number, principal: number, lender: string) =>
  aSheet({ id, fleet: [aFleetItem({ id: `${id}-gpus`, count: units })], facilities: [loan(`${id}-loan`, principal, lender, `${id}-gpus`)], cash: 0 });
const book = [entity('safe', 1000, 10e6, 'bank-b'), entity('big', 40_000, 900e6, 'bank-a'), entity('mid', 1000, 17.5e6, 'bank-a')];
const market = aMarket({ resale: { 'H100-SXM': 25_000 } });

describe('contagion: the worked book', () => {
  const { result, causes, roundZero } = contagion(book, market, AT_MS, params);

  it('defaults big today and mid in round 1, and converges after round 1', () => {
    expect(result.rounds).toBe(1);
    expect(result.converged).toBe(true);
    expect(result.entities.map((e) => [e.entity, e.defaultRound])).toEqual([
      ['big', 0],
      ['mid', 1],
      ['safe', null],
    ]);
    expect(roundZero).toEqual(['big']);
    expect(causes.get('big')).toEqual({ kind: 'liquidation', facility: 'big-loan', ltv: expect.closeTo(0.9, 12), ltvLiquidation: 0.85 });
    expect(causes.get('mid')?.kind).toBe('liquidation');
    expect(causes.has('safe')).toBe(false);
  });

  it('reports the seized units and the price impact of each model at the final market', () => {
    expect(result.models).toEqual([{ model: 'H100-SXM', seizedUnits: 41_000, impact: expect.closeTo(0.25625, 12), resaleBefore: 25_000, resaleAfter: expect.closeTo(18_593.75, 6) }]);
  });

  it("gives each facility's LTV and status before and after", () => {
    const mid = result.entities.find((e) => e.entity === 'mid');
    expect(mid?.facilities).toEqual([{ id: 'mid-loan', ltvBefore: expect.closeTo(0.7, 12), ltvAfter: expect.closeTo(17.5e6 / 18_593_750, 12), statusBefore: 'warn', statusAfter: 'liquidation' }]);
    const safe = result.entities.find((e) => e.entity === 'safe');
    expect(safe?.facilities[0]).toMatchObject({ ltvBefore: expect.closeTo(0.4, 12), ltvAfter: expect.closeTo(10e6 / 18_593_750, 12), statusBefore: 'ok', statusAfter: 'ok' });
  });

  it("gives each lender's outstanding, defaulted debt and shortfall at the final market's forced-sale values", () => {
    const lvBig = 40_000 * 18_593.75 * (1 - 0.35);
    const lvMid = 1000 * 18_593.75 * (1 - (0.1 + (0.05 * 1000) / 8000));
    expect(result.lenders).toEqual([
      { lender: 'bank-a', outstanding: 917.5e6, defaultedDebt: 917.5e6, shortfall: expect.closeTo(900e6 - lvBig + (17.5e6 - lvMid), 3) },
      { lender: 'bank-b', outstanding: 10e6, defaultedDebt: 0, shortfall: 0 },
    ]);
  });

  it('stamps the result with its instant', () => {
    expect(result.at).toBe('2025-10-01T00:00:00.000Z');
  });
});

describe('contagion: rules', () => {
  it('with no default today there is no cascade: rounds 0, no model, every entity a survivor', () => {
    const calm = contagion(book.filter((s) => s.id !== 'big'), market, AT_MS, params).result;
    expect(calm).toMatchObject({ rounds: 0, converged: true, models: [] });
    expect(calm.entities.every((e) => e.defaultRound === null && e.ltvAfter === e.ltvBefore)).toBe(true);
  });

  it('a forced default starts the cascade from a chosen borrower (--default)', () => {
    const r = contagion(book, market, AT_MS, params, { forcedDefaults: ['safe'] });
    expect(r.causes.get('safe')).toEqual({ kind: 'forced' });
    expect(r.roundZero).toEqual(['big', 'safe']);
    expect(r.result.models[0].seizedUnits).toBe(42_000);
  });

  it('uses the default liquidity for a model the catalog does not know, and caps the impact at hmax - h0', () => {
    expect(impactOf('UNKNOWN', 8000, params)).toBeCloseTo(0.05, 12);
    expect(impactOf('H100-SXM', 1e9, params)).toBeCloseTo(0.7, 12);
  });

  it('seizes only what is pledged to a facility that still owes', () => {
    const s = aSheet({
      fleet: [aFleetItem({ id: 'a', count: 10 }), aFleetItem({ id: 'b', count: 20 }), aFleetItem({ id: 'c', count: 40 })],
      facilities: [aFacility({ id: 'owes', collateral: ['fleet:a', 'fleet:b'] }), aFacility({ id: 'repaid', collateral: ['fleet:c'] })],
    });
    expect(seizableUnits(s, [1, 0])).toEqual(new Map([['H100-SXM', 30]]));
  });

  it('a model-valued item takes the fire-sale factor as a stress shock would', () => {
    const noIndex = aMarket({ resale: {} });
    const r = contagion(book, noIndex, AT_MS, params, { forcedDefaults: ['big'] }).result;
    const safe = r.entities.find((e) => e.entity === 'safe');
    const factor = 1 - r.models[0].impact;
    expect(r.models[0].resaleBefore).toBeNull();
    expect(safe?.facilities[0].ltvAfter).toBeCloseTo((safe?.facilities[0].ltvBefore ?? NaN) / factor, 10);
  });

  // A chain: e00 (8,000 units, forced) cuts the H100 by 0.05; each later one (100 units) sits just
  // above the line the seizures before it push it to, and just below the one before: one a round.
  const chain = (n: number) => [
    entity('e00', 8000, 0.5 * 8000 * 25_000, 'x'),
    ...Array.from({ length: n }, (_, j) => {
      const k = j + 1;
      return entity(`e${String(k).padStart(2, '0')}`, 100, 0.85 * (0.95 - 0.000625 * (k - 1.5)) * 100 * 25_000, 'x');
    }),
  ];

  it('pulls in one entity a round along a chain, and counts the rounds that added a default', () => {
    const r = contagion(chain(3), market, AT_MS, params, { forcedDefaults: ['e00'] }).result;
    expect(r.entities.map((e) => e.defaultRound)).toEqual([0, 1, 2, 3]);
    expect(r).toMatchObject({ rounds: 3, converged: true });
  });

  it(`stops after ${MAX_CONTAGION_ROUNDS} rounds without a fixed point, unconverged`, () => {
    const r = contagion(chain(30), market, AT_MS, params, { forcedDefaults: ['e00'] }).result;
    expect(r).toMatchObject({ rounds: MAX_CONTAGION_ROUNDS, converged: false });
    expect(r.entities.filter((e) => e.defaultRound !== null)).toHaveLength(MAX_CONTAGION_ROUNDS + 1);
  });
});

describe('contagion: properties', () => {
  const arbBook = fc.array(
    fc.record({ units: fc.integer({ min: 1, max: 60_000 }), ltv: fc.double({ min: 0.05, max: 1.2, noNaN: true }) }),
    { minLength: 1, maxLength: 8 },
  );
  const toBook = (xs: ReadonlyArray<{ units: number; ltv: number }>) => xs.map((x, i) => entity(`e${i}`, x.units, x.ltv * x.units * 25_000, i % 2 === 0 ? 'a' : 'b'));

  it('more defaults at the start never raise a price or lower an LTV, and no survivor of the larger cascade defaults in the smaller', () => {
    fc.assert(
      fc.property(arbBook, fc.integer({ min: 0, max: 7 }), (xs, pick) => {
        const b = toBook(xs);
        const base = contagion(b, market, AT_MS, params).result;
        const more = contagion(b, market, AT_MS, params, { forcedDefaults: [b[pick % b.length].id] }).result;
        const resale = (r: typeof base) => r.models[0]?.resaleAfter ?? 25_000;
        expect(resale(more)).toBeLessThanOrEqual(resale(base) + 1e-9);
        for (let i = 0; i < b.length; i++) {
          const [x, y] = [base.entities[i], more.entities[i]];
          expect(y.ltvAfter ?? 0).toBeGreaterThanOrEqual((x.ltvAfter ?? 0) - 1e-12);
          if (x.defaultRound !== null) expect(y.defaultRound).not.toBeNull();
        }
      }),
      { numRuns: 60 },
    );
  });

  it('reaches a fixed point: one more round at the final market adds no default', () => {
    fc.assert(
      fc.property(arbBook, (xs) => {
        const b = toBook(xs);
        const r = contagion(b, market, AT_MS, params).result;
        if (!r.converged) return;
        for (const e of r.entities) {
          const atLiquidation = e.facilities.some((f) => f.statusAfter === 'liquidation');
          if (atLiquidation) expect(e.defaultRound).not.toBeNull();
        }
        expect(r.entities.filter((e) => e.defaultRound !== null).every((e) => (e.defaultRound ?? 0) <= r.rounds)).toBe(true);
      }),
      { numRuns: 60 },
    );
  });
});
