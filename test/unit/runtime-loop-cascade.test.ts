import { describe, expect, it } from 'vitest';
import type { ConsumedRecord } from '../../src/bus/bus.ts';
import { decodeAlertKey } from '../../src/domain/alerts/alert-key.ts';
import { initialState, step } from '../../src/domain/step/step.ts';
import type { StepOutput } from '../../src/domain/step/step-types.ts';
import { windowStartOf } from '../../src/domain/window.ts';
import { stepWithCascade } from '../../src/processor/cascade.ts';
import { CommitLedger, type Segment } from '../../src/processor/commit-ledger.ts';
import { ContagionStage } from '../../src/processor/contagion-stage.ts';
import { EventMerger } from '../../src/processor/event-merger.ts';
import type { OutputWriter } from '../../src/processor/output-writer.ts';
import { ProcessorMetrics } from '../../src/processor/processor-metrics.ts';
import { RuntimeLoop } from '../../src/processor/runtime-loop.ts';
import { book, params, quotes, silent } from '../support/falling-stream.ts';

/**
 * Live, the runtime runs a close's fire-sale cascade after the close (src/processor/runtime-loop.ts,
 * docs/processor.md "The cascade after the close"): the quotes that come in meanwhile are stepped
 * between its slices. The outputs are the fold's (the step's in the fold's order, the cascade's in
 * the fold's order), and no commit passes a closing quote before its cascade's outputs are written.
 */
const HOUR = 3_600_000;
const BATCH = 40;

const isCascade = (o: StepOutput): boolean =>
  o.kind === 'contagion_entity' || o.kind === 'contagion_book' || (o.kind === 'alert' && o.rule === 'contagion') || (o.kind === 'alert_state' && decodeAlertKey(o.key)?.rule === 'contagion');

/** The window start a cascade output belongs to (an alert's `at`, the others' `ts`). */
const windowOfCascade = (o: StepOutput): number => (o.kind === 'alert' ? o.at : (o as { readonly ts: number }).ts);

function newStage(): ContagionStage {
  const stage = new ContagionStage({ params, owns: () => true, writesBook: () => true });
  for (const e of book.entities) stage.setEntity(e.id, e, { initial: true });
  return stage;
}

/** The in-memory fold (test/support/pipeline.ts `fold`): entities, then every quote through stepWithCascade; the last window left open, as live. */
function reference(): StepOutput[] {
  const stage = newStage();
  let state = initialState(params);
  const out: StepOutput[] = [];
  for (const entity of book.entities) state = step(state, { kind: 'entity', id: entity.id, entity, ts: 1 }, params).state;
  for (const quote of quotes) {
    const r = stepWithCascade(state, { kind: 'quote', quote }, params, stage);
    state = r.state;
    out.push(...r.outputs);
  }
  return out;
}

interface Submitted {
  readonly outputs: readonly StepOutput[];
  /** After the submit (its segment acknowledged at once): the smallest quote offset released and not yet written, or null. */
  readonly floor: bigint | null;
}

/** The quotes pushed live in batches of BATCH through a loop with the stage, each submit recorded and acknowledged at once. */
async function live(): Promise<Submitted[]> {
  const ledger = new CommitLedger();
  const submitted: Submitted[] = [];
  const writer = {
    ledger,
    inFlightCount: 0,
    alertsWritten: 0,
    submit: (outputs: readonly StepOutput[], _qs: unknown, segment: Segment | null) => {
      if (segment !== null) ledger.ack(segment);
      submitted.push({ outputs: [...outputs], floor: ledger.floor().get(0) ?? null });
      return Promise.resolve();
    },
    deadLetter: () => Promise.resolve(),
    commit: () => Promise.resolve(),
    idle: () => Promise.resolve(),
  } as unknown as OutputWriter;
  let failure: Error | null = null;
  const loop = new RuntimeLoop({
    params,
    contagion: newStage(),
    bounds: { chunkQuotes: 10_000, chunkOutputs: 1_000_000 },
    writer,
    metrics: new ProcessorMetrics(),
    maxLatenessMs: HOUR,
    logger: silent,
    endOffsets: () => Promise.resolve([{ partition: 0, offset: String(quotes.length) }]),
    endOffsetPollMs: 0,
    live: true,
    isStopping: () => false,
    isFailed: () => false,
    onFail: (e) => (failure = e),
    onEnd: () => undefined,
  });
  await loop.apply(book.entities.map((entity) => ({ kind: 'entity', id: entity.id, entity, ts: 1 })));
  submitted.length = 0;
  const merger = new EventMerger([0]);
  merger.markCaughtUp([{ partition: 0, offset: String(quotes.length) }]);
  loop.attach(merger);
  const records: ConsumedRecord[] = quotes.map((q, k) => ({ topic: 'quotes', partition: 0, offset: String(k), key: q.instrument, value: Buffer.from(JSON.stringify(q)), ts: q.ts }));
  // each batch queued once the last is stepped, as kafkajs hands them over: the cascade's slices run in between
  for (let k = 0; k < records.length; k += BATCH) await loop.push(records.slice(k, k + BATCH));
  await loop.settled();
  expect(failure).toBeNull();
  return submitted;
}

describe('live, the cascade runs after its close', () => {
  it('gives the fold outputs: the step outputs in order, the cascade outputs in order', async () => {
    const submitted = await live();
    const got = submitted.flatMap((s) => s.outputs);
    const want = reference();
    expect(want.some(isCascade)).toBe(true);
    expect(got.filter((o) => !isCascade(o))).toEqual(want.filter((o) => !isCascade(o)));
    expect(got.filter(isCascade)).toEqual(want.filter(isCascade));
  });

  it('steps later quotes before the cascade ends, and commits no closing quote before its cascade is written', async () => {
    const submitted = await live();
    // per window start, the offset of the quote that closed it
    const closingOffset = new Map<number, number>();
    for (let k = 1; k < quotes.length; k++) {
      const before = windowStartOf(quotes[k - 1].ts, params.emitIntervalMs);
      if (windowStartOf(quotes[k].ts, params.emitIntervalMs) > before) closingOffset.set(before, k);
    }
    const lastCascadeSubmit = new Map<number, number>();
    submitted.forEach((s, i) => {
      for (const o of s.outputs) if (isCascade(o)) lastCascadeSubmit.set(windowOfCascade(o), i);
    });
    const closes = [...closingOffset].filter(([ws]) => lastCascadeSubmit.has(ws));
    expect(closes.length).toBeGreaterThan(2);
    let deferred = 0;
    let checked = 0;
    let lastPriceTs = -Infinity;
    submitted.forEach((s, i) => {
      for (const o of s.outputs) {
        if (o.kind === 'price') lastPriceTs = Math.max(lastPriceTs, o.ts);
        // a quote after the closing one was stepped and handed over before this cascade output
        if (isCascade(o) && lastPriceTs > quotes[closingOffset.get(windowOfCascade(o)) as number].ts) deferred++;
      }
      // from the closing quote's hand-over until its cascade's last outputs, nothing commits past it
      for (const [ws, closing] of closes) {
        if (lastPriceTs < quotes[closing].ts || i >= (lastCascadeSubmit.get(ws) as number)) continue;
        checked++;
        expect(s.floor).not.toBeNull();
        expect(s.floor as bigint).toBeLessThanOrEqual(BigInt(closing));
      }
    });
    expect(checked).toBeGreaterThan(0);
    expect(deferred).toBeGreaterThan(0);
  });
});
