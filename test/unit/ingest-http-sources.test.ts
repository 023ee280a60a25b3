import { afterEach, describe, expect, it } from 'vitest';
import type { SourceResult } from '../../src/ingest/quote-source.ts';
import { IngestConfigSchema } from '../../src/config/ingest-schema.ts';
import { createVastSource } from '../../src/ingest/vast/vast-source.ts';
import { createRunpodSource } from '../../src/ingest/runpod/runpod-source.ts';
import { createLambdaSource } from '../../src/ingest/lambda/lambda-source.ts';
import { createEbaySource } from '../../src/ingest/ebay/ebay-source.ts';
import { createHttpSource } from '../../src/ingest/http/http-source.ts';
import { createHashpriceSources } from '../../src/ingest/hashprice/hashprice-source.ts';
import type { HttpPollSource } from '../../src/ingest/http-poll-source.ts';
import type { SourceDeps } from '../../src/ingest/source-deps.ts';
import { FakeHttpServer, fixtureJson, until } from '../support/fake-servers.ts';
import { testCatalog } from '../fixtures/test-catalog.ts';

const NOW = Date.parse('2026-11-24T12:00:00Z');
let server: FakeHttpServer;
const running: HttpPollSource[] = [];
afterEach(async () => {
  for (const s of running.splice(0)) await s.stop();
  await server?.close();
});

const deps = (env: Record<string, string> = {}, timeoutMs = 2000): SourceDeps => ({ catalog: testCatalog(), env, timeoutMs, backoff: { initialMs: 10, maxMs: 40 }, clock: () => NOW, cronOverride: null });
const defaults = IngestConfigSchema.parse({});

async function run(src: HttpPollSource | null, done: (ev: SourceResult[]) => boolean): Promise<SourceResult[]> {
  if (!src) throw new Error('source not built');
  running.push(src);
  const events: SourceResult[] = [];
  await src.start((e) => events.push(e));
  await until(() => done(events), 'the expected events');
  return events;
}
const quotesOf = (ev: SourceResult[]) => ev.flatMap((e) => (e.kind === 'quote' ? [e.quote] : []));
const kinds = (ev: SourceResult[]) => ev.map((e) => e.kind);

describe('vast.ai source', () => {
  it('POSTs the offer filters without a key and quotes the trimmed medians', async () => {
    server = await FakeHttpServer.start();
    server.route('POST', '/api/v0/bundles/', () => ({ json: fixtureJson('vast/bundles.json') }));
    const ev = await run(createVastSource({ ...defaults.vast, url: `${server.url}/api/v0/bundles/` }, deps()), (e) => quotesOf(e).length >= 3);
    const sent = JSON.parse(server.hits('POST', '/api/v0/bundles/')[0].body);
    expect(sent).toMatchObject({ verified: { eq: true }, rentable: { eq: true }, rented: { eq: false }, type: 'on-demand' });
    expect(server.hits('POST', '/api/v0/bundles/')[0].headers.authorization).toBeUndefined();
    expect(quotesOf(ev).find((q) => q.instrument === 'rental:H100-SXM')).toMatchObject({ sample: 5, tsSource: 'receipt', ts: NOW });
  });

  it('sends the key as a bearer token when one is set', async () => {
    server = await FakeHttpServer.start();
    server.route('POST', '/b', () => ({ json: { offers: [] } }));
    await run(createVastSource({ ...defaults.vast, url: `${server.url}/b` }, deps({ VAST_API_KEY: 'k-123' })), () => server.requests.length === 1);
    expect(server.requests[0].headers.authorization).toBe('Bearer k-123');
  });

  it('dead-letters an HTTP 429 and retries no sooner than Retry-After, then quotes', async () => {
    server = await FakeHttpServer.start();
    server.script('POST', '/b', [{ status: 429, json: { success: false, error: 'rate_limited' }, headers: { 'retry-after': '0.05' } }, { json: fixtureJson('vast/bundles.json') }]);
    const ev = await run(createVastSource({ ...defaults.vast, url: `${server.url}/b` }, deps()), (e) => quotesOf(e).length > 0);
    expect(kinds(ev).slice(0, 3)).toEqual(['reject', 'reconnect', 'reject']);
    expect(ev[0]).toMatchObject({ reason: 'vast: HTTP 429 from ' + `${server.url}/b`, raw: { status: 429, body: expect.stringContaining('rate_limited') } });
    expect(ev[1]).toMatchObject({ reason: expect.stringContaining('retry after 50 ms') });
  });
});

describe('RunPod source', () => {
  it('POSTs the gpuTypes query with the optional key in the query string', async () => {
    server = await FakeHttpServer.start();
    server.route('POST', '/graphql', () => ({ json: fixtureJson('runpod/gpu-types.json') }));
    const ev = await run(createRunpodSource({ ...defaults.runpod, url: `${server.url}/graphql` }, deps({ RUNPOD_API_KEY: 'rp' })), (e) => quotesOf(e).length === 4);
    const req = server.hits('POST', '/graphql')[0];
    expect(req.query.get('api_key')).toBe('rp');
    expect(JSON.parse(req.body).query).toContain('gpuTypes');
    expect(quotesOf(ev).map((q) => q.instrument)).toContain('rental:H100-SXM');
  });

  it('dead-letters a malformed body once and does not hammer the source', async () => {
    server = await FakeHttpServer.start();
    server.route('POST', '/graphql', () => ({ text: '<html>502 Bad Gateway</html>' }));
    const src = createRunpodSource({ ...defaults.runpod, url: `${server.url}/graphql` }, deps());
    const ev = await run(src, (e) => e.length === 1);
    expect(ev[0]).toMatchObject({ kind: 'reject', reason: expect.stringContaining('malformed JSON'), raw: { body: '<html>502 Bad Gateway</html>' } });
    await src.pollNow();
    expect(server.requests).toHaveLength(2);
  });
});

describe('Lambda source', () => {
  it('is not built without its key, and sends the key as a bearer token', async () => {
    expect(createLambdaSource(defaults.lambda, deps())).toBeNull();
    server = await FakeHttpServer.start();
    server.route('GET', '/api/v1/instance-types', () => ({ json: fixtureJson('lambda/instance-types.json') }));
    const ev = await run(createLambdaSource({ ...defaults.lambda, url: `${server.url}/api/v1/instance-types` }, deps({ LAMBDA_API_KEY: 'secret' })), (e) => quotesOf(e).length === 4);
    expect(server.requests[0].headers.authorization).toBe('Bearer secret');
    expect(quotesOf(ev).find((q) => q.instrument === 'rental:H100-SXM')?.price).toBe(2.99);
  });

  it('retries after HTTP 500 with backoff and reports the source back up', async () => {
    server = await FakeHttpServer.start();
    server.script('GET', '/t', [{ status: 500, json: { error: { message: 'Internal error' } } }, { status: 500, text: 'oops' }, { json: fixtureJson('lambda/instance-types.json') }]);
    const ev = await run(createLambdaSource({ ...defaults.lambda, url: `${server.url}/t` }, deps({ LAMBDA_API_KEY: 'k' })), (e) => quotesOf(e).length === 4);
    expect(kinds(ev).slice(0, 5)).toEqual(['reject', 'reconnect', 'reject', 'reconnect', 'reject']);
  });
});

describe('eBay source', () => {
  it('sends the OAuth token and marketplace header with the filtered search, and quotes each query', async () => {
    server = await FakeHttpServer.start();
    server.route('GET', '/buy/browse/v1/item_summary/search', () => ({ json: fixtureJson('ebay/item-summary-search.json') }));
    const cfg = { ...defaults.ebay, url: `${server.url}/buy/browse/v1/item_summary/search`, queries: [defaults.ebay.queries[0]] };
    const ev = await run(createEbaySource(cfg, deps({ EBAY_OAUTH_TOKEN: 'v^1.1#tok' })), (e) => quotesOf(e).length === 1);
    const req = server.requests[0];
    expect(req.headers.authorization).toBe('Bearer v^1.1#tok');
    expect(req.headers['x-ebay-c-marketplace-id']).toBe('EBAY_US');
    expect(req.query.get('filter')).toBe('conditions:{USED},buyingOptions:{FIXED_PRICE},price:[5000..],priceCurrency:USD');
    expect(quotesOf(ev)[0]).toMatchObject({ instrument: 'resale:H100-PCIE', price: 21_000, sample: 4 });
    expect(createEbaySource(defaults.ebay, deps())).toBeNull();
  });
});

describe('generic HTTP and hashprice sources', () => {
  it('reports a source that does not answer in time as down, then retries', async () => {
    server = await FakeHttpServer.start();
    server.script('GET', '/feed', [{ json: fixtureJson('http/rental-feed.json'), delayMs: 1000 }, { json: fixtureJson('http/rental-feed.json') }]);
    const cfg = { name: 'broker', kind: 'rental' as const, url: `${server.url}/feed`, method: 'GET' as const, headersFromEnv: { 'x-api-key': 'BROKER_KEY' }, headers: {}, cron: '0 * * * * *', itemsPath: 'rows', modelPath: 'gpu', pricePath: 'instance_usd_per_hour', unitsPath: 'gpus', tsPath: 'asOf', priceScale: 1, modelMap: {} };
    const ev = await run(createHttpSource(cfg, deps({ BROKER_KEY: 'bk' }, 100)), (e) => quotesOf(e).length === 3);
    expect(ev[0]).toMatchObject({ kind: 'down', reason: expect.stringContaining('no answer within 100 ms') });
    expect(kinds(ev).slice(1, 3)).toEqual(['reconnect', 'up']);
    expect(server.requests[0].headers['x-api-key']).toBe('bk');
  });

  it('reports a dropped connection as down and recovers on the next answer', async () => {
    server = await FakeHttpServer.start();
    server.script('GET', '/hp', [{ destroy: true }, { json: fixtureJson('hashprice/feed.json') }]);
    const [src] = createHashpriceSources({ http: { url: `${server.url}/hp`, pricePath: 'data.hashprice.usdPerThDay', tsPath: 'data.hashprice.updatedAt', cron: '0 * * * * *', headersFromEnv: {} } }, deps(), () => null);
    const ev = await run(src, (e) => quotesOf(e).length === 1);
    expect(kinds(ev)).toEqual(['down', 'reconnect', 'up', 'quote']);
    expect(quotesOf(ev)[0]).toMatchObject({ instrument: 'hashprice', price: 0.0447, source: 'hashprice-http', tsSource: 'source' });
  });

  it('derives hashprice from the BTC index, the difficulty feed and the fee feed', async () => {
    server = await FakeHttpServer.start();
    server.route('GET', '/difficulty', () => ({ json: fixtureJson('hashprice/difficulty.json') }));
    server.route('GET', '/fees', () => ({ json: fixtureJson('hashprice/fees.json') }));
    const derived = { difficultyUrl: `${server.url}/difficulty`, difficultyPath: 'difficulty', feesUrl: `${server.url}/fees`, feesPath: 'avgFeesPerBlockSats', feesInSats: true, subsidyBtc: 3.125, cron: '0 * * * * *' };
    const [src] = createHashpriceSources({ derived }, deps(), () => 86_000);
    const ev = await run(src, (e) => quotesOf(e).length === 1);
    expect(quotesOf(ev)[0]).toMatchObject({ instrument: 'hashprice', source: 'hashprice-derived', tsSource: 'receipt' });
    expect(quotesOf(ev)[0].price).toBeCloseTo(0.0365, 4);
  });
});
