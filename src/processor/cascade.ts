import type { DomainParams } from '../domain/params.ts';
import type { StepEvent, StepOutput } from '../domain/step/step-types.ts';
import { EXPOSURE_REFRESH_MS, flush, step, type ProcessorState } from '../domain/step/step.ts';
import { windowStartOf } from '../domain/window.ts';
import type { ContagionStage, WindowClose } from './contagion-stage.ts';

/**
 * `step`, then the stage when the event closed a window: the one way the runtime (and the tests'
 * fold) applies an event. The stage sees the close's clock and market, taken before the event
 * moved them (step closes the window before it applies the event). Mutates `state`, as step does.
 */
export function stepWithCascade(state: ProcessorState, event: StepEvent, params: DomainParams, stage: ContagionStage | null): { state: ProcessorState; outputs: StepOutput[] } {
  const close = stage !== null && event.kind !== 'entity' ? closeOf(state, closingAt(state, event.kind === 'quote' ? event.quote.ts : event.ts, params)) : null;
  const r = step(state, event, params);
  if (close !== null && stage !== null) for (const out of stage.atClose(close)) r.outputs.push(out);
  return r;
}

/** `flush` (the end of the input closes the open window), then the stage on that close. */
export function flushWithCascade(state: ProcessorState, params: DomainParams, stage: ContagionStage | null): { state: ProcessorState; outputs: StepOutput[] } {
  const close = stage !== null ? closeOf(state, state.windowStartMs) : null;
  const r = flush(state, params);
  if (close !== null && stage !== null) for (const out of stage.atClose(close)) r.outputs.push(out);
  return r;
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
