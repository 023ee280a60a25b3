import { describe, expect, it } from 'vitest';
import { initialState, step, type ProcessorState } from '../../src/domain/step/step.ts';
import type { StepEvent, StepOutput } from '../../src/domain/step/step-types.ts';
import { closesWindow, flushWithCascade, flushWithCascadeSliced, stepWithCascade, stepWithCascadeSliced } from '../../src/processor/cascade.ts';
import { ContagionStage } from '../../src/processor/contagion-stage.ts';
import { book, params, quotes } from '../support/falling-stream.ts';

/**
 * The runtime steps an event that closes a window a slice at a time (src/processor/runtime-loop.ts
 * `stepInto`): the close's outputs are taken `sliceOutputs` at a time while it goes on, so a close
 * of the whole book never lives as one array. The slices, joined, must be the close stepped whole,
 * output for output, and a slice must be about the size asked.
 */
const WINDOW = 10_000;
const p = { ...params, emitIntervalMs: WINDOW };

function start(): { state: ProcessorState; stage: ContagionStage } {
  let state = initialState(p);
  const stage = new ContagionStage({ params: p, owns: () => true, writesBook: () => true });
  for (const e of [...book.entities].sort((a, b) => a.id.localeCompare(b.id))) {
    stage.setEntity(e.id, e, { initial: true });
    state = step(state, { kind: 'entity', id: e.id, entity: e, ts: 0 }, p).state;
  }
  return { state, stage };
}

const events: StepEvent[] = [...quotes.map((quote) => ({ kind: 'quote', quote }) as const), { kind: 'tick', ts: quotes[quotes.length - 1].ts + 3 * WINDOW }];

function whole(): StepOutput[] {
  const started = start();
  const stage = started.stage;
  let state = started.state;
  const out: StepOutput[] = [];
  for (const e of events) {
    const r = stepWithCascade(state, e, p, stage);
    state = r.state;
    out.push(...r.outputs);
  }
  out.push(...flushWithCascade(state, p, stage).outputs);
  return out;
}

function sliced(sliceOutputs: number): { outputs: StepOutput[]; slices: number[]; closes: number } {
  const started = start();
  const stage = started.stage;
  let state = started.state;
  const out: StepOutput[] = [];
  const taken: StepOutput[] = [];
  const slices: number[] = [];
  let closes = 0;
  const run = (g: Generator<void, ProcessorState, void>): ProcessorState => {
    for (let r = g.next(); ; r = g.next()) {
      if (r.done === true) return r.value;
      slices.push(out.length);
      taken.push(...out.splice(0));
    }
  };
  for (const e of events) {
    if (closesWindow(state, e, p)) closes++;
    state = run(stepWithCascadeSliced(state, e, p, stage, out, sliceOutputs));
    taken.push(...out.splice(0));
  }
  run(flushWithCascadeSliced(state, p, stage, out, sliceOutputs));
  taken.push(...out.splice(0));
  return { outputs: taken, slices, closes };
}

describe('the sliced close', () => {
  const reference = whole();

  it.each([1, 7, 64])('gives the whole close’s outputs in its order, %i outputs a slice', (n) => {
    const s = sliced(n);
    expect(s.closes).toBeGreaterThan(10);
    expect(s.slices.length).toBeGreaterThan(0);
    expect(s.outputs).toEqual(reference);
    // a slice is taken between entities as soon as it holds n outputs; the first of a close also
    // carries the window's index and spread outputs (one per instrument at most, each)
    expect(Math.min(...s.slices)).toBeGreaterThanOrEqual(n);
    expect(Math.max(...s.slices)).toBeLessThanOrEqual(n + 2 * book.instruments.length + 8);
  });

  it('does not slice when the slice is unbounded (the fold, `ccm value`)', () => {
    const s = sliced(Infinity);
    expect(s.slices).toEqual([]);
    expect(s.outputs).toEqual(reference);
  });
});
