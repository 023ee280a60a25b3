import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { addMonths, civilInstant, wholeMonths, wholeMonthsBetween } from '../../src/domain/calendar.ts';

const instant = fc.integer({ min: Date.UTC(2015, 0, 1), max: Date.UTC(2040, 0, 1) });

describe('calendar months', () => {
  it('counts whole months from civil instants exactly as wholeMonths does', () => {
    fc.assert(
      fc.property(instant, instant, (a, t) => {
        expect(wholeMonthsBetween(civilInstant(a), civilInstant(t))).toBe(wholeMonths(a, t));
      }),
      { numRuns: 2000 },
    );
  });

  it('clamps to the last day of a shorter month', () => {
    expect(new Date(addMonths(Date.UTC(2024, 0, 31), 1)).toISOString()).toBe('2024-02-29T00:00:00.000Z');
    expect(wholeMonths(Date.UTC(2024, 0, 31), Date.UTC(2024, 1, 29))).toBe(1);
    expect(wholeMonths(Date.UTC(2024, 0, 31), Date.UTC(2024, 1, 28))).toBe(0);
  });
});
