import { describe, expect, it, vi } from 'vitest';
import type * as GuardModule from '../../src/domain/step/guard.ts';
import { comparePaths, downAndUp } from './step-equality.ts';
import { params } from './step-helpers.ts';

/**
 * The equality test can fail: with a planted error in the filter (every interval 20% wider than
 * the guard computed, so the filter vouches for moves that do cross a line), the same harness as
 * step-incremental.test.ts finds a difference between the two paths.
 */
const WIDEN = 0.2;

vi.mock('../../src/domain/step/guard.ts', async (importOriginal) => {
  const original = await importOriginal<typeof GuardModule>();
  return {
    ...original,
    guardOf: (...args: Parameters<typeof original.guardOf>) => {
      const g = original.guardOf(...args);
      if (g === null) return null;
      const lo = g.lo.map((x) => (Number.isFinite(x) ? x * (1 - WIDEN) : x));
      const hi = g.hi.map((x) => (Number.isFinite(x) ? x * (1 + WIDEN) : x));
      return { ...g, lo, hi };
    },
  };
});

describe('the equality test of the incremental step', () => {
  it('catches a filter whose intervals are too wide', () => {
    const p = params();
    for (let seed = 1; seed <= 3; seed++) expect(comparePaths(downAndUp(seed), p).difference).not.toBeNull();
  }, 60_000);
});
