import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { StepEvent } from '../../src/domain/step/step-types.ts';
import { flush } from '../../src/domain/step/step.ts';
import { ltvStatusOf } from '../../src/domain/valuation/valuation.ts';
import { MINUTE, T0, aSheet, alertsOf, anEntity, entityEvent, params, quoteEvent, resaleForLtv, run, tickEvent } from './step-helpers.ts';

const p = params();
const h = p.hysteresis;
const RESALE = 'resale:H100-SXM';

describe('step properties', () => {
  it('never emits two ltv alerts for one crossing of a line, however the ltv hovers at it', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -0.0199, max: 0.0199, noNaN: true }), { minLength: 1, maxLength: 60 }), fc.constantFrom(0.65, 0.75, 0.85), (offsets, line) => {
        // Settle first at the level just below the line, then hover within the band around it.
        const settled = run([entityEvent(anEntity()), quoteEvent(RESALE, resaleForLtv(line - 0.05), T0 - 1_000)], p);
        const events: StepEvent[] = offsets.map((o, i) => quoteEvent(RESALE, resaleForLtv(line + o), T0 + i * 1_000));
        expect(alertsOf(run(events, p, settled.state).outputs, 'ltv').length).toBeLessThanOrEqual(1);
      }),
      { numRuns: 60 },
    );
  });

  it('chains every ltv alert from the previous status, worsening at a line and recovering only past the band', () => {
    const cov = aSheet().facilities[0].covenants;
    const line = (status: string): number => (status === 'warn' ? cov.ltvWarn! : status === 'margin_call' ? cov.ltvMarginCall! : cov.ltvLiquidation!);
    const level = ['ok', 'warn', 'margin_call', 'liquidation'];
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0.4, max: 1.0, noNaN: true }), { minLength: 1, maxLength: 60 }), (ltvs) => {
        const events: StepEvent[] = [entityEvent(anEntity())];
        ltvs.forEach((l, i) => events.push(quoteEvent(RESALE, resaleForLtv(l), T0 + i * 1_000)));
        // the first ltv is the machine's baseline (no alert): every alert is a crossing from there
        let status: string = ltvStatusOf(ltvs[0], cov);
        for (const a of alertsOf(run(events, p).outputs, 'ltv')) {
          expect(a.from).toBe(status);
          const ltv = a.value as number;
          if (level.indexOf(a.to) > level.indexOf(a.from)) expect(ltv).toBeGreaterThanOrEqual(line(a.to) - 1e-12);
          else expect(ltv).toBeLessThan(line(level[level.indexOf(a.to) + 1]) - h + 1e-12);
          status = a.to;
        }
      }),
      { numRuns: 60 },
    );
  });

  it('gives identical outputs, in the same order with the same event ids, for the same event sequence', () => {
    const event = fc.oneof(
      fc.record({ kind: fc.constant('q' as const), instrument: fc.constantFrom(RESALE, 'BTC', 'rental:H100-SXM'), source: fc.constantFrom('a', 'b', 'c'), price: fc.double({ min: 1, max: 100_000, noNaN: true }), dt: fc.integer({ min: -5_000, max: 90_000 }) }),
      fc.record({ kind: fc.constant('t' as const), dt: fc.integer({ min: 0, max: 3 * 3_600_000 }) }),
    );
    fc.assert(
      fc.property(fc.array(event, { minLength: 1, maxLength: 40 }), (spec) => {
        const miner = aSheet({ id: 'delta', holdings: { BTC: 500, ETH: 0 }, facilities: [{ ...aSheet().facilities[0], collateral: ['holdings:BTC', 'fleet:h100-a'] }] });
        const events: StepEvent[] = [entityEvent(anEntity()), entityEvent(anEntity([miner]))];
        let t = T0;
        for (const e of spec) {
          t += e.dt;
          events.push(e.kind === 'q' ? quoteEvent(e.instrument, e.price, t, e.source) : tickEvent(t));
        }
        const once = run(events, p);
        const twice = run(events, p);
        expect([...twice.outputs, ...flush(twice.state, p).outputs]).toEqual([...once.outputs, ...flush(once.state, p).outputs]);
      }),
      { numRuns: 40 },
    );
  });

  it('emits one valuation per entity per window however many quotes move it', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 5 * MINUTE - 1 }), { minLength: 1, maxLength: 50 }), (offsets) => {
        const sorted = [...offsets].sort((a, b) => a - b);
        const events: StepEvent[] = [entityEvent(anEntity())];
        sorted.forEach((o, i) => events.push(quoteEvent(RESALE, 20_000 + i, T0 + o)));
        const r = run(events, p);
        const all = [...r.outputs, ...flush(r.state, p).outputs].filter((o) => o.kind === 'valuation');
        const windows = new Set(sorted.map((o) => Math.floor((T0 + o) / MINUTE) * MINUTE));
        expect(all.map((o) => o.ts)).toEqual([...windows]);
      }),
      { numRuns: 40 },
    );
  });
});
