/**
 * Every ingest source end to end: the real clients (ccxt pro over a websocket, fetch) against the
 * local fake servers of test/support/fake-servers.ts, through the Ingestor into the real Kafka of
 * scripts/services.sh (`eval "$(scripts/services.sh env)"`: CCM_KAFKA_BROKERS). For each source, its
 * quotes arrive on the quotes topic keyed by instrument with the event time as record timestamp.
 * Topics live under a prefix of their own and are deleted after.
 */
import { randomUUID } from 'node:crypto';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaBus } from '../../src/bus/kafka-bus.ts';
import { topicNames, topicSpecs } from '../../src/bus/topics.ts';
import { IngestConfigSchema } from '../../src/config/ingest-schema.ts';
import type { Quote } from '../../src/domain/market/quote.ts';
import { Ingestor, buildSources, LatestPrices } from '../../src/ingest/index.ts';
import { createLogger } from '../../src/logger.ts';
import { fixtureJson, startFakeBinance, type FakeBinance } from '../support/fake-servers.ts';
import { fixturePath, testCatalog } from '../fixtures/test-catalog.ts';

function brokers(): string[] {
  const b = process.env.CCM_KAFKA_BROKERS;
  if (b === undefined || b === '') throw new Error('CCM_KAFKA_BROKERS is not set: run scripts/services.sh up, then eval "$(scripts/services.sh env)"');
  return b.split(',');
}

const prefix = `it.ingest.${randomUUID().slice(0, 8)}.`;
const names = topicNames(prefix);
const bus = new KafkaBus({ brokers: brokers(), clientId: `it-ingest-${randomUUID().slice(0, 8)}`, logger: createLogger({ level: 'error' }) });
let fake: FakeBinance;
let dir: string;
let ingestor: Ingestor;
const received: { key: string | null; ts: number; quote: Quote }[] = [];
const dead: { key: string | null; value: { reason: string; source: string } }[] = [];

const SOURCES = ['binance', 'vast', 'runpod', 'lambda', 'ebay', 'broker-feed', 'brokers', 'hashprice-http', 'hashprice-derived'] as const;

async function readBack(): Promise<void> {
  received.length = 0;
  for (const r of await bus.readToEnd(names.quotes)) received.push({ key: r.key, ts: r.ts, quote: JSON.parse(String(r.value)) as Quote });
  dead.length = 0;
  for (const r of await bus.readToEnd(names.deadletter)) dead.push({ key: r.key, value: JSON.parse(String(r.value)) });
}

beforeAll(async () => {
  await bus.ensureTopics(topicSpecs(prefix, { quotePartitions: 3 }));
  fake = await startFakeBinance();
  const http = fake.http;
  http.route('POST', '/vast/bundles/', () => ({ json: fixtureJson('vast/bundles.json') }));
  http.route('POST', '/runpod/graphql', () => ({ json: fixtureJson('runpod/gpu-types.json') }));
  http.route('GET', '/lambda/instance-types', () => ({ json: fixtureJson('lambda/instance-types.json') }));
  http.route('GET', '/ebay/search', () => ({ json: fixtureJson('ebay/item-summary-search.json') }));
  http.route('GET', '/feed', () => ({ json: fixtureJson('http/rental-feed.json') }));
  // a hashprice feed that is fresh now (the fixture's own time would be stale tomorrow)
  http.route('GET', '/hashprice', () => ({ json: { data: { hashprice: { usdPerThDay: 0.0447, updatedAt: new Date(Date.now() - 1000).toISOString() } } } }));
  http.route('GET', '/difficulty', () => ({ json: fixtureJson('hashprice/difficulty.json') }));
  dir = await mkdtemp(join(tmpdir(), 'ccm-it-ingest-'));
  await copyFile(fixturePath('files/broker-quotes.csv'), join(dir, 'broker-quotes.csv'));

  const base = http.url;
  const cfg = IngestConfigSchema.parse({
    crypto: { exchanges: [{ name: 'binance', mode: 'ws', symbols: ['BTC/USDT'], options: fake.ccxtOptions }] },
    vast: { url: `${base}/vast/bundles/` },
    runpod: { url: `${base}/runpod/graphql` },
    lambda: { url: `${base}/lambda/instance-types` },
    ebay: { url: `${base}/ebay/search`, queries: [{ model: 'H100-PCIE', q: 'H100 80GB PCIe', minPriceUsd: 5000, titleMustHave: ['H100', 'PCIe'] }] },
    http: [{ name: 'broker-feed', kind: 'rental', url: `${base}/feed`, itemsPath: 'rows', modelPath: 'gpu', pricePath: 'instance_usd_per_hour', unitsPath: 'gpus', tsPath: 'asOf' }],
    files: [{ name: 'brokers', dir, kind: 'resale', pollMs: 200 }],
    hashprice: { http: { url: `${base}/hashprice`, pricePath: 'data.hashprice.usdPerThDay', tsPath: 'data.hashprice.updatedAt' }, derived: { difficultyUrl: `${base}/difficulty`, difficultyPath: 'difficulty' } },
  });
  const latest = new LatestPrices();
  const env = { LAMBDA_API_KEY: 'lk', EBAY_OAUTH_TOKEN: 'et' };
  // every HTTP source polls each second, so the derived hashprice finds the BTC index once binance has ticked
  const { sources } = buildSources(cfg, { catalog: testCatalog(), env, timeoutMs: 2000, backoff: { initialMs: 100, maxMs: 1000 }, latest, cronOverride: '* * * * * *' });
  ingestor = new Ingestor({ bus, topics: { quotes: names.quotes, deadletter: names.deadletter }, sources, bounds: cfg.bounds, clockSkewMs: 5000, maxQuoteAgeMs: 86_400_000, latest });
  await ingestor.start();
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (fake.subscriptions.length > 0) fake.ws.broadcast({ ...(fixtureJson('binance/ws-mini-ticker-btcusdt.json') as object), E: Date.now() - 200 });
    await ingestor.flush();
    await readBack();
    if (SOURCES.every((s) => received.some((r) => r.quote.source === s))) break;
    await new Promise((r) => setTimeout(r, 300));
  }
  await ingestor.stop();
  await readBack();
});

afterAll(async () => {
  await fake?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  await bus.deleteTopics(topicSpecs(prefix).map((s) => s.topic)).catch(() => undefined);
  await bus.close();
});

const of = (source: string) => received.filter((r) => r.quote.source === source);

describe('ingest sources into the real Kafka quotes topic', () => {
  it('every record is keyed by its instrument and stamped with the quote event time', () => {
    expect(received.length).toBeGreaterThan(0);
    for (const r of received) {
      expect(r.key).toBe(r.quote.instrument);
      expect(r.ts).toBe(r.quote.ts);
    }
  });

  it('binance websocket tickers arrive as BTC with the exchange event time', () => {
    expect(of('binance')[0]).toMatchObject({ key: 'BTC', quote: { price: 86_420.1, tsSource: 'source' } });
  });

  it('vast.ai offers arrive as rental medians with their offer count', () => {
    expect(of('vast').find((r) => r.key === 'rental:H100-SXM')?.quote).toMatchObject({ sample: 5, tsSource: 'receipt' });
  });

  it('RunPod GPU types arrive per model, unknown models flagged', () => {
    expect(of('runpod').find((r) => r.key === 'rental:H100-SXM')?.quote.price).toBe(2.39);
    expect(of('runpod').find((r) => r.key === 'rental:AMD-Instinct-MI300X-OAM')?.quote.unknownModel).toBe('AMD Instinct MI300X OAM');
  });

  it('Lambda instance types arrive per GPU-hour', () => {
    expect(of('lambda').find((r) => r.key === 'rental:H100-SXM')?.quote.price).toBe(2.99);
  });

  it('eBay listings arrive as a resale asking-price median', () => {
    expect(of('ebay')[0]).toMatchObject({ key: 'resale:H100-PCIE', quote: { price: 21_000, sample: 4 } });
  });

  it('the generic HTTP feed arrives with the time it carries', () => {
    expect(of('broker-feed').find((r) => r.key === 'rental:H100-SXM')).toMatchObject({ ts: Date.parse('2026-11-24T12:00:00Z'), quote: { tsSource: 'source', price: 2.69 } });
  });

  it('the watched directory arrives once per row, and its bad rows are dead-lettered', () => {
    expect(of('brokers').map((r) => r.key).sort()).toEqual(['resale:A100-80GB', 'resale:H100-SXM', 'resale:S21-Pro']);
    expect(dead.filter((d) => d.key === 'brokers').map((d) => d.value.reason)).toEqual(['broker-quotes.csv: row 3: currency EUR is not USD', 'broker-quotes.csv: row 5: no price']);
  });

  it('hashprice arrives from its feed and derived from the BTC index and difficulty', () => {
    expect(of('hashprice-http')[0]).toMatchObject({ key: 'hashprice', quote: { price: 0.0447, tsSource: 'source' } });
    const derived = of('hashprice-derived')[0];
    expect(derived.key).toBe('hashprice');
    expect(derived.quote.price).toBeGreaterThan(0.01);
    expect(derived.quote.price).toBeLessThan(0.2);
  });
});
