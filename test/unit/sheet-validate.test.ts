import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateSheetFile, versionAt } from '../../src/domain/sheet/sheet-validate.ts';
import { parseDateMs } from '../../src/domain/calendar.ts';

const FILE = 'entities/northwind.yaml';

/** A valid raw sheet (as a YAML loader returns it); each test breaks one thing. */
function rawSheet(): Record<string, unknown> {
  return {
    id: 'northwind',
    name: 'Northwind',
    type: 'neocloud',
    cash: 1000,
    holdings: { BTC: 100, ETH: 0 },
    fleet: [
      { id: 'h100-a', model: 'H100-SXM', count: 10, costPerUnit: 30000, acquiredAt: '2024-01-01', liquidity: { depthPerMonth: 8000, h0: 0.1, k: 0.05, hmax: 0.8 } },
      { id: 'h100-b', model: 'H100-SXM', count: 10, costPerUnit: 30000, acquiredAt: '2024-06-01' },
    ],
    facilities: [
      {
        id: 'loan',
        kind: 'gpu_term_loan',
        principal: 100000,
        rate: 0.1,
        start: '2024-06-01',
        maturity: '2027-06-01',
        collateral: ['fleet:h100-a', 'holdings:BTC:40'],
        covenants: { ltvWarn: 0.65, ltvMarginCall: 0.75, ltvLiquidation: 0.85 },
      },
    ],
  };
}

type Raw = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function problemsOf(mutate: (s: Raw) => void, raw: Raw = rawSheet()): string[] {
  mutate(raw);
  const r = validateSheetFile(raw, FILE);
  return r.ok ? [] : r.problems;
}

describe('validateSheetFile', () => {
  it('accepts a valid sheet and returns it as an entity with one version', () => {
    const r = validateSheetFile(rawSheet(), FILE);
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.entity.id).toBe('northwind');
      expect(r.entity.versions).toHaveLength(1);
      expect(r.entity.versions[0].fleet[1].utilization).toBe(1);
    }
  });

  it('accepts both worked examples of DOMAIN.md', () => {
    for (const name of ['northwind-neocloud', 'granite-mining']) {
      const raw: unknown = JSON.parse(readFileSync(resolve(process.cwd(), '../shared/examples/valuation', `${name}.json`), 'utf8'));
      expect(validateSheetFile(raw, `${name}.json`).ok).toBe(true);
    }
  });

  it('refuses a rate above 1 with the file, the path and the reason', () => {
    expect(problemsOf((s) => (s.facilities[0].rate = 1.5))).toEqual(['entities/northwind.yaml: facilities[0].rate: must be a number between 0 and 1']);
  });

  it('refuses unknown fields, naming each one', () => {
    expect(problemsOf((s) => ((s.colour = 'red'), (s.fleet[0].liquidity.speed = 1)))).toEqual([
      'entities/northwind.yaml: fleet[0].liquidity.speed: unknown field',
      'entities/northwind.yaml: colour: unknown field',
    ]);
  });

  it('refuses fractions outside their range: depreciation at 1, utilization, share and h0 above 1', () => {
    expect(
      problemsOf((s) => {
        s.fleet[0].depreciation = 1;
        s.fleet[0].utilization = 1.2;
        s.fleet[0].liquidity.h0 = 1.1;
        s.fleet[1].contracted = { share: -0.1, ratePerHour: 2, until: '2026-01-01' };
      }),
    ).toEqual([
      'entities/northwind.yaml: fleet[0].utilization: must be a number between 0 and 1',
      'entities/northwind.yaml: fleet[0].liquidity.h0: must be a number between 0 and 1',
      'entities/northwind.yaml: fleet[0].depreciation: must be a number between 0 and 1',
      'entities/northwind.yaml: fleet[1].contracted.share: must be a number between 0 and 1',
    ]);
  });

  it('refuses covenant thresholds out of order', () => {
    expect(problemsOf((s) => (s.facilities[0].covenants.ltvMarginCall = 0.9))).toEqual([
      'entities/northwind.yaml: facilities[0].covenants.ltvLiquidation: thresholds must be in order ltvWarn < ltvMarginCall < ltvLiquidation',
    ]);
  });

  it('refuses a pledge of a fleet item that does not exist', () => {
    expect(problemsOf((s) => (s.facilities[0].collateral = ['fleet:h100-z']))).toEqual([
      'entities/northwind.yaml: facilities[0].collateral[0]: pledges fleet item "h100-z" that does not exist',
    ]);
  });

  it('refuses a pledge of an asset the sheet does not hold', () => {
    expect(problemsOf((s) => (s.facilities[0].collateral = ['holdings:ETH']))).toEqual([
      'entities/northwind.yaml: facilities[0].collateral[0]: pledges ETH that the sheet does not hold',
    ]);
  });

  it('refuses partial pledges of one asset adding up to more than is held, across facilities', () => {
    expect(
      problemsOf((s) => {
        s.facilities.push({ ...s.facilities[0], id: 'loan-2', collateral: ['holdings:BTC:61'] });
      }),
    ).toEqual(['entities/northwind.yaml: facilities[1].collateral[0]: partial pledges of BTC add up to 101, more than the 100 held']);
  });

  it('refuses a whole-asset pledge beside a partial one of the same asset', () => {
    expect(
      problemsOf((s) => {
        s.facilities.push({ ...s.facilities[0], id: 'loan-2', collateral: ['holdings:BTC'] });
      }),
    ).toEqual(['entities/northwind.yaml: facilities[1].collateral[0]: pledges all BTC held beside a partial pledge of it at facilities[0].collateral[1]']);
  });

  it('refuses duplicate fleet and facility ids', () => {
    expect(
      problemsOf((s) => {
        s.fleet[1].id = 'h100-a';
        s.facilities.push({ ...s.facilities[0], collateral: [] });
      }),
    ).toEqual([
      'entities/northwind.yaml: fleet[1].id: duplicate id "h100-a"',
      'entities/northwind.yaml: facilities[1].id: duplicate id "loan"',
    ]);
  });

  it('refuses a maturity on or before the start', () => {
    expect(problemsOf((s) => (s.facilities[0].maturity = '2024-06-01'))).toEqual(['entities/northwind.yaml: facilities[0].maturity: must be after start']);
  });

  it('refuses wrong types, missing fields and unknown enum values in plain words', () => {
    expect(
      problemsOf((s) => {
        s.cash = 'lots';
        delete s.name;
        s.type = 'bank';
      }),
    ).toEqual([
      'entities/northwind.yaml: name: is required',
      'entities/northwind.yaml: type: must be one of neocloud, miner',
      'entities/northwind.yaml: cash: must be a number',
    ]);
  });

  it('refuses a date that does not exist', () => {
    expect(problemsOf((s) => (s.fleet[0].acquiredAt = '2024-02-30'))).toEqual(['entities/northwind.yaml: fleet[0].acquiredAt: must be a date (YYYY-MM-DD) or ISO date-time']);
  });

  it('refuses the same item pledged twice by one facility and a lot of zero coins', () => {
    expect(problemsOf((s) => (s.facilities[0].collateral = ['fleet:h100-a', 'fleet:h100-a', 'holdings:BTC:0']))).toEqual([
      'entities/northwind.yaml: facilities[0].collateral[1]: pledges "fleet:h100-a" twice',
      'entities/northwind.yaml: facilities[0].collateral[2]: must pledge a positive amount of BTC',
    ]);
  });

  it('refuses an ltvRestore at or above ltvMarginCall', () => {
    expect(problemsOf((s) => (s.facilities[0].ltvRestore = 0.75))).toEqual(['entities/northwind.yaml: facilities[0].ltvRestore: must be below ltvMarginCall']);
  });

  it('refuses a file that is not a mapping', () => {
    expect(validateSheetFile([1, 2], FILE)).toEqual({ ok: false, problems: ['entities/northwind.yaml: (root): must be a mapping'] });
  });
});

describe('multi-version files', () => {
  const v = (effectiveFrom: string | undefined, cash: number): Raw => ({ ...rawSheet(), ...(effectiveFrom === undefined ? {} : { effectiveFrom }), cash });

  it('sorts versions by effectiveFrom and picks the one in force at an instant', () => {
    const r = validateSheetFile({ versions: [v(undefined, 1), v('2025-07-01', 3), v('2025-01-01', 2)] }, FILE);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.entity.versions.map((x) => x.cash)).toEqual([1, 2, 3]);
    expect(versionAt(r.entity, parseDateMs('2020-01-01'))?.cash).toBe(1);
    expect(versionAt(r.entity, parseDateMs('2025-01-01'))?.cash).toBe(2);
    expect(versionAt(r.entity, parseDateMs('2025-06-30'))?.cash).toBe(2);
    expect(versionAt(r.entity, parseDateMs('2025-07-01'))?.cash).toBe(3);
  });

  it('has no version in force before the first effectiveFrom', () => {
    const r = validateSheetFile({ versions: [v('2025-01-01', 2)] }, FILE);
    expect(r.ok && versionAt(r.entity, parseDateMs('2024-12-31'))).toBe(null);
  });

  it('refuses a later version without effectiveFrom, a repeated date and a different id', () => {
    const other = { ...v('2025-01-01', 3), id: 'southwind' };
    expect(validateSheetFile({ versions: [v('2025-01-01', 1), v(undefined, 2), other] }, FILE)).toEqual({
      ok: false,
      problems: [
        'entities/northwind.yaml: versions[1].effectiveFrom: is required (only the first version may omit it)',
        'entities/northwind.yaml: versions[2].id: must be "northwind" like the other versions',
        'entities/northwind.yaml: versions[2].effectiveFrom: another version is in force from the same date',
      ],
    });
  });

  it('prefixes the problems of a version with its index', () => {
    const bad = v('2025-01-01', 2);
    bad.fleet = [{ ...bad.fleet[0], liquidity: { depthPerMonth: 8000, h0: 2, k: 0.05, hmax: 0.8 } }];
    expect(validateSheetFile({ versions: [v(undefined, 1), bad] }, FILE)).toEqual({
      ok: false,
      problems: ['entities/northwind.yaml: versions[1].fleet[0].liquidity.h0: must be a number between 0 and 1'],
    });
  });
});
