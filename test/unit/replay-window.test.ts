import { describe, expect, it } from 'vitest';
import { replayWindowMs } from '../../src/replay/replay.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe("a replay's conflation window", () => {
  it('follows the span of the input: about 500 windows, rounded up to a round length', () => {
    expect(replayWindowMs(MINUTE, 27.8 * HOUR)).toBe(5 * MINUTE); // the 1,000,000-event benchmark stream
    expect(replayWindowMs(MINUTE, 30 * DAY)).toBe(2 * HOUR);
    expect(replayWindowMs(MINUTE, 365 * DAY)).toBe(DAY);
    expect(replayWindowMs(MINUTE, 8 * 365 * DAY)).toBe(6 * DAY);
  });

  it('is never shorter than the configured window', () => {
    expect(replayWindowMs(MINUTE, 2 * HOUR)).toBe(MINUTE);
    expect(replayWindowMs(MINUTE, 0)).toBe(MINUTE);
    expect(replayWindowMs(15 * MINUTE, 27.8 * HOUR)).toBe(15 * MINUTE);
  });
});
