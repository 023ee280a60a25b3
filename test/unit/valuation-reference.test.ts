import { describe, expect, it } from 'vitest';
import { generateBook, generateQuotes, loadCatalog } from '../../bench/book.ts';
import { valueEntity as referenceValueEntity, defaultDomainParams } from '../../src/domain/valuation/valuation.ts';
import { valueEntityFast as valueEntity } from '../../src/domain/valuation/fast-valuation.ts';
import type { Market } from '../../src/domain/market/market.ts';

/**
 * The fast valuation (caches per sheet version, per day and per instant) against the reference
 * valuation, the straightforward one (valuation.ts, see docs/performance.md): every number
 * bit-identical, over a seeded book and markets moving through many instants.
 */
describe('the fast valuation', () => {
  it('gives bit-identical outputs to the reference implementation', () => {
    const params = defaultDomainParams(loadCatalog());
    const book = generateBook({ entities: 120, seed: 3 });
    const quotes = generateQuotes({ seed: 3, count: 400, startTs: Date.UTC(2025, 9, 1), cadenceMs: 6 * 3600_000, instruments: book.instruments, sourcesPerInstrument: 1 });
    const m = { crypto: { ...book.market.crypto }, rental: { ...book.market.rental }, resale: { ...book.market.resale }, hashprice: book.market.hashprice };
    let compared = 0;
    for (let i = 0; i < quotes.length; i += 20) {
      for (const q of quotes.slice(i, i + 20)) {
        const [kind, model] = q.instrument.includes(':') ? q.instrument.split(':') : [q.instrument === 'hashprice' ? 'hashprice' : 'crypto', q.instrument];
        if (kind === 'crypto') m.crypto[model] = q.price;
        else if (kind === 'rental') m.rental[model] = q.price;
        else if (kind === 'resale') m.resale[model] = q.price;
        else m.hashprice = q.price;
      }
      const market: Market = { crypto: { ...m.crypto }, rental: { ...m.rental }, resale: { ...m.resale }, hashprice: m.hashprice };
      const at = quotes[Math.min(i + 19, quotes.length - 1)].ts;
      for (const e of book.entities.slice(0, 40)) {
        const sheet = e.versions[0];
        const stress = i % 40 === 0;
        expect(JSON.stringify(valueEntity(sheet, market, at, params, { stress }))).toBe(JSON.stringify(referenceValueEntity(sheet, market, at, params, { stress })));
        compared++;
      }
    }
    expect(compared).toBe(800);
  });
});
