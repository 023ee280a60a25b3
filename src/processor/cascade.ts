import type { DomainParams } from '../domain/params.ts';
import type { StepEvent, StepOutput } from '../domain/step/step-types.ts';
import { EXPOSURE_REFRESH_MS, flushSliced, step, stepSliced, type ProcessorState } from '../domain/step/step.ts';
import { runToEnd } from '../domain/sliced.ts';
import { windowStartOf } from '../domain/window.ts';
import type { ContagionStage, WindowClose } from './contagion-stage.ts';

/**
 * When the event closes a window, the contagion stage on that close, then `step`: the one way the
 * runtime (and the tests' fold) applies an event. The stage sees the close's clock, market and
 * hour, taken before the event moved them. Its outputs come first, so its alerts are not queued
 * behind the close's valuations of the whole book (docs/processor.md "The sliced close"). Mutates
 * `state`, as step does.
 */
export function stepWithCascade(state: ProcessorState, event: StepEvent, params: DomainParams, stage: ContagionStage | null): { state: ProcessorState; outputs: StepOutput[] } {
  // most events close nothing: `step` alone, no generator (the same outputs: no close, no stage)
  if (!closesWindow(state, event, params)) return step(state, event, params);
  const outputs: StepOutput[] = [];
  return { state: runToEnd(stepWithCascadeSliced(state, event, params, stage, outputs, Infinity)), outputs };
}

/**
 * `stepWithCascade`, the close a slice at a time (step's `stepSliced`): the same outputs in the
 * same order, into `out`; it yields whenever `out` holds `sliceOutputs` or more, in the stage's
 * outputs and in the close's after them. Returns the state.
 */
export function* stepWithCascadeSliced(state: ProcessorState, event: StepEvent, params: DomainParams, stage: ContagionStage | null, out: StepOutput[], sliceOutputs: number): Generator<void, ProcessorState, void> {
  const close = stage !== null && event.kind !== 'entity' ? closeOf(state, closingAt(state, event.kind === 'quote' ? event.quote.ts : event.ts, params)) : null;
  // the cascade first: it needs only the close's market, clock and hour, taken above, and its
  // alerts are then not queued behind the close's valuations of the whole book
  if (close !== null && stage !== null) yield* stage.atCloseSliced(close, out, sliceOutputs);
  return yield* stepSliced(state, event, params, out, sliceOutputs);
}

/** `flush` (the end of the input closes the open window), the stage on that close first. */
export function flushWithCascade(state: ProcessorState, params: DomainParams, stage: ContagionStage | null): { state: ProcessorState; outputs: StepOutput[] } {
  const outputs: StepOutput[] = [];
  return { state: runToEnd(flushWithCascadeSliced(state, params, stage, outputs, Infinity)), outputs };
}

/** `flushWithCascade`, a slice at a time (stepWithCascadeSliced). */
export function* flushWithCascadeSliced(state: ProcessorState, params: DomainParams, stage: ContagionStage | null, out: StepOutput[], sliceOutputs: number): Generator<void, ProcessorState, void> {
  const close = stage !== null ? closeOf(state, state.windowStartMs) : null;
  if (close !== null && stage !== null) yield* stage.atCloseSliced(close, out, sliceOutputs);
  return yield* flushSliced(state, params, out, sliceOutputs);
}

/** Whether `event` closes the open window (the runtime steps it a slice at a time then). */
export function closesWindow(state: ProcessorState, event: StepEvent, params: DomainParams): boolean {
  return event.kind !== 'entity' && closingAt(state, event.kind === 'quote' ? event.quote.ts : event.ts, params) !== null;
}

/** The start of the window an event at `ts` closes (step's advanceClock), or null. */
function closingAt(state: ProcessorState, ts: number, params: DomainParams): number | null {
  const { clockMs, windowStartMs } = state;
  if (clockMs === null || windowStartMs === null || ts <= clockMs) return null;
  return windowStartOf(ts, params.emitIntervalMs) > windowStartMs ? windowStartMs : null;
}

/** The close of the window starting at `windowStartMs`, at the clock and on a copy of the market as they are now. */
function closeOf(state: ProcessorState, windowStartMs: number | null): WindowClose | null {
  const { clockMs } = state;
  if (windowStartMs === null || clockMs === null) return null;
  const m = state.index.market;
  return {
    windowStartMs,
    atMs: clockMs,
    market: { crypto: { ...m.crypto }, rental: { ...m.rental }, resale: { ...m.resale }, hashprice: m.hashprice },
    indexesMoved: state.window.instruments.size > 0,
    newHour: state.exposureHour !== Math.floor(windowStartMs / EXPOSURE_REFRESH_MS),
  };
}
