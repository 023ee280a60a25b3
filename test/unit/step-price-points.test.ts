import { describe, expect, it } from 'vitest';
import type { Quote } from '../../src/domain/market/quote.ts';
import { PRICE_POINTS, type DomainParams } from '../../src/domain/params.ts';
import { flush, initialState, step } from '../../src/domain/step/step.ts';
import type { PriceOutput, StepEvent, StepOutput } from '../../src/domain/step/step-types.ts';
import { book, params, quotes, T0 } from '../support/falling-stream.ts';

/**
 * `pricePoints: window` (a replay's default, docs/architecture.md "Output volume"): each window
 * writes, at its close, the latest price (by event time) of each instrument and source quoted in
 * it, the very outputs `every` writes for those quotes, and every other output as with `every`.
 */
interface Folded {
  /** Per event (and the final flush last), its outputs. */
  readonly perEvent: StepOutput[][];
  /** Per event, the number of windows closed once it was stepped (state.window.seq). */
  readonly seqAfter: number[];
}

function foldWith(p: DomainParams, events: readonly StepEvent[]): Folded {
  let state = initialState(p);
  const perEvent: StepOutput[][] = [];
  const seqAfter: number[] = [];
  for (const e of events) {
    const r = step(state, e, p);
    state = r.state;
    perEvent.push(r.outputs);
    seqAfter.push(state.window.seq);
  }
  const f = flush(state, p);
  perEvent.push(f.outputs);
  seqAfter.push(f.state.window.seq);
  return { perEvent, seqAfter };
}

const entityEvents: StepEvent[] = book.entities.map((entity) => ({ kind: 'entity', id: entity.id, entity, ts: 1 }));
const isPrice = (o: StepOutput): o is PriceOutput => o.kind === 'price';

/** What `window` must write, from `every`'s fold: per window, the latest price output of each instrument and source, in key order. */
function expectedPerClose(every: Folded): Map<number, PriceOutput[]> {
  const byWindow = new Map<number, Map<string, PriceOutput>>();
  every.perEvent.forEach((outs, i) => {
    const seq = every.seqAfter[i];
    for (const o of outs.filter(isPrice)) {
      const held = byWindow.get(seq) ?? new Map<string, PriceOutput>();
      const key = `${o.instrument}\u0000${o.source}`;
      const h = held.get(key);
      if (h === undefined || h.ts <= o.ts) held.set(key, o);
      byWindow.set(seq, held);
    }
  });
  const out = new Map<number, PriceOutput[]>();
  for (const [seq, held] of byWindow) out.set(seq, [...held.keys()].sort().map((k) => held.get(k) as PriceOutput));
  return out;
}

function check(events: readonly StepEvent[]): { every: Folded; window: Folded } {
  const every = foldWith(params, events);
  const window = foldWith({ ...params, pricePoints: PRICE_POINTS.window }, events);
  // every other output the same, in the same order, event by event
  expect(window.perEvent.map((outs) => outs.filter((o) => !isPrice(o)))).toEqual(every.perEvent.map((outs) => outs.filter((o) => !isPrice(o))));
  expect(window.seqAfter).toEqual(every.seqAfter);
  // the prices: written by the event (or the flush) that closes their window, the latest of each instrument and source
  const expected = expectedPerClose(every);
  const written = new Map<number, PriceOutput[]>();
  window.perEvent.forEach((outs, i) => {
    const prices = outs.filter(isPrice);
    if (prices.length === 0) return;
    // written by the close (or flush), which counts the window it closed: they belong to the one before
    written.set(window.seqAfter[i] - 1, prices);
  });
  expect(written).toEqual(expected);
  return { every, window };
}

describe('pricePoints: window', () => {
  it('writes the last price of each instrument and source per window, everything else as every quote would', () => {
    const events: StepEvent[] = [...entityEvents, ...quotes.map((quote): StepEvent => ({ kind: 'quote', quote }))];
    const { every, window } = check(events);
    const count = (f: Folded) => f.perEvent.flat().filter(isPrice).length;
    // 4,000 quotes over about 13 one-minute windows of some 25 instruments with 3 sources each: about 1,000
    expect(count(every)).toBe(quotes.length);
    expect(count(window)).toBeGreaterThan(0);
    expect(count(window)).toBeLessThan(count(every) / 3);
  });

  it('keeps the newer price when a late quote of the same instrument and source comes after it', () => {
    const q0 = quotes[0];
    const at = (ts: number, price: number): StepEvent => ({ kind: 'quote', quote: { ...q0, ts, price } satisfies Quote });
    // 10:00:30 then a late 10:00:10 in the same window, then a quote in the next window closes it
    const events: StepEvent[] = [...entityEvents, at(T0 + 30_000, 100), at(T0 + 10_000, 90), at(T0 + 70_000, 95)];
    const { window } = check(events);
    const prices = window.perEvent.flat().filter(isPrice);
    expect(prices.map((p) => [p.ts, p.value])).toEqual([
      [T0 + 30_000, 100],
      [T0 + 70_000, 95],
    ]);
  });
});
