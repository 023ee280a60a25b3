import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { nextCureDeadline, nextDscrStatus, nextLtvStatus } from '../../src/domain/alerts/alerts.ts';
import type { LtvStatus } from '../../src/domain/valuation/valuation-types.ts';

const cov = { ltvWarn: 0.65, ltvMarginCall: 0.75, ltvLiquidation: 0.85 };
const h = 0.02;
const at = (ltv: number | null, worthlessCollateral = false) => ({ ltv, worthlessCollateral });

describe('nextLtvStatus', () => {
  it('worsens as soon as ltv reaches a line, straight to the level reached', () => {
    expect(nextLtvStatus('ok', at(0.75), cov, h)).toEqual({ to: 'margin_call', threshold: 0.75 });
    expect(nextLtvStatus('ok', at(0.6499), cov, h)).toBeNull();
  });

  it('recovers only when ltv is below the line by more than the band', () => {
    expect(nextLtvStatus('margin_call', at(0.74), cov, h)).toBeNull();
    expect(nextLtvStatus('margin_call', at(0.73), cov, h)).toBeNull();
    expect(nextLtvStatus('margin_call', at(0.7299), cov, h)).toEqual({ to: 'warn', threshold: 0.75 });
  });

  it('recovers several levels in one move', () => {
    expect(nextLtvStatus('liquidation', at(0.2), cov, h)).toEqual({ to: 'ok', threshold: 0.65 });
  });

  it('holds on a null ltv, but worthless collateral is liquidation', () => {
    expect(nextLtvStatus('margin_call', at(null), cov, h)).toBeNull();
    expect(nextLtvStatus('ok', at(null, true), cov, h)).toEqual({ to: 'liquidation', threshold: 0.85 });
  });

  it('skips levels without a covenant', () => {
    expect(nextLtvStatus('ok', at(0.8), { ltvMarginCall: 0.75 }, h)).toEqual({ to: 'margin_call', threshold: 0.75 });
    expect(nextLtvStatus('ok', at(5), {}, h)).toBeNull();
  });

  it('never changes status twice for one crossing of a line, whatever the path hovering at it', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -0.019, max: 0.019, noNaN: true }), { minLength: 1, maxLength: 200 }), (offsets) => {
        // A path that hovers within the band around the margin-call line crosses into margin_call
        // at most once and never back out.
        let status: LtvStatus = 'warn';
        let changes = 0;
        for (const o of offsets) {
          const t = nextLtvStatus(status, at(0.75 + o), cov, h);
          if (t !== null) {
            status = t.to;
            changes++;
          }
        }
        expect(changes).toBeLessThanOrEqual(1);
      }),
    );
  });
});

describe('nextDscrStatus', () => {
  it('breaches below dscrMin and recovers at dscrMin plus the band', () => {
    expect(nextDscrStatus('ok', 1.24, 1.25, h)).toEqual({ to: 'breach', threshold: 1.25 });
    expect(nextDscrStatus('ok', 1.25, 1.25, h)).toBeNull();
    expect(nextDscrStatus('breach', 1.26, 1.25, h)).toBeNull();
    expect(nextDscrStatus('breach', 1.27, 1.25, h)).toEqual({ to: 'ok', threshold: 1.25 });
  });

  it('holds on a null dscr and is ok without a covenant', () => {
    expect(nextDscrStatus('breach', null, 1.25, h)).toBeNull();
    expect(nextDscrStatus('breach', 0.5, null, h)).toEqual({ to: 'ok', threshold: null });
  });
});

describe('nextCureDeadline', () => {
  it('starts on entering margin call, keeps through liquidation and clears on recovery', () => {
    expect(nextCureDeadline('warn', 'margin_call', null, 1_000, 72)).toBe(1_000 + 72 * 3_600_000);
    expect(nextCureDeadline('margin_call', 'liquidation', 5, 1_000, 72)).toBe(5);
    expect(nextCureDeadline('liquidation', 'warn', 5, 1_000, 72)).toBeNull();
  });
});
