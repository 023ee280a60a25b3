import { describe, expect, it } from 'vitest';
import type { ConsumedRecord } from '../../src/bus/bus.ts';
import { pointsAtMost } from '../../src/processor/output-writer.ts';
import { toPoints } from '../../src/sink/to-points.ts';
import { defaultDomainParams } from '../../src/domain/valuation/valuation.ts';
import { generateBook, generateQuotes, loadCatalog } from '../../bench/book.ts';
import { fold } from '../support/pipeline.ts';

/**
 * The write pipeline bounds the points in flight by `pointsAtMost`, which counts without making
 * them: it must never count fewer than toPoints makes (the bound would not hold), and it should
 * not count many more (the bound would stop the stepping early). Checked on every output of a
 * fold with window closes, falling prices (alerts, statuses) and the fire-sale cascade.
 */
const T0 = Date.parse('2025-10-01T00:00:00Z');
const params = { ...defaultDomainParams(loadCatalog()), emitIntervalMs: 60_000 };
const book = generateBook({ entities: 40, seed: 11 });
const quotes = generateQuotes({ seed: 11, count: 3_000, startTs: T0, cadenceMs: 200, instruments: book.instruments, sourcesPerInstrument: 3 }).map((q, k, all) => ({
  ...q,
  price: Number((q.price * (1 - (0.5 * k) / all.length)).toPrecision(8)),
}));
const records: ConsumedRecord[] = quotes.map((q, k) => ({ topic: 'q', partition: 0, offset: String(k), key: q.instrument, value: Buffer.from(JSON.stringify(q)), ts: q.ts }));

describe('pointsAtMost', () => {
  const outputs = fold(params, book.entities, records);

  it('never counts fewer points than toPoints makes, for any output', () => {
    const kinds = new Set(outputs.map((o) => o.kind));
    // the fold really has the outputs with several points each
    expect([...kinds].sort()).toEqual(expect.arrayContaining(['alert', 'alert_state', 'contagion_book', 'contagion_entity', 'index', 'price', 'valuation']));
    const under = outputs.filter((o) => pointsAtMost(o) < toPoints(o, 'r').length);
    expect(under).toEqual([]);
  });

  it('counts within a few percent of the points made', () => {
    const counted = outputs.reduce((n, o) => n + pointsAtMost(o), 0);
    const made = outputs.reduce((n, o) => n + toPoints(o, 'r').length, 0);
    expect(made).toBeGreaterThan(0);
    expect(counted).toBeGreaterThanOrEqual(made);
    expect(counted / made).toBeLessThan(1.05);
  });
});
