import { describe, expect, it } from 'vitest';
import { initialState, step } from '../../src/domain/step/step.ts';
import type { StepEvent, StepOutput } from '../../src/domain/step/step-types.ts';
import { stepWithCascade } from '../../src/processor/cascade.ts';
import { ContagionStage } from '../../src/processor/contagion-stage.ts';
import { book, params, quotes, T0 } from '../support/falling-stream.ts';

/**
 * A live processor's wall-clock ticks start before its first quote: the process is up, the feed
 * not yet. A tick in an earlier window than the first quote's made the first quote close an empty
 * window, and that close ran the fire-sale cascade on a market with no index at all (the catalog's
 * model values alone) and spent the hour's refresh: `contagion` alerts a replay of the same quotes
 * never raises (seen in CI: kill-live.test.ts, two `ok -> exposed` at the window before the
 * feed's first). Ticks before the first quote must change no output while the indexes warm up
 * (src/domain/step/warm-up.ts: the warm-up begins at the processor's first event, a tick here).
 */
function run(leadingTicks: readonly number[], shiftMs = 0): StepOutput[] {
  let state = initialState(params);
  const stage = new ContagionStage({ params, owns: () => true, writesBook: () => true });
  const out: StepOutput[] = [];
  for (const e of [...book.entities].sort((a, b) => a.id.localeCompare(b.id))) {
    stage.setEntity(e.id, e, { initial: true });
    state = step(state, { kind: 'entity', id: e.id, entity: e, ts: 0 }, params).state;
  }
  const events: StepEvent[] = [...leadingTicks.map((ts) => ({ kind: 'tick', ts }) as const), ...quotes.map((q) => ({ kind: 'quote', quote: shiftMs === 0 ? q : { ...q, ts: q.ts + shiftMs, receivedAt: q.receivedAt + shiftMs } }) as const)];
  for (const event of events) {
    const r = stepWithCascade(state, event, params, stage);
    state = r.state;
    out.push(...r.outputs);
  }
  return out;
}

const window = params.emitIntervalMs;

describe('ticks before the first quote', () => {
  const reference = run([]);

  it('the stream raises contagion alerts of its own, so the comparison can see one more or one less', () => {
    expect(reference.filter((o) => o.kind === 'alert' && o.rule === 'contagion').length).toBeGreaterThan(0);
  });

  it.each([
    ['in the first quote’s window', [T0 + 0]],
    ['one window before it', [T0 - window / 2]],
    ['in each of three windows before it', [T0 - 3 * window + 1, T0 - 2 * window + 1, T0 - window + 1]],
  ])('change no output: ticks %s', (_what, ticks) => {
    expect(run(ticks)).toEqual(reference);
  });

  it('change no output when the first quote comes in the middle of an hour: the hour’s refresh is the first real close’s', () => {
    const shift = 20 * 60_000;
    expect(run([T0 + shift - window / 2], shift)).toEqual(run([], shift));
  });

  it('but a feed still missing when the warm-up that began at the first tick ends is named by stale_data, as a live monitor must', () => {
    const outs = run([T0 - 3_600_000 - 1, T0 - 1]);
    const stale = outs.filter((o) => o.kind === 'alert' && o.rule === 'stale_data' && o.at === T0 - 1);
    expect(stale.length).toBeGreaterThan(0);
    expect(outs.filter((o) => !stale.includes(o) && o.kind === 'alert' && o.at < T0)).toEqual([]);
  });
});
