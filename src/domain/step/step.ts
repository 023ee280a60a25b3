import type { DomainParams } from '../params.ts';
import type { PriceOutput, StepEvent, StepOutput } from './step-types.ts';
import { PRICE_POINTS } from '../params.ts';
import { RELEASED_ENTITY_TS } from './step-types.ts';
import { eventId } from '../event-id.ts';
import { applyQuote } from '../market/market-index.ts';
import { EXPOSURE_REFRESH_MS } from '../defaults.ts';
import type { ProcessorState } from './step-state.ts';
import { advanceClock, moveWindowSliced } from './advance-clock.ts';
import { onIndexChange } from './on-index-change.ts';
import { onEntity } from './on-entity.ts';
import { closeWindow, closeWindowSliced } from './close-window.ts';

/**
 * The processor's pure heart: `step(state, event, params) -> { state, outputs }`. Its contract
 * (clock, quotes, warm-up, windows, exposure, alerts, the two revaluation paths) is in
 * docs/processor.md "What `step` does"; the incremental path in docs/valuation.md.
 * `step` mutates `state` in place and returns it (a copy per event would dominate the fold):
 * callers keep only the returned state. No clock, no randomness, input or sorted order only, so
 * that a replay gives the same outputs and eventIds.
 */

export { initialState, type ProcessorState } from './step-state.ts';
export { alertStates, carriedOutputs, restoreAlertStates } from './restore-alert-states.ts';

export { EXPOSURE_REFRESH_MS };

/** Applies one event. Mutates and returns `state` (the passed state is consumed). */
export function step(state: ProcessorState, event: StepEvent, params: DomainParams): { state: ProcessorState; outputs: StepOutput[] } {
  const out: StepOutput[] = [];
  switch (event.kind) {
    case 'quote': {
      const q = event.quote;
      advanceClock(state, q.ts, params, out);
      const clock = state.clockMs as number;
      const price: PriceOutput = { kind: 'price', eventId: eventId('price', q.instrument, q.source, q.ts), instrument: q.instrument, source: q.source, ts: q.ts, value: q.price };
      if (params.pricePoints === PRICE_POINTS.window) holdPrice(state, price);
      else out.push(price);
      if (q.ts < clock) {
        out.push({ kind: 'data_quality', eventId: eventId('data_quality', 'late', q.instrument, q.source, q.ts), ts: q.ts, instrument: q.instrument, source: q.source, reason: 'late', value: q.price });
      }
      if (q.unknownModel !== undefined) {
        out.push({ kind: 'data_quality', eventId: eventId('data_quality', 'unknown_model', q.instrument, q.source, q.ts), ts: q.ts, instrument: q.instrument, source: q.source, reason: 'unknown_model', value: q.price });
      }
      const change = applyQuote(state.index, q, clock, params);
      if (change !== null) {
        state.window.instruments.add(q.instrument);
        onIndexChange(state, change, params, out, { instrument: q.instrument, source: q.source, price: q.price });
      }
      break;
    }
    case 'tick':
      advanceClock(state, event.ts, params, out);
      break;
    case 'entity':
      onEntity(state, event.id, event.entity, event.ts === RELEASED_ENTITY_TS, params, out, event.statuses, event.carried);
      break;
    default: {
      const never: never = event;
      return never;
    }
  }
  return { state, outputs: out };
}

/**
 * `pricePoints: window`: the quote's price output waits for the window's close, replacing the one
 * held for its instrument and source unless that one is later in event time (a late quote never
 * hides a newer price). The close writes those held, sorted (close-window.ts).
 */
function holdPrice(state: ProcessorState, price: PriceOutput): void {
  const key = `${price.instrument}\u0000${price.source}`;
  const held = state.window.prices.get(key);
  if (held === undefined || held.ts <= price.ts) state.window.prices.set(key, price);
}

/** Closes the open window (the end of a replay). Mutates and returns `state`. */
export function flush(state: ProcessorState, params: DomainParams): { state: ProcessorState; outputs: StepOutput[] } {
  const out: StepOutput[] = [];
  closeWindow(state, params, out);
  return { state, outputs: out };
}

/**
 * `step` with the close of the window the event leaves done first, a slice at a time: every output
 * lands in `out`, in `step`'s order, and it yields whenever `out` holds `sliceOutputs` or more (the
 * caller takes them with `out.splice(0)` and steps nothing else until it ends). Returns the state.
 * The runtime's path for an event that closes a window (docs/processor.md "The sliced close").
 */
export function* stepSliced(state: ProcessorState, event: StepEvent, params: DomainParams, out: StepOutput[], sliceOutputs: number): Generator<void, ProcessorState, void> {
  if (event.kind !== 'entity') yield* moveWindowSliced(state, event.kind === 'quote' ? event.quote.ts : event.ts, params, out, sliceOutputs);
  const r = step(state, event, params);
  for (const o of r.outputs) out.push(o);
  return r.state;
}

/** `flush`, a slice at a time (stepSliced). */
export function* flushSliced(state: ProcessorState, params: DomainParams, out: StepOutput[], sliceOutputs: number): Generator<void, ProcessorState, void> {
  yield* closeWindowSliced(state, params, out, sliceOutputs);
  return state;
}
