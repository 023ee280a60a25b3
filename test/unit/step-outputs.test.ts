import { describe, expect, it } from 'vitest';
import { flush } from '../../src/domain/step/step.ts';
import { toPoints } from '../../src/sink/to-points.ts';
import { T0, anEntity, entityEvent, ofKind, params, quoteEvent, resaleForLtv, run } from './step-helpers.ts';

const p = params();

describe('what the processor emits for the boards', () => {
  it('carries the entity type and each facility covenant lines from the sheet into the facility point', () => {
    const { state } = run([entityEvent(anEntity()), quoteEvent('resale:H100-SXM', resaleForLtv(0.7), T0)], p);
    const v = ofKind(flush(state, p).outputs, 'valuation')[0];
    expect(v.valuation.type).toBe('neocloud');
    expect(v.valuation.facilities[0].covenants).toEqual({ ltvWarn: 0.65, ltvMarginCall: 0.75, ltvLiquidation: 0.85 });
    const facility = toPoints(v, 'live').find((pt) => pt.measurement === 'facility');
    expect(facility?.fields).toMatchObject({ ltv_warn: 0.65, ltv_margin_call: 0.75, ltv_liquidation: 0.85 });
    expect(toPoints(v, 'live').find((pt) => pt.measurement === 'valuation')?.tags.type).toBe('neocloud');
  });

  it('emits the rental-to-resale spread of a model whose rental or resale index moved in the window', () => {
    const { state } = run([entityEvent(anEntity()), quoteEvent('resale:H100-SXM', 25_000, T0), quoteEvent('rental:H100-SXM', 2.5, T0 + 1)], p);
    const spread = ofKind(flush(state, p).outputs, 'spread');
    expect(spread).toEqual([
      { kind: 'spread', eventId: spread[0].eventId, ts: T0, model: 'H100-SXM', rentalUsdPerGpuHour: 2.5, resaleUsdPerUnit: 25_000, rentalYieldAnnual: (2.5 * 8766) / 25_000 },
    ]);
    expect(toPoints(spread[0], 'demo')[0]).toEqual({
      measurement: 'spread',
      tags: { model: 'H100-SXM', run: 'demo' },
      fields: { rental_usd_per_gpu_hour: 2.5, resale_usd_per_unit: 25_000, rental_yield_annual: (2.5 * 8766) / 25_000 },
      ts: T0,
    });
  });

  it('gives no spread for a model with only one of the two indexes', () => {
    const { state } = run([entityEvent(anEntity()), quoteEvent('resale:H100-SXM', 25_000, T0)], p);
    expect(ofKind(flush(state, p).outputs, 'spread')).toEqual([]);
  });
});
