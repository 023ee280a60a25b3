import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MarketSnapshotSchema, toMarket } from '../../src/domain/market/market.ts';
import { SheetVersionSchema } from '../../src/domain/sheet/sheet.ts';
import { defaultDomainParams, valueEntity } from '../../src/domain/valuation/valuation.ts';
import { parseDateMs } from '../../src/domain/calendar.ts';
import { emptyCatalog } from '../support/builders.ts';

// The worked examples of shared/DOMAIN.md, read where they live (never copied into the repo).
const examples = resolve(process.cwd(), '../shared/examples/valuation');
const readJson = (name: string): unknown => JSON.parse(readFileSync(resolve(examples, name), 'utf8'));

/** Compares every key of `expected` (extra keys in `actual` are allowed); stress scenarios by name. */
function diffs(expected: unknown, actual: unknown, path: string, out: string[]): void {
  if (typeof expected === 'number') {
    if (typeof actual !== 'number') {
      out.push(`${path}: expected ${expected}, got ${String(actual)}`);
      return;
    }
    const tol = Math.max(1e-6, 1e-9 * Math.abs(expected));
    if (!(Math.abs(actual - expected) <= tol)) out.push(`${path}: expected ${expected}, got ${actual}`);
    return;
  }
  if (expected === null || typeof expected !== 'object') {
    if (actual !== expected) out.push(`${path}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
    return;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) {
      out.push(`${path}: expected an array`);
      return;
    }
    expected.forEach((e, i) => {
      const byName = e !== null && typeof e === 'object' && 'scenario' in e;
      const a = byName ? actual.find((x: { scenario?: string }) => x.scenario === (e as { scenario: string }).scenario) : actual[i];
      if (byName && a === undefined) out.push(`${path}: scenario ${(e as { scenario: string }).scenario} missing`);
      else diffs(e, a, `${path}[${i}]`, out);
    });
    if (!expected.some((e) => e !== null && typeof e === 'object' && 'scenario' in e) && actual.length !== expected.length) {
      out.push(`${path}: expected ${expected.length} elements, got ${actual.length}`);
    }
    return;
  }
  if (actual === null || typeof actual !== 'object') {
    out.push(`${path}: expected an object, got ${JSON.stringify(actual)}`);
    return;
  }
  for (const [k, v] of Object.entries(expected)) diffs(v, (actual as Record<string, unknown>)[k], path === '' ? k : `${path}.${k}`, out);
}

describe('the worked examples of DOMAIN.md', () => {
  const snapshot = MarketSnapshotSchema.parse(readJson('market-2025-10-01.json'));
  const market = toMarket(snapshot);
  const atMs = parseDateMs(snapshot.at);
  const params = defaultDomainParams(emptyCatalog());

  for (const name of ['northwind-neocloud', 'granite-mining']) {
    it(`values ${name} exactly as its expected output`, () => {
      const sheet = SheetVersionSchema.parse(readJson(`${name}.json`));
      const valuation = valueEntity(sheet, market, atMs, params);
      const out: string[] = [];
      diffs(readJson(`${name}.expected.json`), JSON.parse(JSON.stringify(valuation)), '', out);
      expect(out).toEqual([]);
    });
  }

  it('reports no missing index when the market has every index the sheets need', () => {
    const sheet = SheetVersionSchema.parse(readJson('granite-mining.json'));
    expect(valueEntity(sheet, market, atMs, params).missing).toEqual([]);
  });
});
