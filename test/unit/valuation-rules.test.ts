import { describe, expect, it } from 'vitest';
import { addMonths, parseDateMs, wholeMonths } from '../../src/domain/calendar.ts';
import type { DomainParams } from '../../src/domain/params.ts';
import { DEFAULT_SCENARIOS } from '../../src/domain/params.ts';
import { entityExposure, portfolioExposure } from '../../src/domain/valuation/portfolio.ts';
import { defaultDomainParams, exposureOf, outstandingAt, valueEntity } from '../../src/domain/valuation/valuation.ts';
import { aCatalog, aCatalogModel, aFacility, aFleetItem, AT_MS, aMarket, anAsicItem, aSheet, emptyCatalog } from '../support/builders.ts';

const d = parseDateMs;
const params = defaultDomainParams(emptyCatalog());
const withCatalog = (p: DomainParams = params): DomainParams => ({
  ...p,
  catalog: aCatalog([aCatalogModel(), aCatalogModel({ id: 'B200', generation: 4, releaseDate: '2025-01-01' })]),
});

describe('calendar months (DOMAIN.md "Units and time")', () => {
  it('clamps the day of month to the last day of the target month and keeps the time of day', () => {
    expect(addMonths(d('2024-01-31'), 1)).toBe(d('2024-02-29'));
    expect(addMonths(d('2025-01-31'), 1)).toBe(d('2025-02-28'));
    expect(addMonths(d('2025-01-31T13:45:00Z'), 3)).toBe(d('2025-04-30T13:45:00Z'));
    expect(addMonths(d('2025-03-15'), -14)).toBe(d('2024-01-15'));
    expect(addMonths(d('2025-11-30'), 14)).toBe(d('2027-01-30'));
  });

  it('counts whole months as the largest k with addMonths(a, k) <= t, and 0 before a', () => {
    expect(wholeMonths(d('2024-06-01'), d('2025-10-01'))).toBe(16);
    expect(wholeMonths(d('2024-06-01'), d('2025-09-30T23:59:59Z'))).toBe(15);
    expect(wholeMonths(d('2024-01-31'), d('2024-02-29'))).toBe(1);
    expect(wholeMonths(d('2024-01-31'), d('2024-02-28'))).toBe(0);
    expect(wholeMonths(d('2025-10-01'), d('2025-01-01'))).toBe(0);
  });

  it('reads dates as 00:00 UTC and date-times without an offset as UTC', () => {
    expect(d('2024-06-01')).toBe(Date.UTC(2024, 5, 1));
    expect(d('2024-06-01T12:00:00')).toBe(Date.UTC(2024, 5, 1, 12));
    expect(d('2024-02-30')).toBeNaN();
  });
});

describe('outstanding principal', () => {
  const start = d('2024-06-01');
  const maturity = d('2029-06-01');
  it('is nothing before the start and from the maturity on', () => {
    expect(outstandingAt(1200, 60, start, maturity, start - 1)).toBe(0);
    expect(outstandingAt(1200, 60, start, maturity, maturity)).toBe(0);
    expect(outstandingAt(1200, 0, start, maturity, start)).toBe(1200);
  });
  it('falls by one instalment on each monthly anniversary of the start', () => {
    expect(outstandingAt(1200, 60, start, maturity, d('2024-06-30'))).toBe(1200);
    expect(outstandingAt(1200, 60, start, maturity, d('2024-07-01'))).toBe(1180);
  });
});

describe('cure amount, tenor and collateral life (docs/valuation.md)', () => {
  // 1000 H100 at a resale of 25,000 = 25M of collateral against a 20M bullet: ltv 0.8.
  it('is the collateral to add to bring the ltv back to ltvWarn, by default', () => {
    const v = valueEntity(aSheet(), aMarket(), AT_MS, params);
    expect(v.facilities[0].ltv).toBeCloseTo(0.8, 12);
    expect(v.facilities[0].cureAmountUsd).toBeCloseTo(20_000_000 / 0.65 - 25_000_000, 4);
  });

  it('uses the facility ltvRestore when given, and is 0 at or below it', () => {
    const restore = valueEntity(aSheet({ facilities: [aFacility({ ltvRestore: 0.7 })] }), aMarket(), AT_MS, params);
    expect(restore.facilities[0].cureAmountUsd).toBeCloseTo(20_000_000 / 0.7 - 25_000_000, 4);
    const fine = valueEntity(aSheet({ facilities: [aFacility({ principal: 10_000_000 })] }), aMarket(), AT_MS, params);
    expect(fine.facilities[0].cureAmountUsd).toBe(0);
  });

  it('is null for an unsecured facility, and falls back to ltvMarginCall without ltvWarn', () => {
    const v = valueEntity(
      aSheet({
        facilities: [
          aFacility({ id: 'unsecured', collateral: [] }),
          aFacility({ id: 'mc-only', covenants: { ltvMarginCall: 0.75 } }),
        ],
      }),
      aMarket(),
      AT_MS,
      params,
    );
    expect(v.facilities[0].cureAmountUsd).toBe(null);
    // the unsecured facility takes no share of the item: 'mc-only' holds all 25M of it
    expect(v.facilities[1].cureAmountUsd).toBeCloseTo(20_000_000 / 0.75 - 25_000_000, 4);
  });

  it('counts collateral life from acquisition, capped by the model life from release, and flags debt that outlives it', () => {
    const v = valueEntity(aSheet(), aMarket(), AT_MS, withCatalog());
    // H100: released 2023-03-01, 36 months: end 2026-03-01 (acquired 2024-01-01 would give 2027-01-01)
    expect(v.facilities[0].tenorMonthsLeft).toBe(39); // to 2029-01-01
    expect(v.facilities[0].collateralLifeMonthsLeft).toBe(5);
    expect(v.facilities[0].debtOutlivesCollateral).toBe(true);
    const preorder = valueEntity(aSheet({ fleet: [aFleetItem({ acquiredAt: '2022-12-01' })] }), aMarket(), AT_MS, withCatalog());
    expect(preorder.facilities[0].collateralLifeMonthsLeft).toBe(2); // 2025-12-01
  });

  it('has no collateral life without a pledged fleet item of a catalog model', () => {
    const unknown = valueEntity(aSheet(), aMarket(), AT_MS, params);
    expect(unknown.facilities[0].collateralLifeMonthsLeft).toBe(null);
    expect(unknown.facilities[0].debtOutlivesCollateral).toBe(false);
    const crypto = valueEntity(aSheet({ holdings: { BTC: 300 }, facilities: [aFacility({ collateral: ['holdings:BTC'] })] }), aMarket(), AT_MS, withCatalog());
    expect(crypto.facilities[0].collateralLifeMonthsLeft).toBe(null);
    expect(crypto.facilities[0].tenorMonthsLeft).toBe(39);
  });

  it('reports the lender of each facility, null when the sheet names none', () => {
    const v = valueEntity(aSheet({ facilities: [aFacility({ lender: 'example-bank' }), aFacility({ id: 'b', collateral: [] })] }), aMarket(), AT_MS, params);
    expect(v.facilities.map((f) => f.lender)).toEqual(['example-bank', null]);
  });
});

describe('the next_generation scenario', () => {
  const nextGen = (p: DomainParams) => ({ ...p, scenarios: DEFAULT_SCENARIOS.filter((s) => s.name === 'next_generation') });

  it('cuts resale 30% for a GPU model older than the newest generation in the catalog', () => {
    const v = valueEntity(aSheet(), aMarket(), AT_MS, nextGen(withCatalog()));
    expect(v.stress[0].facilities[0].ltv).toBeCloseTo(20_000_000 / (25_000_000 * 0.7), 12);
    expect(v.stress[0].dscr).toBeLessThan(v.dscr!);
  });

  it('leaves the newest generation untouched', () => {
    const only = { ...params, catalog: aCatalog([aCatalogModel()]) };
    const v = valueEntity(aSheet(), aMarket(), AT_MS, nextGen(only));
    expect(v.stress[0].facilities[0].ltv).toBe(v.facilities[0].ltv);
    expect(v.stress[0].dscr).toBe(v.dscr);
  });

  it('counts a model absent from the catalog as older', () => {
    const v = valueEntity(aSheet({ fleet: [aFleetItem({ model: 'MYSTERY-GPU', id: 'h100-a' })] }), aMarket({ resale: { 'MYSTERY-GPU': 25_000 }, rental: { 'MYSTERY-GPU': 2 } }), AT_MS, nextGen(withCatalog()));
    expect(v.stress[0].facilities[0].ltv).toBeCloseTo(20_000_000 / 17_500_000, 12);
  });
});

describe('models not in the catalog and model values', () => {
  it('values a model without a resale index from its cost, the DOMAIN.md 0.30 depreciation and default liquidity', () => {
    const v = valueEntity(aSheet({ fleet: [aFleetItem({ model: 'X-1', acquiredAt: '2024-10-01' })] }), aMarket({ rental: { 'X-1': 2 } }), AT_MS, params);
    const years = (AT_MS - d('2024-10-01')) / (365.25 * 86_400_000);
    expect(v.fleet[0].valuedBy).toBe('model');
    expect(v.fleet[0].marketValue).toBeCloseTo(1000 * 30_000 * Math.pow(0.7, years), 4);
    expect(v.fleet[0].haircut).toBeCloseTo(0.1 + (0.05 * 1000) / 8000, 12);
  });

  it('gives age 0 to an item acquired in the future', () => {
    const v = valueEntity(aSheet({ fleet: [aFleetItem({ model: 'X-1', acquiredAt: '2026-01-01' })] }), aMarket({ rental: { 'X-1': 2 } }), AT_MS, params);
    expect(v.fleet[0].marketValue).toBe(30_000_000);
  });
});

describe('collateral rules', () => {
  it('shares an item pledged to two owing facilities in proportion to their outstanding', () => {
    const v = valueEntity(
      aSheet({ facilities: [aFacility({ id: 'a', principal: 15_000_000 }), aFacility({ id: 'b', principal: 5_000_000 })] }),
      aMarket(),
      AT_MS,
      params,
    );
    expect(v.facilities.map((f) => f.collateralValue)).toEqual([18_750_000, 6_250_000]);
    expect(v.collateralValue).toBe(25_000_000);
  });

  it('releases the pledges of a repaid facility to the others and to unpledged crypto', () => {
    const v = valueEntity(
      aSheet({
        holdings: { BTC: 100 },
        facilities: [
          aFacility({ id: 'repaid', start: '2020-01-01', maturity: '2024-01-01', collateral: ['holdings:BTC', 'fleet:h100-a'] }),
          aFacility({ id: 'live' }),
        ],
      }),
      aMarket(),
      AT_MS,
      params,
    );
    expect(v.facilities[0]).toMatchObject({ outstanding: 0, collateralValue: 0, ltv: 0, status: 'ok', ltvIn12m: 0 });
    expect(v.facilities[1].collateralValue).toBe(25_000_000);
    expect(v.collateralValue).toBe(25_000_000);
    // unpledged BTC counts in liquidity coverage: 100 * 100,000 * 0.95
    const noBtc = valueEntity(aSheet({ facilities: [aFacility({ id: 'live' })] }), aMarket(), AT_MS, params);
    expect(v.liquidityCoverage! - noBtc.liquidityCoverage!).toBeCloseTo(9_500_000 / (v.debtService12 + v.maturities12), 12);
  });

  it('treats worthless collateral behind owed debt as liquidation, never ok', () => {
    const v = valueEntity(aSheet({ fleet: [aFleetItem({ count: 0 })] }), aMarket(), AT_MS, params);
    expect(v.facilities[0]).toMatchObject({ ltv: null, forcedSaleLtv: null, headroom: null, status: 'liquidation' });
    expect(v.ltv).toBe(null);
  });

  it('values a lot of coins on its own and haircuts crypto by cryptoHaircut', () => {
    const v = valueEntity(aSheet({ holdings: { BTC: 500 }, facilities: [aFacility({ collateral: ['holdings:BTC:300'] })] }), aMarket(), AT_MS, params);
    expect(v.facilities[0].collateralValue).toBe(30_000_000);
    expect(v.facilities[0].liquidationValue).toBeCloseTo(28_500_000, 6);
    expect(v.facilities[0].ltvIn12m).toBeCloseTo(20_000_000 / 30_000_000, 12);
  });
});

describe('missing data (DOMAIN.md "Missing data")', () => {
  it('makes noi12, dscr and the break-even null, the DSCR status unknown, and names the missing rental index', () => {
    const v = valueEntity(aSheet(), aMarket({ rental: {} }), AT_MS, params);
    expect(v).toMatchObject({ noi12: null, dscr: null, dscrStatus: 'unknown', breakevenRentalRate: null, liquidityCoverage: null, missing: ['rental:H100-SXM'] });
    expect(v.ltv).toBeCloseTo(0.8, 12);
  });

  it('does not need spot rental for a GPU item fully contracted for the year', () => {
    const item = aFleetItem({ contracted: { share: 1, ratePerHour: 2.5, until: '2027-01-01' } });
    const v = valueEntity(aSheet({ fleet: [item] }), aMarket({ rental: {} }), AT_MS, params);
    expect(v.missing).toEqual([]);
    expect(v.noi12).toBeCloseTo(1000 * 730.5 * 12 * 2.5, 4);
  });

  it('leaves the ltv of a facility backed by coins without a price null, its status unknown, flagged as missing data', () => {
    const v = valueEntity(aSheet({ holdings: { BTC: 500 }, facilities: [aFacility({ collateral: ['holdings:BTC'] })] }), aMarket({ crypto: {} }), AT_MS, params);
    expect(v.facilities[0]).toMatchObject({ ltv: null, collateralValue: null, status: 'unknown', dataMissing: true });
    expect(v).toMatchObject({ cryptoValue: null, grossAssets: null, equity: null, ltv: null, missing: ['BTC'] });
  });

  it('needs the hashprice for an ASIC fleet', () => {
    const v = valueEntity(aSheet({ fleet: [anAsicItem()], facilities: [] }), aMarket({ hashprice: null }), AT_MS, params);
    expect(v.missing).toEqual(['hashprice']);
    expect(v.noi12).toBe(null);
  });
});

describe('ASIC margin', () => {
  it('switches off machines that lose money: a month never has a negative margin', () => {
    const v = valueEntity(aSheet({ fleet: [anAsicItem({ opexPerUnitDay: 100 })], facilities: [], fixedCostsPerYear: 0 }), aMarket(), AT_MS, params);
    expect(v.noi12).toBe(0);
  });
});

describe('exposureOf', () => {
  it('lists held coins, every fleet model resale, GPU rentals and the hashprice for ASICs', () => {
    const sheet = aSheet({ holdings: { BTC: 1, ETH: 0 }, fleet: [aFleetItem(), anAsicItem()] });
    expect([...exposureOf(sheet, params)].sort()).toEqual(['BTC', 'hashprice', 'rental:H100-SXM', 'resale:H100-SXM', 'resale:S19XP']);
  });
});

describe('portfolioExposure', () => {
  it('sums pledged units per model across entities and the months the market needs to absorb those at margin call', () => {
    const stressed = aSheet({ id: 'a' }); // ltv 0.8: margin call
    const healthy = aSheet({ id: 'b', facilities: [aFacility({ principal: 5_000_000 })] });
    const unpledged = aSheet({ id: 'c', facilities: [aFacility({ collateral: [] })] });
    const p = withCatalog();
    const items = [stressed, healthy, unpledged].map((sheet) => ({ sheet, valuation: valueEntity(sheet, aMarket(), AT_MS, p, { stress: false }) }));
    expect(portfolioExposure(items, p)).toEqual([{ model: 'H100-SXM', unitsPledged: 2000, unitsAtMarginCall: 1000, depthPerMonth: 8000, monthsToAbsorb: 0.125 }]);
    // the book is the sum of the entities' own contributions
    expect(items.map(({ sheet, valuation }) => entityExposure(sheet, valuation, p))).toEqual([
      [{ model: 'H100-SXM', unitsPledged: 1000, unitsAtMarginCall: 1000, depthPerMonth: 8000 }],
      [{ model: 'H100-SXM', unitsPledged: 1000, unitsAtMarginCall: 0, depthPerMonth: 8000 }],
      [],
    ]);
  });

  it('takes the smallest entity depth for a model outside the catalog (each entity: its first pledged item with its own liquidity, else the default)', () => {
    const p = withCatalog();
    const own = (id: string, depthPerMonth?: number) =>
      aSheet({ id, fleet: [aFleetItem({ model: 'X-999', ...(depthPerMonth === undefined ? {} : { liquidity: { depthPerMonth, h0: 0.1, k: 0.05, hmax: 0.8 } }) })] });
    const items = [own('a', 3000), own('b'), own('c', 5000)].map((sheet) => ({ sheet, valuation: valueEntity(sheet, aMarket(), AT_MS, p, { stress: false }) }));
    expect(items.map(({ sheet, valuation }) => entityExposure(sheet, valuation, p)[0].depthPerMonth)).toEqual([3000, 8000, 5000]);
    expect(portfolioExposure(items, p).map((x) => [x.model, x.depthPerMonth])).toEqual([['X-999', 3000]]);
  });
});
