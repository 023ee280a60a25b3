import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { generateBook, loadCatalog } from '../../bench/book.ts';
import { contagion } from '../../src/domain/contagion/contagion.ts';
import type { Market } from '../../src/domain/market/market.ts';
import { REVALUATION, type DomainParams } from '../../src/domain/params.ts';
import { versionAt } from '../../src/domain/sheet/sheet-validate.ts';
import type { SheetVersion } from '../../src/domain/sheet/sheet.ts';
import { defaultDomainParams } from '../../src/domain/valuation/valuation.ts';

/**
 * The cascade values the whole book at every round's market. By default it does so from each
 * sheet's compiled form (valuation/compiled.ts); on the reference path (`revaluation: reference`)
 * by the readable full valuation. Equality before speed: on random books, markets (prices moved
 * down far enough for defaults and several rounds, indexes missing), instants (off midnight) and
 * forced defaults, the two give the same report, double for double.
 */
const params: DomainParams = defaultDomainParams(loadCatalog());
const reference: DomainParams = { ...params, revaluation: REVALUATION.reference };

/** The book's market with every price scaled by a factor of its own (and some indexes dropped). */
function movedMarket(base: Market, scale: (key: string) => number | null): Market {
  const move = (group: string, xs: Readonly<Record<string, number>>): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(xs)) {
      const s = scale(`${group}:${k}`);
      if (s !== null) out[k] = v * s;
    }
    return out;
  };
  const h = scale('hashprice');
  return { crypto: move('crypto', base.crypto), rental: move('rental', base.rental), resale: move('resale', base.resale), hashprice: h === null || base.hashprice === null ? null : base.hashprice * h };
}

describe('the cascade on the compiled form and on the reference valuation', () => {
  it('gives the same report on random books, markets, instants and forced defaults', () => {
    let cascades = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.integer({ min: 5, max: 60 }),
        fc.double({ min: 0.2, max: 1.1, noNaN: true }),
        fc.double({ min: 0, max: 0.15, noNaN: true }),
        fc.integer({ min: 0, max: 10 * 365 * 86_400_000 }),
        fc.integer({ min: 0, max: 3 }),
        (seed, entities, level, missing, offsetMs, forced) => {
          const book = generateBook({ entities, seed });
          let n = seed;
          const rnd = (): number => ((n = (Math.imul(n, 1_103_515_245) + 12_345) >>> 0) / 2 ** 32);
          const market = movedMarket(book.market, () => (rnd() < missing ? null : level * (0.7 + 0.6 * rnd())));
          const atMs = Date.UTC(2024, 0, 1) + offsetMs;
          const sheets = book.entities.map((e) => versionAt(e, atMs)).filter((v): v is SheetVersion => v !== null);
          const forcedDefaults = sheets.slice(0, forced).map((s) => s.id);
          const fast = contagion(sheets, market, atMs, params, { forcedDefaults });
          const full = contagion(sheets, market, atMs, reference, { forcedDefaults });
          expect(fast.result).toEqual(full.result);
          expect([...fast.causes]).toEqual([...full.causes]);
          expect(fast.roundZero).toEqual(full.roundZero);
          expect([...fast.defaultedTodayByLender]).toEqual([...full.defaultedTodayByLender]);
          if (full.result.rounds > 0) cascades++;
        },
      ),
      // a fixed seed: the count below is of the cases drawn, and with a new draw each run it fell
      // to 9 of 150 once (CI, 2026-12-04); fast-check prints the seed of any failing case
      { numRuns: 150, seed: 20_261_204 },
    );
    // the books do cascade (18 of the 150 cases with this seed): rounds past the first are compared, not only quiet markets
    expect(cascades).toBeGreaterThan(10);
  }, 120_000);
});
