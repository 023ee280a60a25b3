import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { parse } from 'yaml';
import { readStreamFile, type StreamRecord } from '../../src/bus/stream-file.ts';
import { CatalogSchema, toCatalog } from '../../src/domain/sheet/catalog.ts';
import { QuoteSchema, type Quote } from '../../src/domain/market/quote.ts';
import { SheetFileSchema, type SheetVersion } from '../../src/domain/sheet/sheet.ts';
import { createPrng, loadScenariosFile, mulberry32, simulateQuotes, simulatedInstruments, toScenariosFile } from '../../src/ingest/simulate/index.ts';
import { dispatch } from '../../src/cli/ccm.ts';

const main = (argv: readonly string[]): Promise<number> => dispatch(['simulate', ...argv]);

const file = await loadScenariosFile(resolve(process.cwd(), 'config/scenarios.yaml'));
const catalog = toCatalog(CatalogSchema.parse(parse(readFileSync(resolve(process.cwd(), 'config/catalog.yaml'), 'utf8'))));
const FROM = Date.parse('2025-10-01T00:00:00Z');
const DAY = 86_400_000;
const YEAR = 365.25 * DAY;

const run = (scenario: string, days: number, seed = 7, cadenceS?: number): StreamRecord[] => [...simulateQuotes({ file, scenario, seed, fromMs: FROM, toMs: FROM + days * DAY, cadenceS })];
const price = (r: StreamRecord): number => (r.value as Quote).price;
const lastOf = (records: readonly StreamRecord[], key: string): StreamRecord => {
  for (let i = records.length - 1; i >= 0; i--) if (records[i].key === key) return records[i];
  throw new Error(`no ${key}`);
};
const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('config/scenarios.yaml', () => {
  it('validates and defines calm, crypto_crash, compute_glut and double_leverage', () => {
    expect(Object.keys(file.scenarios)).toEqual(expect.arrayContaining(['calm', 'crypto_crash', 'compute_glut', 'double_leverage']));
  });

  it('prices catalog models only, with rentals for GPUs and resale for every model', () => {
    for (const id of Object.keys(file.start.rental)) expect(catalog.models.get(id)?.class, id).toBe('gpu');
    for (const id of Object.keys(file.start.resale)) expect(catalog.models.has(id), id).toBe(true);
  });

  it('gives every model of the entity sheets a resale series, GPUs a rental series, and quotes hashprice', () => {
    const instruments = new Set(simulatedInstruments(file));
    const dir = resolve(process.cwd(), 'config/entities');
    for (const f of readdirSync(dir)) {
      const parsed = SheetFileSchema.parse(parse(readFileSync(join(dir, f), 'utf8')));
      const versions: SheetVersion[] = 'versions' in parsed ? parsed.versions : [parsed];
      for (const item of versions.flatMap((v) => v.fleet)) {
        expect(instruments.has(`resale:${item.model}`), `${f}: resale:${item.model}`).toBe(true);
        if (item.class === 'gpu') expect(instruments.has(`rental:${item.model}`), `${f}: rental:${item.model}`).toBe(true);
      }
    }
    expect(instruments.has('hashprice')).toBe(true);
  });

  it('refuses a start override of a series the file does not price', () => {
    const text = readFileSync(resolve(process.cwd(), 'config/scenarios.yaml'), 'utf8').replace('resale: { S19J-PRO: 8800, S19XP: 11000 }', 'resale: { S9: 100 }');
    expect(() => toScenariosFile(text, 'scenarios.yaml')).toThrow(/scenarios\.yaml: scenarios\.crash_2022\.start\.resale\.S9: not in start\.resale/);
  });

  it('refuses a file without a required scenario, naming the file and the key', () => {
    const text = readFileSync(resolve(process.cwd(), 'config/scenarios.yaml'), 'utf8').replace(/^ {2}calm:\n.*\n/m, '');
    expect(() => toScenariosFile(text, 'scenarios.yaml')).toThrow(/scenarios\.yaml: scenarios\.calm: is required/);
  });
});

describe('the seeded PRNG', () => {
  it('repeats its sequence for a seed and differs between seeds', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const c = mulberry32(43);
    const xs = Array.from({ length: 5 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c())).not.toEqual(xs);
  });

  it('draws uniforms in [0, 1) and standard normals', () => {
    const p = createPrng(1);
    const us = Array.from({ length: 20_000 }, () => p.uniform());
    expect(Math.min(...us)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...us)).toBeLessThan(1);
    const zs = Array.from({ length: 20_000 }, () => p.normal());
    const mean = zs.reduce((s, z) => s + z, 0) / zs.length;
    const sd = Math.sqrt(zs.reduce((s, z) => s + (z - mean) ** 2, 0) / zs.length);
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(sd - 1)).toBeLessThan(0.03);
  });
});

describe('simulateQuotes', () => {
  const calm = run('calm', 3);

  it('emits valid quotes in event-time order, each instrument from every source', () => {
    for (let i = 1; i < calm.length; i++) expect(calm[i].ts).toBeGreaterThanOrEqual(calm[i - 1].ts);
    const sourcesBy = new Map<string, Set<string>>();
    for (const r of calm) {
      const q = QuoteSchema.parse(r.value);
      expect(r).toMatchObject({ topic: 'quotes', key: q.instrument, ts: q.ts });
      expect(q).toMatchObject({ tsSource: 'source', receivedAt: q.ts });
      sourcesBy.set(q.instrument, (sourcesBy.get(q.instrument) ?? new Set()).add(q.source));
    }
    expect([...sourcesBy.keys()].sort()).toEqual([...simulatedInstruments(file)].sort());
    for (const [instrument, s] of sourcesBy) expect([...s].sort(), instrument).toEqual(['sim-a', 'sim-b', 'sim-c']);
  });

  it('quotes each source at its cadence, staggered so crypto never waits past its 5-minute staleness', () => {
    const btc = calm.filter((r) => r.key === 'BTC');
    const simA = btc.filter((r) => (r.value as Quote).source === 'sim-a');
    for (let i = 1; i < simA.length; i++) expect(simA[i].ts - simA[i - 1].ts).toBe(file.model.cadenceS.crypto * 1000);
    for (let i = 1; i < btc.length; i++) expect(btc[i].ts - btc[i - 1].ts).toBeLessThan(300_000);
    expect(btc[0].ts).toBe(FROM);
  });

  it('starts at the configured late-2025 market, within source noise', () => {
    const first = (key: string): number => price(calm.find((r) => r.key === key) as StreamRecord);
    expect(first('BTC') / 110_000).toBeCloseTo(1, 1);
    expect(first('rental:H100-SXM') / 2.1).toBeCloseTo(1, 0);
    expect(first('resale:S19XP') / 1400).toBeCloseTo(1, 0);
    expect(first('hashprice') / 0.045).toBeCloseTo(1, 1);
  });

  it('keeps a year of the default cadence to a few hundred thousand records', () => {
    const perDay = calm.length / 3;
    expect(perDay * 365).toBeLessThan(500_000);
  });

  it('scales every cadence with --cadence-s', () => {
    const slow = run('calm', 3, 7, file.model.cadenceS.crypto * 2);
    expect(slow.length).toBe(calm.length / 2);
  });

  it('runs without an end when no end is given', () => {
    const it = simulateQuotes({ file, scenario: 'calm', seed: 1, fromMs: FROM })[Symbol.iterator]();
    let n = 0;
    let ts = 0;
    while (n < 5000) {
      const r = it.next();
      expect(r.done).toBe(false);
      ts = (r.value as StreamRecord).ts;
      n++;
    }
    expect(ts).toBeGreaterThan(FROM);
  });

  it('starts a scenario with start overrides (crash_2022) at its own prices, with the same instruments', () => {
    const from2022 = Date.parse('2022-01-01T00:00:00Z');
    const records = [...simulateQuotes({ file, scenario: 'crash_2022', seed: 3, fromMs: from2022, toMs: from2022 + DAY })];
    const first = (key: string): number => price(records.find((r) => r.key === key) as StreamRecord);
    expect(first('BTC') / 47_723).toBeCloseTo(1, 1);
    expect(first('resale:S19J-PRO') / 8_800).toBeCloseTo(1, 0);
    expect(first('hashprice') / 0.2).toBeCloseTo(1, 1);
    expect(first('rental:H100-SXM') / 2.1).toBeCloseTo(1, 0);
    expect(new Set(records.map((r) => r.key))).toEqual(new Set(simulatedInstruments(file)));
  });

  it('refuses an unknown scenario', () => {
    expect(() => run('meteor', 1)).toThrow(/unknown scenario 'meteor'/);
  });
});

describe('scenario shocks (same seed, so the draws are the same and only the trend differs)', () => {
  // A coarse cadence keeps half a year cheap; the scenario's window is 12 months.
  const days = 180;
  const cadence = 7200;
  const calm = run('calm', days, 11, cadence);
  const crash = run('crypto_crash', days, 11, cadence);
  const glut = run('compute_glut', days, 11, cadence);
  const both = run('double_leverage', days, 11, cadence);
  const ratio = (a: readonly StreamRecord[], b: readonly StreamRecord[], key: string): { r: number; years: number } => {
    const x = lastOf(a, key);
    const y = lastOf(b, key);
    expect(x.ts).toBe(y.ts);
    return { r: price(x) / price(y), years: (x.ts - FROM) / YEAR };
  };

  it('crypto_crash takes BTC toward -75% and ETH toward -80% over 12 months', () => {
    const btc = ratio(crash, calm, 'BTC');
    expect(btc.r).toBeCloseTo(0.25 ** btc.years, 3);
    const eth = ratio(crash, calm, 'ETH');
    expect(eth.r).toBeCloseTo(0.2 ** eth.years, 3);
    expect(ratio(crash, calm, 'rental:H100-SXM').r).toBeCloseTo(1, 6);
  });

  it('compute_glut takes rental toward -60% over 12 months instead of the usual -30%', () => {
    const h100 = ratio(glut, calm, 'rental:H100-SXM');
    expect(h100.r).toBeCloseTo((0.4 / 0.7) ** h100.years, 3);
    expect(ratio(glut, calm, 'BTC').r).toBeCloseTo(1, 6);
  });

  it('moves GPU resale with rental 30 days later and ASIC resale with hashprice', () => {
    const resale = ratio(glut, calm, 'resale:H100-SXM');
    expect(resale.r).toBeCloseTo((0.4 / 0.7) ** (resale.years - 30 / 365.25), 2);
    expect(ratio(glut, calm, 'resale:S19XP').r).toBeCloseTo(1, 6);
    expect(ratio(crash, calm, 'resale:S19XP').r).toBeLessThan(0.8);
  });

  it('drives hashprice by BTC over slower difficulty growth in a crash', () => {
    const hp = ratio(crash, calm, 'hashprice');
    expect(hp.r).toBeCloseTo((0.25 * (1.4 / 1.1)) ** hp.years, 2);
  });

  it('double_leverage is both shocks at once', () => {
    expect(ratio(both, crash, 'BTC').r).toBeCloseTo(1, 6);
    expect(ratio(both, glut, 'rental:B200').r).toBeCloseTo(1, 6);
  });
});

describe('ccm simulate', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ccm-simulate-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const args = (out: string, seed: string): string[] => ['--scenario', 'double_leverage', '--seed', seed, '--from', '2025-10-01T00:00:00Z', '--days', '2', '--out', out];

  it('writes the same bytes for the same seed and other bytes for another seed', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const [a, b, c] = ['a.ndjson.gz', 'b.ndjson.gz', 'c.ndjson.gz'].map((f) => join(dir, f));
    expect(await main(args(a, '5'))).toBe(0);
    expect(await main(args(b, '5'))).toBe(0);
    expect(await main(args(c, '6'))).toBe(0);
    log.mockRestore();
    expect(sha256(a)).toBe(sha256(b));
    expect(sha256(c)).not.toBe(sha256(a));
    const back: StreamRecord[] = [];
    for await (const r of readStreamFile(a)) back.push(r);
    expect(back).toEqual(JSON.parse(JSON.stringify(run('double_leverage', 2, 5))));
  });

  it('exits 2 with a reason for an unknown scenario, a bad date and missing options', async () => {
    const err = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    expect(await main(['--scenario', 'meteor', '--out', join(dir, 'x.gz')])).toBe(2);
    expect(await main(['--scenario', 'calm', '--from', 'tomorrow', '--out', join(dir, 'y.gz')])).toBe(2);
    expect(await main(['--scenario', 'calm'])).toBe(2);
    const lines = err.mock.calls.map((c) => String(c[0]));
    err.mockRestore();
    expect(lines[0]).toMatch(/scenarios\.yaml: scenarios\.meteor: no such scenario/);
    expect(lines).toContainEqual(expect.stringMatching(/^ccm simulate: --from: 'tomorrow' must be an ISO date/));
    expect(lines).toContainEqual("ccm simulate: required option '--out <file>' not specified");
  });
});
