import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCore } from '../../bench/core.ts';
import { mergeResults } from '../../bench/run.ts';
import { generateBook, generateQuotes, loadCatalog } from '../../bench/book.ts';
import { exposureOf, defaultDomainParams } from '../../src/domain/valuation/valuation.ts';

describe('the core benchmark', () => {
  it('runs on a tiny book and reports every measurement', async () => {
    const r = await runCore({ entities: 30, fullQuotes: 2, incrementalQuotes: 5, stepQuotes: 5, growth: [0, 20], growthExposed: 3, growthQuotes: 3 });
    expect(r.book.entities).toBe(30);
    expect(r.revaluation.withStress.revaluations).toBe(30);
    expect(r.full).toMatchObject({ quotes: 2, revaluations: 60, meanRevaluationsPerQuote: 30 });
    expect(r.incremental.quotes).toBe(5);
    expect(r.incremental.meanRevaluationsPerQuote).toBeLessThanOrEqual(30);
    expect(r.step.quotes).toBe(5);
    expect(r.step.outputs).toBeGreaterThanOrEqual(5);
    expect(r.growth.map((g) => [g.unexposedEntities, g.exposedEntities, g.revaluationsPerQuote])).toEqual([
      [0, 3, 3],
      [20, 3, 3],
    ]);
    expect(r.target.revaluationsPerSecond).toBe(200_000);
  });

  it('merges sections into one results file per date', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ccm-bench-'));
    try {
      mergeResults(dir, '2026-01-02', 'core', { a: 1 });
      const path = mergeResults(dir, '2026-01-02', 'other', { b: 2 });
      const file = JSON.parse(readFileSync(path, 'utf8'));
      expect(file).toMatchObject({ schema: 1, date: '2026-01-02', sections: { core: { a: 1 }, other: { b: 2 } } });
      expect(Object.keys(file.machine).sort()).toEqual(['cores', 'cpuModel', 'memoryGb', 'node']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the book generator', () => {
  it('gives the same book and quotes for the same seed, and different ones for another', () => {
    const a = generateBook({ entities: 20, seed: 7 });
    expect(generateBook({ entities: 20, seed: 7 })).toEqual(a);
    expect(generateBook({ entities: 20, seed: 8 }).entities).not.toEqual(a.entities);
    const q = { seed: 7, count: 50, startTs: 0, cadenceMs: 10, instruments: a.instruments, sourcesPerInstrument: 3 };
    expect(generateQuotes(q)).toEqual(generateQuotes(q));
  });

  it('uses only catalog models, and mixes neoclouds and miners with crypto and GPU exposure', () => {
    const catalog = loadCatalog();
    const book = generateBook({ entities: 200, seed: 1 });
    for (const m of book.models) expect(catalog.models.has(m)).toBe(true);
    const types = new Set(book.entities.map((e) => e.versions[0].type));
    expect(types).toEqual(new Set(['neocloud', 'miner']));
    expect(book.entities.some((e) => e.versions[0].type === 'miner' && e.versions[0].fleet.some((f) => f.class === 'gpu'))).toBe(true);
  });

  it('leaves excluded models out of every sheet, so that book is not exposed to their indexes', () => {
    const params = defaultDomainParams(loadCatalog());
    const book = generateBook({ entities: 100, seed: 3, excludeModels: ['RTX-4090'] });
    for (const e of book.entities) expect([...exposureOf(e.versions[0], params)]).not.toContain('rental:RTX-4090');
  });

  it('generates quotes in event-time order over several sources of every instrument', () => {
    const quotes = generateQuotes({ seed: 1, count: 400, startTs: 1_000, cadenceMs: 5, instruments: ['BTC', 'rental:H100-SXM'], sourcesPerInstrument: 3 });
    expect(quotes.every((q, i) => i === 0 || q.ts >= quotes[i - 1].ts)).toBe(true);
    expect(new Set(quotes.map((q) => `${q.instrument}/${q.source}`)).size).toBe(6);
    expect(quotes.every((q) => q.price > 0)).toBe(true);
  });
});
