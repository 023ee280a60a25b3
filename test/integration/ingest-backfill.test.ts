/**
 * `ccm backfill --kafka`: candles from a fake binance (served from the real daily history in
 * shared/data) land on the history topic of the real Kafka (scripts/services.sh), keyed by
 * instrument, record timestamp = the candle's close time. Topics have a prefix of their own.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { dispatch } from '../../src/cli/ccm.ts';

const main = (argv: readonly string[]): Promise<number> => dispatch(['backfill', ...argv]);
import { KafkaBus } from '../../src/bus/kafka-bus.ts';
import { topicNames, topicSpecs } from '../../src/bus/topics.ts';
import { createLogger } from '../../src/logger.ts';
import { startFakeBinance, type FakeBinance, type Kline } from '../support/fake-servers.ts';

const DAY = 86_400_000;
const brokers = (): string[] => {
  const b = process.env.CCM_KAFKA_BROKERS;
  if (!b) throw new Error('CCM_KAFKA_BROKERS is not set: run scripts/services.sh up, then eval "$(scripts/services.sh env)"');
  return b.split(',');
};
const id = randomUUID().slice(0, 8);
const prefix = `it.backfill.${id}.`;
const bus = new KafkaBus({ brokers: brokers(), clientId: `it-backfill-${id}`, logger: createLogger({ level: 'error' }) });
let fake: FakeBinance | null = null;
let dir = '';

afterAll(async () => {
  await fake?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  await bus.deleteTopics(topicSpecs(prefix).map((s) => s.topic)).catch(() => undefined);
  await bus.close();
});

describe('ccm backfill --kafka', () => {
  it('publishes one quote per candle to the history topic, keyed by instrument at the candle close time', async () => {
    const text = await readFile(new URL('../../../shared/data/crypto/BTCUSDT_1d_binance_2018-03-17_2026-03-14.csv', import.meta.url), 'utf8');
    const klines: Kline[] = text.trim().split('\n').slice(1).map((line) => {
      const [open, o, h, l, c, v, , qv, n] = line.split(',');
      const t = Date.parse(open.replace(' ', 'T'));
      return [t, o, h, l, c, v, t + DAY - 1, qv, Number(n), '0', '0', '0'];
    });
    fake = await startFakeBinance({ klines: new Map([['BTCUSDT', klines]]) });
    dir = await mkdtemp(join(tmpdir(), 'ccm-it-backfill-'));
    const configPath = join(dir, 'c.yaml');
    await writeFile(configPath, stringify({ kafka: { topicPrefix: prefix }, ingest: { crypto: { exchanges: [{ name: 'binance', options: fake.ccxtOptions }] } } }));
    expect(await main(['--config', configPath, '--exchange', 'binance', '--symbols', 'BTC/USDT', '--from', '2022-11-01', '--to', '2022-12-01', '--timeframe', '1d', '--kafka'])).toBe(0);
    const records = await bus.readToEnd(topicNames(prefix).history);
    expect(records).toHaveLength(30);
    const nov21 = records.find((r) => r.ts === Date.parse('2022-11-22T00:00:00Z'));
    expect(nov21?.key).toBe('BTC');
    // 2022-11-21 was the cycle low (shared/notes/sources.md 4.5): its close is the candle's close
    expect(JSON.parse(String(nov21?.value))).toMatchObject({ instrument: 'BTC', source: 'binance', tsSource: 'source', price: Number(klines.find((k) => k[0] === Date.parse('2022-11-21T00:00:00Z'))?.[4]) });
  });
});
