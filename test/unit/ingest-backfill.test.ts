import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ccm } from '../support/cli.ts';

const main = async (argv: readonly string[]): Promise<number> => (await ccm(['backfill', ...argv])).code;
const refusal = async (argv: readonly string[]) => ccm(['backfill', ...argv]);
import { readStreamFile, type StreamRecord } from '../../src/bus/stream-file.ts';
import { startFakeBinance, type FakeBinance, type Kline } from '../support/fake-servers.ts';

const DAY = 86_400_000;
let fake: FakeBinance;
let dir: string;
let configPath: string;
let closes: Map<number, number>;

/** Real daily BTCUSDT candles (shared/data) served in binance's kline shape. */
async function realKlines(file: string): Promise<Kline[]> {
  const text = await readFile(new URL(`../../../shared/data/crypto/${file}`, import.meta.url), 'utf8');
  return text
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => {
      const [open, o, h, l, c, v, , qv, n] = line.split(',');
      const t = Date.parse(open.replace(' ', 'T'));
      return [t, o, h, l, c, v, t + DAY - 1, qv, Number(n), '0', '0', '0'] as Kline;
    });
}

beforeAll(async () => {
  const btc = await realKlines('BTCUSDT_1d_binance_2018-03-17_2026-03-14.csv');
  const eth = await realKlines('ETHUSDT_1d_binance_2018-03-17_2026-03-14.csv');
  closes = new Map(btc.map((k) => [k[0], Number(k[4])]));
  fake = await startFakeBinance({ klines: new Map([['BTCUSDT', btc], ['ETHUSDT', eth]]) });
  dir = await mkdtemp(join(tmpdir(), 'ccm-backfill-'));
  configPath = join(dir, 'config.yaml');
  await writeFile(configPath, stringify({ ingest: { crypto: { exchanges: [{ name: 'binance', options: fake.ccxtOptions }] } } }));
});

afterAll(async () => {
  await fake.close();
  await rm(dir, { recursive: true, force: true });
});

async function readAll(path: string): Promise<StreamRecord[]> {
  const out: StreamRecord[] = [];
  for await (const r of readStreamFile(path)) out.push(r);
  return out;
}

describe('ccm backfill', () => {
  it('pages through fetchOHLCV and writes one quote per candle, at its close time, in event-time order', async () => {
    const out = join(dir, 'btc-eth.ndjson.gz');
    const code = await main(['--config', configPath, '--exchange', 'binance', '--symbols', 'BTC/USDT,ETH/USDT', '--from', '2020-01-01', '--to', '2023-01-01', '--timeframe', '1d', '--out', out]);
    expect(code).toBe(0);
    const records = await readAll(out);
    const days = (Date.parse('2023-01-01') - Date.parse('2020-01-01')) / DAY;
    expect(records).toHaveLength(2 * days);
    // binance serves at most 1000 candles a call, so 1096 days take two pages per symbol
    expect(fake.http.hits('GET', '/api/v3/klines')).toHaveLength(4);
    const first = Date.parse('2020-01-01');
    expect(records[0]).toMatchObject({ topic: 'quotes', key: 'BTC', ts: first + DAY, value: { v: 1, instrument: 'BTC', price: closes.get(first), source: 'binance', ts: first + DAY, tsSource: 'source' } });
    expect(records[1]).toMatchObject({ key: 'ETH', ts: first + DAY });
    expect(records.every((r, i) => i === 0 || records[i - 1].ts <= r.ts)).toBe(true);
    expect(records.at(-1)?.ts).toBe(Date.parse('2023-01-01'));
  });

  it('refuses bad input with a usage error and no request', async () => {
    const before = fake.http.requests.length;
    expect(await refusal(['--exchange', 'binance', '--symbols', 'BTC/USDT', '--from', 'yesterday', '--to', '2023-01-01', '--out', 'x'])).toMatchObject({ code: 2, stderr: expect.stringContaining("ccm backfill: --from: 'yesterday' must be an ISO date") });
    expect(await refusal(['--exchange', 'binance', '--symbols', 'BTC/USDT', '--from', '2022-01-01', '--to', '2023-01-01'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--out FILE or --kafka') });
    expect(await refusal(['--config', configPath, '--exchange', 'binance', '--symbols', 'BTC/EUR', '--from', '2022-01-01', '--to', '2023-01-01', '--out', join(dir, 'x.gz')])).toMatchObject({ code: 2, stderr: expect.stringContaining('BTC/EUR') });
    expect(await refusal(['--config', configPath, '--exchange', 'nosuchexchange', '--symbols', 'BTC/USDT', '--from', '2022-01-01', '--to', '2023-01-01', '--out', join(dir, 'x.gz')])).toMatchObject({ code: 2 });
    expect(fake.http.requests.slice(before).filter((r) => r.path === '/api/v3/klines')).toHaveLength(0);
  });
});
