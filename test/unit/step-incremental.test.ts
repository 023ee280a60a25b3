import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { generateBook, generateQuotes } from '../../bench/book.ts';
import type { Op } from './step-equality.ts';
import { comparePaths, downAndUp, randomScenario } from './step-equality.ts';
import { params } from './step-helpers.ts';

/**
 * Equality is the acceptance of the incremental path (issue 12 point 4, docs/valuation.md
 * "Incremental revaluation"): the same operations folded through `step` on the reference path
 * (every exposed entity revalued in full by the reference valuation) and on the incremental path
 * (price intervals, the fast valuation) give the same outputs, in the same order, with the same
 * event ids and the same doubles, and end in the same alert states.
 */
const p = params();
/** Crypto needing two sources and going stale after a minute: missing and stale indexes all the time. */
const strict = params({ indexRules: { ...p.indexRules, 'kind:crypto': { staleAfterMs: 60_000, maxDeviation: 0.05, minSources: 2 } } });

describe('the incremental step against the reference step', () => {
  it('gives the same outputs and alert states for random books and streams (versions, tombstones, handovers, restores, two instances)', () => {
    const vouched = { full: 0, filtered: 0 };
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 2, max: 7 }), fc.boolean(), fc.constantFrom(0.04, 0.1), (seed, entities, strictRules, volatility) => {
        const { difference, incremental } = comparePaths(randomScenario(seed, entities, 240, volatility), strictRules ? strict : p);
        expect(difference).toBeNull();
        vouched.full += incremental.revaluations.full;
        vouched.filtered += incremental.revaluations.filtered;
      }),
      { numRuns: 80 },
    );
    // the streams exercise the filter, not only the fallback to full evaluation
    expect(vouched.filtered / (vouched.full + vouched.filtered)).toBeGreaterThan(0.15);
  }, 180_000);

  it('gives the same outputs while every price halves and comes back, every ltv drifting through its lines', () => {
    for (let seed = 1; seed <= 3; seed++) expect(comparePaths(downAndUp(seed), p).difference).toBeNull();
  }, 60_000);

  it('gives the same outputs on a seeded book of 100 entities through two hours across a month end (the full path too), and the filter does most of the work', () => {
    // from 22:00 on the last day of a month: a midnight and a month end on the way
    const book = generateBook({ entities: 100, seed: 11 });
    const quotes = generateQuotes({ seed: 11, count: 4_000, startTs: Date.UTC(2025, 9, 31, 22), cadenceMs: 2_000, instruments: book.instruments, sourcesPerInstrument: 3 });
    const ops: Op[] = [
      ...book.entities.map((entity, k): Op => ({ op: 'one', instance: k % 2, event: { kind: 'entity', id: entity.id, entity, ts: 1 } })),
      ...quotes.map((quote): Op => ({ op: 'all', event: { kind: 'quote', quote } })),
    ];
    const { difference, incremental } = comparePaths(ops, p, true);
    expect(difference).toBeNull();
    const { full, filtered } = incremental.revaluations;
    expect(filtered / (full + filtered)).toBeGreaterThan(0.9);
  }, 60_000);
});
