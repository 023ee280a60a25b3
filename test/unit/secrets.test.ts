import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBus } from '../../src/bus/memory-bus.ts';
import { IngestConfigSchema } from '../../src/config/ingest-schema.ts';
import { Ingestor } from '../../src/ingest/ingestor.ts';
import { createRunpodSource } from '../../src/ingest/runpod/runpod-source.ts';
import type { HttpPollSource } from '../../src/ingest/http-poll-source.ts';
import type { SourceResult } from '../../src/ingest/quote-source.ts';
import { createLogger } from '../../src/logger.ts';
import { REDACTED, isSecretName, redactText, redactUrl, redactValue, scrubSecrets, secretValuesOf } from '../../src/redact.ts';
import { FakeHttpServer, until } from '../support/fake-servers.ts';
import { testCatalog } from '../fixtures/test-catalog.ts';

const KEY = 'rpa_FAKEKEY0123456789abcdef';

describe('redactUrl', () => {
  it('replaces the value of a credential query parameter and keeps the others', () => {
    expect(redactUrl(`https://api.runpod.io/graphql?api_key=${KEY}&x=1`)).toBe(`https://api.runpod.io/graphql?api_key=${REDACTED}&x=1`);
    expect(redactUrl('https://h/p?symbol=BTC&token=abc&accessToken=def&sig=ghi')).toBe(`https://h/p?symbol=BTC&token=${REDACTED}&accessToken=${REDACTED}&sig=${REDACTED}`);
  });

  it('removes user and password from the authority', () => {
    expect(redactUrl('https://admin:hunter22@influx.example:8086/write?db=ccm')).toBe(`https://${REDACTED}@influx.example:8086/write?db=ccm`);
  });

  it('leaves a URL without credentials as it was', () => {
    expect(redactUrl('https://api.binance.com/api/v3/ticker/24hr?symbol=BTCUSDT')).toBe('https://api.binance.com/api/v3/ticker/24hr?symbol=BTCUSDT');
  });

  it('redacts a malformed URL by pattern', () => {
    expect(redactUrl(`http://[bad?api_key=${KEY}`)).not.toContain(KEY);
  });
});

describe('secret names', () => {
  it('recognises credential names in snake, kebab and camel case, and not look-alikes', () => {
    for (const n of ['api_key', 'apiKey', 'API-KEY', 'key', 'token', 'authToken', 'x-api-key', 'authorization', 'password', 'client_secret', 'signature']) expect(isSecretName(n), n).toBe(true);
    for (const n of ['monkey', 'symbol', 'keyword', 'tokens_per_s', 'db', 'oauthish']) expect(isSecretName(n), n).toBe(false);
  });

  it('takes the values of *_KEY, *_TOKEN, *_SECRET and *_PASSWORD variables, longest first, not short ones', () => {
    expect(secretValuesOf({ RUNPOD_API_KEY: KEY, EBAY_OAUTH_TOKEN: 'tok-123456', CCM_WEBHOOK_SECRET: 'abc', PATH: '/usr/bin:/bin', HOME: '/home/x' })).toEqual([KEY, 'tok-123456']);
  });
});

describe('redactText and redactValue', () => {
  it('redact every URL in free text and mask the known secrets in raw, percent-encoded and JSON-escaped form', () => {
    const text = `POST http://127.0.0.1:9/graphql?api_key=${KEY}: ECONNREFUSED; echoed ${encodeURIComponent('p@ss/word+1')} and ${KEY}`;
    const out = redactText(text, ['p@ss/word+1']);
    expect(out).not.toContain(KEY);
    expect(out).not.toContain('p%40ss');
    expect(scrubSecrets(JSON.stringify({ s: 'a"quoted"secret' }), ['a"quoted"secret'])).toBe(`{"s":"${REDACTED}"}`);
  });

  it('keep the shape of a JSON value', () => {
    const raw = { url: `https://h/?api_key=${KEY}`, status: 401, body: `{"error":"bad key ${KEY}"}` };
    const out = redactValue(raw, [KEY]) as typeof raw;
    expect(out.status).toBe(401);
    expect(JSON.stringify(out)).not.toContain(KEY);
    const same = { a: 1 };
    expect(redactValue(same)).toBe(same);
  });
});

describe('the logger', () => {
  it('censors secret fields by name and masks URLs and secret variables anywhere in a line', () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'debug', stream: { write: (s: string) => void lines.push(s) }, env: { RUNPOD_API_KEY: KEY } });
    logger.info({ password: 'pw-1234567', config: { influx: { password: 'pw-7654321' } }, headers: { authorization: 'Bearer zzz-999999' }, apiKey: 'ak-1234567' }, 'fields');
    logger.error({ err: new Error(`request to https://api.runpod.io/graphql?api_key=${KEY} failed`) }, 'an error with a stack');
    logger.warn(`echoed ${KEY} in a message`);
    const all = lines.join('\n');
    for (const s of [KEY, 'pw-1234567', 'pw-7654321', 'zzz-999999', 'ak-1234567']) expect(all).not.toContain(s);
    expect(lines).toHaveLength(3);
    for (const l of lines) expect(() => JSON.parse(l) as unknown).not.toThrow();
    expect(all).toContain(REDACTED);
  });
});

describe('RunPod source and the ingestor', () => {
  let server: FakeHttpServer | null = null;
  let src: HttpPollSource | null = null;
  afterEach(async () => {
    await src?.stop();
    await server?.close();
  });

  it('never put the key of the query string in a reject, a dead letter or a log line, even when the receiver echoes it', async () => {
    server = await FakeHttpServer.start();
    // A receiver that quotes the request back, key included: 401 (an auth error), then malformed JSON.
    server.script('POST', '/graphql', [
      { status: 401, json: { error: `invalid api key ${KEY}`, request: `/graphql?api_key=${KEY}` } },
      { status: 200, text: `<html>api_key=${KEY}</html>` },
    ]);
    const defaults = IngestConfigSchema.parse({});
    src = createRunpodSource({ ...defaults.runpod, url: `${server.url}/graphql` }, { catalog: testCatalog(), env: { RUNPOD_API_KEY: KEY }, timeoutMs: 2000, backoff: { initialMs: 10, maxMs: 20 }, cronOverride: null });
    const bus = new MemoryBus();
    await bus.ensureTopics([
      { topic: 'q', partitions: 1 },
      { topic: 'dl', partitions: 1 },
    ]);
    const lines: string[] = [];
    const logger = createLogger({ level: 'debug', stream: { write: (s: string) => void lines.push(s) }, env: {} });
    const events: SourceResult[] = [];
    const ing = new Ingestor({ bus, topics: { quotes: 'q', deadletter: 'dl' }, sources: [{ name: src.name, start: (emit) => src!.start((r) => (events.push(r), emit(r))), stop: () => src!.stop() }], bounds: {}, clockSkewMs: 0, maxQuoteAgeMs: 1, logger });
    await ing.start();
    // start() polls once (the 401); a 4xx waits for the next poll, which the test makes
    await until(() => events.some((e) => e.kind === 'reject'), 'the first reject');
    await src.pollNow();
    expect(events.filter((e) => e.kind === 'reject')).toHaveLength(2);
    await ing.flush();
    // the key was sent (so it was there to leak)
    expect(server.requests[0].query.get('api_key')).toBe(KEY);
    const dl = (await bus.readToEnd('dl')).map((r) => String(r.value));
    expect(dl).toHaveLength(2);
    expect(JSON.parse(dl[0])).toMatchObject({ reason: expect.stringContaining('HTTP 401'), raw: { status: 401, url: expect.stringContaining(`api_key=${REDACTED}`) } });
    for (const text of [...dl, ...lines, JSON.stringify(events)]) expect(text).not.toContain(KEY);
  });
});
