import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Market } from '../../src/domain/market/market.ts';
import type { DomainParams } from '../../src/domain/params.ts';
import type { SheetVersion } from '../../src/domain/sheet/sheet.ts';
import { validateSheetFile } from '../../src/domain/sheet/sheet-validate.ts';
import { ZERO_SCENARIO } from '../../src/domain/valuation/stress.ts';
import { defaultDomainParams, valueEntity } from '../../src/domain/valuation/valuation.ts';
import type { Valuation } from '../../src/domain/valuation/valuation-types.ts';
import { aCatalog, aCatalogModel } from '../support/builders.ts';

/**
 * Properties of the valuation over generated sheets and markets (fast-check). The generator builds
 * sheets that pass validation by construction (checked: a generator bug fails the test).
 */
const RUNS = { numRuns: 200 };
const DAY_MS = 86_400_000;
const BASE_MS = Date.UTC(2020, 0, 1);
const iso = (days: number): string => new Date(BASE_MS + days * DAY_MS).toISOString().slice(0, 10);
const MODELS = { gpu: ['H100-SXM', 'H200', 'X-1'], asic: ['S19XP', 'S21'] } as const;

const params: DomainParams = defaultDomainParams(
  aCatalog([aCatalogModel(), aCatalogModel({ id: 'H200', generation: 4, releaseDate: '2024-01-01' }), aCatalogModel({ id: 'S19XP', class: 'asic', generation: 2 })]),
);

// Amounts are 0 or at least 1 USD: sub-cent denormals are not money (ratios over them are null).
const money = (max: number) => fc.oneof(fc.constant(0), fc.double({ min: 1, max, noNaN: true }));
const fraction = fc.double({ min: 0, max: 1, noNaN: true });

const itemArb = fc.record({
  asic: fc.boolean(),
  modelPick: fc.nat(9),
  count: fc.integer({ min: 0, max: 50_000 }),
  costPerUnit: money(60_000),
  acquiredDay: fc.integer({ min: 0, max: 3650 }),
  utilization: fraction,
  contracted: fc.option(fc.record({ share: fraction, ratePerHour: money(5), untilDay: fc.integer({ min: 0, max: 4000 }) }), { nil: undefined }),
  opexPerUnitHour: money(1),
  opexPerUnitDay: money(10),
  hashrateTh: fc.double({ min: 10, max: 300, noNaN: true }),
  depreciation: fc.option(fc.double({ min: 0, max: 0.9, noNaN: true }), { nil: undefined }),
  liquidity: fc.option(
    fc.record({ depthPerMonth: fc.double({ min: 100, max: 100_000, noNaN: true }), h0: fc.double({ min: 0, max: 0.5, noNaN: true }), k: fraction, hmax: fraction }),
    { nil: undefined },
  ),
});

const facilityArb = fc.record({
  principal: money(2e9),
  rate: fc.double({ min: 0, max: 0.25, noNaN: true }),
  startDay: fc.integer({ min: 0, max: 3650 }),
  tenorDays: fc.integer({ min: 1, max: 3650 }),
  months: fc.option(fc.integer({ min: 1, max: 120 }), { nil: undefined }),
  pledgeMask: fc.nat(7),
  crypto: fc.constantFrom('none', 'btc', 'eth'),
  thresholds: fc.option(fc.uniqueArray(fc.double({ min: 0.05, max: 2, noNaN: true }), { minLength: 3, maxLength: 3 }), { nil: undefined }),
  dscrMin: fc.option(fc.double({ min: 0, max: 3, noNaN: true }), { nil: undefined }),
});

const sheetArb = fc
  .record({
    cash: money(1e9),
    btc: fc.constantFrom(0, 10, 4500),
    eth: fc.constantFrom(0, 12_000),
    wholeCrypto: fc.boolean(),
    fixedCostsPerYear: money(1e8),
    rentalDeflation: fc.option(fc.double({ min: 0, max: 0.9, noNaN: true }), { nil: undefined }),
    hashpriceDecline: fc.double({ min: 0, max: 0.9, noNaN: true }),
    fleet: fc.array(itemArb, { minLength: 0, maxLength: 3 }),
    facilities: fc.array(facilityArb, { minLength: 0, maxLength: 3 }),
  })
  .map((s) => {
    const fleet = s.fleet.map((it, i) => {
      const cls = it.asic ? 'asic' : 'gpu';
      const models = MODELS[cls];
      return {
        id: `item-${i}`,
        class: cls,
        model: models[it.modelPick % models.length],
        count: it.count,
        costPerUnit: it.costPerUnit,
        acquiredAt: iso(it.acquiredDay),
        utilization: it.utilization,
        ...(it.contracted && !it.asic ? { contracted: { share: it.contracted.share, ratePerHour: it.contracted.ratePerHour, until: iso(it.contracted.untilDay) } } : {}),
        opexPerUnitHour: it.opexPerUnitHour,
        opexPerUnitDay: it.opexPerUnitDay,
        ...(it.asic ? { hashrateTh: it.hashrateTh } : {}),
        ...(it.depreciation === undefined ? {} : { depreciation: it.depreciation }),
        ...(it.liquidity === undefined ? {} : { liquidity: it.liquidity }),
      };
    });
    const n = Math.max(1, s.facilities.length);
    const facilities = s.facilities.map((f, j) => {
      const collateral = fleet.filter((_, i) => (f.pledgeMask >> i) & 1).map((it) => `fleet:${it.id}`);
      const asset = f.crypto === 'btc' && s.btc > 0 ? 'BTC' : f.crypto === 'eth' && s.eth > 0 ? 'ETH' : null;
      if (asset !== null) collateral.push(s.wholeCrypto ? `holdings:${asset}` : `holdings:${asset}:${Math.floor((asset === 'BTC' ? s.btc : s.eth) / n)}`);
      const t = f.thresholds === undefined ? undefined : [...f.thresholds].sort((a, b) => a - b);
      return {
        id: `fac-${j}`,
        kind: 'gpu_term_loan',
        principal: f.principal,
        rate: f.rate,
        start: iso(f.startDay),
        maturity: iso(f.startDay + f.tenorDays),
        amortization: f.months === undefined ? { kind: 'bullet' } : { kind: 'straight_line', months: f.months },
        collateral: collateral.filter((c) => !c.endsWith(':0')),
        covenants: {
          ...(t === undefined ? {} : { ltvWarn: t[0], ltvMarginCall: t[1], ltvLiquidation: t[2] }),
          ...(f.dscrMin === undefined ? {} : { dscrMin: f.dscrMin }),
        },
      };
    });
    return {
      id: 'gen',
      name: 'Generated',
      type: 'neocloud',
      cash: s.cash,
      holdings: { BTC: s.btc, ETH: s.eth },
      fixedCostsPerYear: s.fixedCostsPerYear,
      ...(s.rentalDeflation === undefined ? {} : { rentalDeflation: s.rentalDeflation }),
      hashpriceDecline: s.hashpriceDecline,
      fleet,
      facilities,
    };
  });

function toSheet(raw: unknown): SheetVersion {
  const r = validateSheetFile(raw, 'generated.json');
  if (!r.ok) throw new Error(`generator made an invalid sheet: ${r.problems.join('; ')}`);
  return r.entity.versions[0];
}

const price = (max: number) => fc.option(fc.double({ min: 0.01, max, noNaN: true }), { nil: undefined, freq: 8 });
const marketArb = fc
  .record({
    BTC: price(200_000),
    ETH: price(10_000),
    rental: fc.tuple(price(10), price(10), price(10)),
    resale: fc.tuple(price(50_000), price(50_000), price(50_000), price(5000), price(5000)),
    hashprice: fc.option(fc.double({ min: 0.001, max: 0.5, noNaN: true }), { nil: null, freq: 8 }),
  })
  .map((m): Market => {
    const pick = (names: readonly string[], values: readonly (number | undefined)[]): Record<string, number> => {
      const out: Record<string, number> = {};
      names.forEach((n, i) => {
        if (values[i] !== undefined) out[n] = values[i]!;
      });
      return out;
    };
    return {
      crypto: pick(['BTC', 'ETH'], [m.BTC, m.ETH]),
      rental: pick(MODELS.gpu, m.rental),
      resale: pick([...MODELS.gpu, ...MODELS.asic], m.resale),
      hashprice: m.hashprice,
    };
  });

const atArb = fc.integer({ min: 0, max: 4000 }).map((d) => BASE_MS + d * DAY_MS + 3_600_000 * (d % 24));
const inputs = fc.tuple(sheetArb.map(toSheet), marketArb, atArb);

const scale = (rec: Readonly<Record<string, number>>, k: number): Record<string, number> =>
  Object.fromEntries(Object.entries(rec).map(([key, v]) => [key, v * k]));
const notAbove = (a: number | null, b: number | null): boolean => a === null || b === null || a <= b + 1e-12 * Math.max(Math.abs(a), Math.abs(b)) + 1e-12;
const close = (a: number | null | undefined, b: number | null | undefined): boolean =>
  a === b || (typeof a === 'number' && typeof b === 'number' && Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b)) + 1e-6);

function numbersOf(x: unknown, out: number[] = []): number[] {
  if (typeof x === 'number') out.push(x);
  else if (Array.isArray(x)) for (const e of x) numbersOf(e, out);
  else if (x !== null && typeof x === 'object') for (const v of Object.values(x)) numbersOf(v, out);
  return out;
}

describe('valuation properties', () => {
  it('never lets the ltv rise when collateral prices rise', () => {
    fc.assert(
      fc.property(inputs, fc.double({ min: 1, max: 5, noNaN: true }), ([sheet, market, at], k) => {
        const up: Market = { ...market, crypto: scale(market.crypto, k), resale: scale(market.resale, k) };
        const a = valueEntity(sheet, market, at, params, { stress: false });
        const b = valueEntity(sheet, up, at, params, { stress: false });
        expect(notAbove(b.ltv, a.ltv)).toBe(true);
        a.facilities.forEach((f, i) => expect(notAbove(b.facilities[i].ltv, f.ltv)).toBe(true));
      }),
      RUNS,
    );
  });

  it('never lets the dscr fall when rental rises', () => {
    fc.assert(
      fc.property(inputs, fc.double({ min: 1, max: 5, noNaN: true }), ([sheet, market, at], k) => {
        const a = valueEntity(sheet, market, at, params, { stress: false });
        const b = valueEntity(sheet, { ...market, rental: scale(market.rental, k) }, at, params, { stress: false });
        expect(notAbove(a.dscr, b.dscr)).toBe(true);
      }),
      RUNS,
    );
  });

  it('never values a forced sale above the market value', () => {
    fc.assert(
      fc.property(inputs, ([sheet, market, at]) => {
        const v = valueEntity(sheet, market, at, params, { stress: false });
        for (const f of v.fleet) expect(notAbove(f.liquidationValue, f.marketValue)).toBe(true);
        for (const f of v.facilities) expect(notAbove(f.liquidationValue, f.collateralValue)).toBe(true);
        expect(notAbove(v.liquidationValue, v.collateralValue)).toBe(true);
      }),
      RUNS,
    );
  });

  it('gives the base valuation under a scenario of zero shocks', () => {
    const zero = { ...params, scenarios: [ZERO_SCENARIO] };
    fc.assert(
      fc.property(inputs, ([sheet, market, at]) => {
        const v = valueEntity(sheet, market, at, zero);
        expect(v.stress[0].ltv).toBe(v.ltv);
        expect(v.stress[0].dscr).toBe(v.dscr);
        expect(v.stress[0].facilities).toEqual(v.facilities.map((f) => ({ id: f.id, ltv: f.ltv, status: f.status })));
      }),
      RUNS,
    );
  });

  it('changes nothing when a fleet item is split in two', () => {
    const keys = ['fleetValue', 'grossAssets', 'collateralValue', 'liquidationValue', 'equity', 'ltv', 'forcedSaleLtv', 'noi12', 'dscr', 'liquidityCoverage', 'runwayMonths', 'netLeverage'] as const;
    fc.assert(
      fc.property(inputs, fc.double({ min: 0.01, max: 0.99, noNaN: true }), ([sheet, market, at], part) => {
        fc.pre(sheet.fleet.length > 0 && sheet.fleet[0].count >= 2);
        const item = sheet.fleet[0];
        const first = Math.max(1, Math.min(item.count - 1, Math.round(item.count * part)));
        const split: SheetVersion = {
          ...sheet,
          fleet: [{ ...item, id: `${item.id}-a`, count: first }, { ...item, id: `${item.id}-b`, count: item.count - first }, ...sheet.fleet.slice(1)],
          facilities: sheet.facilities.map((f) => ({
            ...f,
            collateral: f.collateral.flatMap((c) => (c === `fleet:${item.id}` ? [`fleet:${item.id}-a`, `fleet:${item.id}-b`] : [c])),
          })),
        };
        const a: Valuation = valueEntity(sheet, market, at, params);
        const b: Valuation = valueEntity(split, market, at, params);
        for (const k of keys) expect(close(a[k], b[k]), k).toBe(true);
        a.facilities.forEach((f, i) => {
          expect(close(f.ltv, b.facilities[i].ltv)).toBe(true);
          expect(close(f.forcedSaleLtv, b.facilities[i].forcedSaleLtv)).toBe(true);
          expect(close(f.ltvIn12m, b.facilities[i].ltvIn12m)).toBe(true);
        });
        a.stress.forEach((s, i) => expect(close(s.ltv, b.stress[i].ltv) && close(s.dscr, b.stress[i].dscr)).toBe(true));
      }),
      RUNS,
    );
  });

  it('never outputs NaN or Infinity', () => {
    fc.assert(
      fc.property(inputs, ([sheet, market, at]) => {
        const bad = numbersOf(valueEntity(sheet, market, at, params)).filter((x) => !Number.isFinite(x));
        expect(bad).toEqual([]);
      }),
      RUNS,
    );
  });

  it('gives identical outputs for the same inputs', () => {
    fc.assert(
      fc.property(inputs, ([sheet, market, at]) => {
        expect(JSON.stringify(valueEntity(sheet, market, at, params))).toBe(JSON.stringify(valueEntity(sheet, market, at, params)));
      }),
      RUNS,
    );
  });
});
