import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { readStreamFile, type StreamRecord } from '../../src/bus/stream-file.ts';
import { QuoteSchema, type Quote } from '../../src/domain/market/quote.ts';
import { toCsvRows, toEventTimeMs, toImportRecords } from '../../src/ingest/import-csv.ts';
import { dispatch } from '../../src/cli/ccm.ts';

const main = (argv: readonly string[]): Promise<number> => dispatch(['import-csv', ...argv]);

// The shared market history is read where it lies (shared/data/README.md: never copied here).
const data = (p: string): string => readFileSync(resolve(process.cwd(), '../shared/data', p), 'utf8');
const BINANCE_BTC = 'crypto/BTCUSDT_1d_binance_2018-03-17_2026-03-14.csv';
const BINANCE_ETH = 'crypto/ETHUSDT_1d_binance_2018-03-17_2026-03-14.csv';
const COINBASE_BTC = 'crypto/BTC-USD_1d_coinbase_2020-12-31_2023-12-29.csv';
const COINBASE_ETH = 'crypto/ETH-USD_1d_coinbase_2020-12-31_2023-12-29.csv';
const GPU = 'gpu/gpu_rental_ratecard_monthly_2023-01_2026-09.csv';

const day = (iso: string): number => Date.parse(`${iso}T00:00:00Z`);
const priceAt = (records: readonly StreamRecord[], iso: string): number | undefined =>
  (records.find((r) => r.ts === day(iso))?.value as Quote | undefined)?.price;
const byDay = (records: readonly StreamRecord[]): Map<number, number> => new Map(records.map((r) => [r.ts, (r.value as Quote).price]));
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

describe('toImportRecords on the shared Binance files', () => {
  const btc = toImportRecords(data(BINANCE_BTC), { instrument: 'BTC', source: 'binance', dropLast: true });
  const eth = toImportRecords(data(BINANCE_ETH), { instrument: 'ETH', source: 'binance', dropLast: true });

  it('reads every daily row, takes open_time and close, and drops the partial last day', () => {
    expect(btc.rows).toBe(2920);
    expect(btc.dropped).toBe(1);
    expect(btc.records).toHaveLength(2919);
    expect(btc.dateColumn).toBe('open_time');
    expect(btc.valueColumn).toBe('close');
    expect(btc.records[0].ts).toBe(day('2018-03-17'));
    expect(btc.records.at(-1)?.ts).toBe(day('2026-03-13'));
    expect(eth.records).toHaveLength(2919);
  });

  it('matches the sanity points of shared/data/README.md', () => {
    expect(priceAt(btc.records, '2021-11-10')).toBeCloseTo(64882, -1);
    expect(priceAt(btc.records, '2022-11-21')).toBeCloseTo(15781, -1);
    expect(priceAt(btc.records, '2025-10-06')).toBeCloseTo(124659, -1);
    expect(priceAt(btc.records, '2025-12-31')).toBeCloseTo(87648, -1);
    expect(priceAt(eth.records, '2022-06-18')).toBeCloseTo(995, -1);
    expect(priceAt(eth.records, '2025-08-22')).toBeCloseTo(4832, -1);
    const in2021to2025 = btc.records.filter((r) => r.ts >= day('2021-01-01') && r.ts <= day('2025-12-31'));
    expect(in2021to2025).toHaveLength(1826);
    expect(Math.min(...in2021to2025.map((r) => (r.value as Quote).price))).toBeCloseTo(15781, -1);
  });

  it('emits valid quotes, keyed by instrument, in event-time order, one UTC day apart', () => {
    for (const r of btc.records.slice(0, 50)) {
      expect(r.topic).toBe('quotes');
      expect(r.key).toBe('BTC');
      expect(QuoteSchema.parse(r.value)).toMatchObject({ instrument: 'BTC', source: 'binance', ts: r.ts, receivedAt: r.ts, tsSource: 'source' });
    }
    for (let i = 1; i < btc.records.length; i++) expect(btc.records[i].ts - btc.records[i - 1].ts).toBe(86_400_000);
  });
});

describe('toImportRecords on the shared Coinbase files', () => {
  const binanceBtc = byDay(toImportRecords(data(BINANCE_BTC), { instrument: 'BTC' }).records);
  const binanceEth = byDay(toImportRecords(data(BINANCE_ETH), { instrument: 'ETH' }).records);

  const medianGap = (records: readonly StreamRecord[], ref: Map<number, number>): number =>
    median(records.filter((r) => ref.has(r.ts)).map((r) => Math.abs((r.value as Quote).price / (ref.get(r.ts) as number) - 1)));

  it.each([
    [COINBASE_BTC, 'BTC', binanceBtc],
    [COINBASE_ETH, 'ETH', binanceEth],
  ] as const)('%s lines up with Binance only after --shift-days 1', (file, instrument, ref) => {
    const shifted = toImportRecords(data(file), { instrument, shiftDays: 1 });
    const raw = toImportRecords(data(file), { instrument });
    expect(shifted.rows).toBe(1091);
    expect(shifted.records).toHaveLength(1091);
    expect(shifted.dateColumn).toBe('Date');
    expect(shifted.valueColumn).toBe('close');
    expect(shifted.records[0].ts).toBe(day('2021-01-01'));
    expect(shifted.records.at(-1)?.ts).toBe(day('2023-12-30'));
    expect(medianGap(shifted.records, ref)).toBeLessThan(0.002);
    expect(medianGap(raw.records, ref)).toBeGreaterThan(0.01);
  });
});

describe('toImportRecords on the shared GPU rate card', () => {
  const text = data(GPU);
  it.each([
    ['H100', 45, 11],
    ['A100', 45, 10],
    ['H200', 23, 0],
    ['B200', 18, 3],
  ] as const)('imports gpu=%s month by month, skipping and counting withheld months', (gpu, months, withheld) => {
    const r = toImportRecords(text, { instrument: `rental:${gpu === 'H100' ? 'H100-SXM' : gpu === 'A100' ? 'A100-80GB' : gpu}`, valueCol: 'index_usd_per_gpu_hour', where: [{ column: 'gpu', value: gpu }] });
    expect(r.rows).toBe(131);
    expect(r.filteredOut).toBe(131 - months);
    expect(r.skippedNoValue).toBe(withheld);
    expect(r.records).toHaveLength(months - withheld);
    expect(r.dateColumn).toBe('month');
    for (const rec of r.records) expect(new Date(rec.ts).getUTCDate()).toBe(1);
  });

  it('reads the H100 index of 2024-01 and 2025-01 (shared/data/README.md)', () => {
    const r = toImportRecords(text, { instrument: 'rental:H100-SXM', valueCol: 'index_usd_per_gpu_hour', where: [{ column: 'gpu', value: 'H100' }] });
    expect(priceAt(r.records, '2024-01-01')).toBeCloseTo(4.78, 2);
    expect(priceAt(r.records, '2025-01-01')).toBeCloseTo(3.03, 2);
  });
});

describe('toImportRecords parsing rules', () => {
  it('reads quoted cells, CRLF line ends and a byte-order mark', () => {
    expect(toCsvRows('\ufeffa,"b,c","say ""hi"""\r\n1,2,3\r\n')).toEqual([
      ['a', 'b,c', 'say "hi"'],
      ['1', '2', '3'],
    ]);
  });

  it('reads days, months, date-times with and without an offset, and epoch numbers as UTC', () => {
    expect(toEventTimeMs('2024-02-29')).toBe(Date.UTC(2024, 1, 29));
    expect(toEventTimeMs('2024-02')).toBe(Date.UTC(2024, 1, 1));
    expect(toEventTimeMs('2018-03-17 00:00:00+00:00')).toBe(Date.UTC(2018, 2, 17));
    expect(toEventTimeMs('2018-03-17T06:00:00+02:00')).toBe(Date.UTC(2018, 2, 17, 4));
    expect(toEventTimeMs('2018-03-17 06:00')).toBe(Date.UTC(2018, 2, 17, 6));
    expect(toEventTimeMs('1700000000')).toBe(1_700_000_000_000);
    expect(toEventTimeMs('1700000000000')).toBe(1_700_000_000_000);
    expect(toEventTimeMs('2023-02-30')).toBeNull();
    expect(toEventTimeMs('yesterday')).toBeNull();
  });

  it('falls back to the second column without close, sorts rows by time and skips empty values', () => {
    const r = toImportRecords('timestamp,price\n2024-03,3\n2024-01,1\n2024-02,\n', { instrument: 'resale:S19XP' });
    expect(r.valueColumn).toBe('price');
    expect(r.skippedNoValue).toBe(1);
    expect(r.records.map((x) => (x.value as Quote).price)).toEqual([1, 3]);
    expect(r.records.map((x) => x.key)).toEqual(['resale:S19XP', 'resale:S19XP']);
  });

  it('refuses an unknown instrument, a missing column, a bad date and a non-positive price with the line', () => {
    expect(() => toImportRecords('date,close\n2024-01-01,1\n', { instrument: 'DOGE' })).toThrow(/not an instrument id/);
    expect(() => toImportRecords('date,close\n2024-01-01,1\n', { instrument: 'BTC', valueCol: 'open' })).toThrow(/--value-col: no column 'open'/);
    expect(() => toImportRecords('when,close\n2024-01-01,1\n', { instrument: 'BTC' })).toThrow(/no date column/);
    expect(() => toImportRecords('date,close\n2024-01-01,1\nsoon,2\n', { instrument: 'BTC' })).toThrow(/line 3: date: 'soon' is not a date/);
    expect(() => toImportRecords('date,close\n2024-01-01,0\n', { instrument: 'hashprice' })).toThrow(/line 2: close: '0' must be a positive number/);
  });
});

describe('ccm import-csv', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ccm-import-csv-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes a stream file that reads back as the imported quotes and prints a summary with the counts', async () => {
    const out = join(dir, 'h100.ndjson.gz');
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const code = await main(['--instrument', 'rental:H100-SXM', '--file', resolve(process.cwd(), '../shared/data', GPU), '--out', out, '--value-col', 'index_usd_per_gpu_hour', '--where', 'gpu=H100']);
    const summary = log.mock.calls.map((c) => String(c[0])).join('\n');
    log.mockRestore();
    expect(code).toBe(0);
    expect(summary).toContain('34 quotes of rental:H100-SXM');
    expect(summary).toContain('skipped without a value: 11');
    const back: StreamRecord[] = [];
    for await (const r of readStreamFile(out)) back.push(r);
    expect(back).toHaveLength(34);
    expect((back[0].value as Quote).source).toBe('csv:gpu_rental_ratecard_monthly_2023-01_2026-09');
  });

  it('exits 2 with file: reason on stderr for a bad row, a missing file and missing options', async () => {
    const csv = join(dir, 'bad.csv');
    writeFileSync(csv, 'date,close\n2024-01-01,abc\n');
    const err = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    expect(await main(['--instrument', 'BTC', '--file', csv, '--out', join(dir, 'x.gz')])).toBe(2);
    expect(await main(['--instrument', 'BTC', '--file', join(dir, 'missing.csv'), '--out', join(dir, 'y.gz')])).toBe(2);
    expect(await main(['--instrument', 'BTC'])).toBe(2);
    const lines = err.mock.calls.map((c) => String(c[0]));
    err.mockRestore();
    expect(lines[0]).toBe(`${csv}: line 2: close: 'abc' must be a positive number`);
    expect(lines[1]).toMatch(/missing\.csv: cannot be read \(ENOENT\)/);
    expect(lines).toContainEqual("ccm import-csv: required option '--file <csv>' not specified");
    expect(lines.join('\n')).not.toMatch(/\n\s+at /);
  });
});

describe('ccm import-csv, what it says', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ccm-import-says-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses an instrument the catalog does not know, with the list of known ones and the id it may mean', async () => {
    const csv = join(dir, 'p.csv');
    writeFileSync(csv, 'date,close\n2024-01-01,2.5\n');
    const err = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    expect(await main(['--instrument', 'rental:h100 sxm', '--file', csv, '--out', join(dir, 'a.gz')])).toBe(2);
    expect(await main(['--instrument', 'DOGE', '--file', csv, '--out', join(dir, 'b.gz')])).toBe(2);
    const lines = err.mock.calls.map((c) => String(c[0]));
    err.mockRestore();
    expect(lines[0]).toMatch(/^import-csv: --instrument: 'rental:h100 sxm' is not a known instrument \(did you mean rental:H100-SXM\?\); known: BTC, ETH, hashprice, rental:/);
    expect(lines[1]).toMatch(/^import-csv: --instrument: 'DOGE' is not a known instrument; known: BTC, ETH, hashprice, .*rental:H100-SXM.*resale:S19XP/);
    expect(lines[1]).not.toContain('rental:S19XP');
    expect(existsSync(join(dir, 'a.gz'))).toBe(false);
  });

  it('names the column it took as the price and the --value-col that takes another', async () => {
    const csv = join(dir, 'ohlc.csv');
    writeFileSync(csv, 'date,open,high,low,close\n2024-01-01,1,3,0.5,2\n');
    const err = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    expect(await main(['--instrument', 'BTC', '--file', csv, '--out', join(dir, 'c.gz')])).toBe(0);
    const csv2 = join(dir, 'two.csv');
    writeFileSync(csv2, 'month,usd_per_hour,region\n2024-01,2.5,us\n');
    expect(await main(['--instrument', 'rental:H100-SXM', '--file', csv2, '--out', join(dir, 'd.gz')])).toBe(0);
    expect(await main(['--instrument', 'BTC', '--file', csv, '--out', join(dir, 'e.gz'), '--value-col', 'high'])).toBe(0);
    const lines = err.mock.calls.map((c) => String(c[0]));
    err.mockRestore();
    log.mockRestore();
    expect(lines).toEqual([
      "import-csv: took 'close' as the price, the 'close' column; to take another, --value-col 'open' or 'high' or 'low'",
      "import-csv: took 'usd_per_hour' as the price, the second column (no close column); to take another, --value-col 'region'",
    ]);
  });
});
