/**
 * Secrets never leave (docs/reliability.md "Secrets"): `ccm ingest` as a real process with a fake
 * RunPod key in its environment, against a local RunPod that answers 401 quoting the key back and
 * then goes away (connection refused). The key was sent, yet it appears nowhere: not in the
 * process's output (debug logs included), not in the dead-letter topic, not in the quotes topic.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { KafkaBus } from '../../src/bus/kafka-bus.ts';
import { topicNames, topicSpecs } from '../../src/bus/topics.ts';
import { createLogger } from '../../src/logger.ts';
import { REDACTED } from '../../src/redact.ts';
import { FakeHttpServer } from '../support/fake-servers.ts';
import { REPO_ROOT, serviceEnv, uniquePrefix } from '../support/services.ts';

const KEY = 'rpa_FAKE_9f8e7d6c5b4a39281706';
const env = serviceEnv();
const prefix = `${uniquePrefix('secrets')}.`;
const bus = new KafkaBus({ brokers: env.kafkaBrokers, clientId: 'it-secrets', logger: createLogger({ level: 'error' }) });
let fake: FakeHttpServer | null = null;
let dir = '';

afterAll(async () => {
  await fake?.close().catch(() => undefined);
  if (dir) await rm(dir, { recursive: true, force: true });
  await bus.deleteTopics(topicSpecs(prefix).map((s) => s.topic)).catch(() => undefined);
  await bus.close();
});

describe('secrets', () => {
  it('a RunPod key in the query string appears in no log line, error or dead letter of ccm ingest', async () => {
    fake = await FakeHttpServer.start();
    let refused = false;
    fake.route('POST', '/graphql', (req) => {
      // the third request makes the source unreachable from then on
      if (fake && fake.hits('POST', '/graphql').length >= 3 && !refused) {
        refused = true;
        setImmediate(() => void fake?.close());
      }
      return { status: 401, json: { error: `invalid api_key ${req.query.get('api_key')}`, url: `${fake?.url}/graphql?api_key=${req.query.get('api_key')}` } };
    });
    dir = await mkdtemp(join(tmpdir(), 'ccm-it-secrets-'));
    const configPath = join(dir, 'ingest.yaml');
    await writeFile(
      configPath,
      stringify({
        http: { enabled: false },
        ingest: {
          backoff: { initialMs: 100, maxMs: 200 },
          crypto: { enabled: false },
          vast: { enabled: false },
          lambda: { enabled: false },
          ebay: { enabled: false },
          // every second, so three polls and the refused ones fit in the run
          runpod: { url: `${fake.url}/graphql`, cron: '* * * * * *' },
        },
      }),
    );
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src/cli/ccm.ts'), 'ingest', '--config', configPath, '--for-seconds', '6'], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, CCM_KAFKA_BROKERS: env.kafkaBrokers.join(','), CCM_TOPIC_PREFIX: prefix, CCM_LOG_LEVEL: 'debug', RUNPOD_API_KEY: KEY },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (output += d.toString('utf8')));
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    expect(code, output).toBe(0);

    // the key was sent, so there was something to leak
    expect(fake.hits('POST', '/graphql')[0].query.get('api_key')).toBe(KEY);
    expect(refused).toBe(true);
    // the refusal was logged, with the URL and without the key
    expect(output).toMatch(new RegExp(`source runpod unreachable: POST http://127\\.0\\.0\\.1:\\d+/graphql\\?api_key=${REDACTED.replace(/[[\]]/g, '\\$&')}`));
    const names = topicNames(prefix);
    const deadLetters = (await bus.readToEnd(names.deadletter)).map((r) => String(r.value));
    expect(deadLetters.length).toBeGreaterThanOrEqual(3);
    expect(JSON.parse(deadLetters[0])).toMatchObject({ source: 'runpod', reason: expect.stringContaining('HTTP 401'), raw: { status: 401 } });
    const quotes = (await bus.readToEnd(names.quotes)).map((r) => String(r.value));
    for (const text of [output, ...deadLetters, ...quotes]) expect(text).not.toContain(KEY);
  });
});
