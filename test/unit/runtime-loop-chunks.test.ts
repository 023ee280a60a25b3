import { describe, expect, it } from 'vitest';
import type { ConsumedRecord } from '../../src/bus/bus.ts';
import type { Quote } from '../../src/domain/market/quote.ts';
import type { StepOutput } from '../../src/domain/step/step-types.ts';
import { CommitLedger, type Segment } from '../../src/processor/commit-ledger.ts';
import { EventMerger } from '../../src/processor/event-merger.ts';
import type { OutputWriter } from '../../src/processor/output-writer.ts';
import { ProcessorMetrics } from '../../src/processor/processor-metrics.ts';
import { RuntimeLoop } from '../../src/processor/runtime-loop.ts';
import { book, params, quotes, silent } from '../support/falling-stream.ts';

/**
 * How the runtime loop cuts a drain into chunks for the writer (src/processor/runtime-loop.ts): live,
 * a quote that raised an alert ends its chunk, so the alert is handed to the writer (and its alert
 * lane) before the drain's next quote is stepped, not once the rest of the drain is stepped; a
 * replay keeps its chunks whole. On the in-memory tests' falling stream (test/support/falling-stream.ts),
 * whose prices cross LTV lines.
 */
const HOUR = 3_600_000;

interface Chunk {
  readonly outputs: readonly StepOutput[];
  readonly quotes: readonly Quote[];
  /** How many released records the chunk's segment commits (0: none, it commits nothing). */
  readonly commits: number;
}

/** One drain of all the quotes (one partition, read to its end) through a loop whose writer records each chunk. */
async function chunksOf(quotes: readonly Quote[], bounds: { chunkQuotes: number; chunkOutputs: number }, live = true): Promise<Chunk[]> {
  const chunks: Chunk[] = [];
  const writer = {
    ledger: new CommitLedger(),
    inFlightCount: 0,
    alertsWritten: 0,
    submit: (outputs: readonly StepOutput[], qs: readonly Quote[], segment: Segment | null) => {
      chunks.push({ outputs: [...outputs], quotes: [...qs], commits: segment?.records ?? 0 });
      return Promise.resolve();
    },
    deadLetter: () => Promise.resolve(),
    commit: () => Promise.resolve(),
    idle: () => Promise.resolve(),
  } as unknown as OutputWriter;
  let failure: Error | null = null;
  const loop = new RuntimeLoop({
    params,
    contagion: null,
    bounds,
    writer,
    metrics: new ProcessorMetrics(),
    maxLatenessMs: HOUR,
    logger: silent,
    endOffsets: () => Promise.resolve([{ partition: 0, offset: String(quotes.length) }]),
    endOffsetPollMs: 0,
    live,
    isStopping: () => false,
    isFailed: () => false,
    onFail: (e) => (failure = e),
    onEnd: () => undefined,
  });
  await loop.apply(book.entities.map((entity) => ({ kind: 'entity', id: entity.id, entity, ts: 1 })));
  chunks.length = 0;
  const merger = new EventMerger([0]);
  merger.markCaughtUp([{ partition: 0, offset: String(quotes.length) }]);
  loop.attach(merger);
  const records: ConsumedRecord[] = quotes.map((q, k) => ({ topic: 'quotes', partition: 0, offset: String(k), key: q.instrument, value: Buffer.from(JSON.stringify(q)), ts: q.ts }));
  await loop.push(records);
  await loop.settled();
  expect(failure).toBeNull();
  return chunks;
}

describe('the runtime loop cuts its chunks', () => {
  it('after a quote that raised an alert: every chunk of quotes ends with the quote its alerts come from', async () => {
    const chunks = await chunksOf(quotes, { chunkQuotes: 10_000, chunkOutputs: 1_000_000 });
    const withQuotes = chunks.filter((c) => c.quotes.length > 0);
    const alerting = withQuotes.filter((c) => c.outputs.some((o) => o.kind === 'alert'));
    // the stream raises alerts (else this test proves nothing), from more than one quote
    expect(alerting.length).toBeGreaterThan(1);
    for (const c of alerting) {
      const last = c.quotes[c.quotes.length - 1];
      for (const o of c.outputs) if (o.kind === 'alert' && o.rule !== 'cure_expired') expect(o.at).toBe(last.ts);
    }
    // every quote is handed to the writer once, in order
    expect(withQuotes.flatMap((c) => c.quotes)).toEqual(quotes);
    // commits as often as without the alerts' chunks: one cut for the whole drain (chunkQuotes is
    // larger than the drain), which covers every record and comes last
    expect(chunks.filter((c) => c.commits > 0).map((c) => c.commits)).toEqual([quotes.length]);
    expect(chunks.at(-1)?.commits).toBe(quotes.length);
  });

  it('the same outputs in the same order as one chunk per drain would hold', async () => {
    const cut = await chunksOf(quotes, { chunkQuotes: 10_000, chunkOutputs: 1_000_000 });
    const byQuote = await chunksOf(quotes, { chunkQuotes: 1, chunkOutputs: 1_000_000 });
    expect(cut.flatMap((c) => c.outputs)).toEqual(byQuote.flatMap((c) => c.outputs));
    expect(cut.length).toBeLessThan(byQuote.length);
  });

  it('not live (a replay): the drain stays one chunk of quotes, alerts and all', async () => {
    const chunks = await chunksOf(quotes, { chunkQuotes: 10_000, chunkOutputs: 1_000_000 }, false);
    const withQuotes = chunks.filter((c) => c.quotes.length > 0);
    expect(withQuotes).toHaveLength(1);
    expect(withQuotes[0].outputs.some((o) => o.kind === 'alert')).toBe(true);
    expect(chunks.flatMap((c) => c.outputs)).toEqual((await chunksOf(quotes, { chunkQuotes: 10_000, chunkOutputs: 1_000_000 })).flatMap((c) => c.outputs));
  });
});
