/**
 * `ccm ingest` as a command, in-process, against the real Kafka and InfluxDB of scripts/services.sh
 * (`eval "$(scripts/services.sh env)"`) and the local fake marketplaces: quotes reach the quotes
 * topic, /metrics serves the per-source counters while it runs, and `feed` points reach InfluxDB
 * under the run of the config. Topics have a prefix of their own; the run tag is unique.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { dispatch } from '../../src/cli/ccm.ts';

const main = (argv: readonly string[]): Promise<number> => dispatch(['ingest', ...argv]);
import { KafkaBus } from '../../src/bus/kafka-bus.ts';
import { topicNames, topicSpecs } from '../../src/bus/topics.ts';
import { createLogger } from '../../src/logger.ts';
import { FakeHttpServer, fixtureJson } from '../support/fake-servers.ts';
import { influxClient } from '../support/influx-query.ts';

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run scripts/services.sh up, then eval "$(scripts/services.sh env)"`);
  return v;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const id = randomUUID().slice(0, 8);
const prefix = `it.ingestcli.${id}.`;
const run = `it-ingest-${id}`;
const bus = new KafkaBus({ brokers: env('CCM_KAFKA_BROKERS').split(','), clientId: `it-ingest-cli-${id}`, logger: createLogger({ level: 'error' }) });
const influx = influxClient({ influxUrl: env('CCM_INFLUX_URL'), influxUser: env('CCM_INFLUX_USER'), influxPassword: env('CCM_INFLUX_PASSWORD'), influxDb: env('CCM_INFLUX_DB') });
let fake: FakeHttpServer | null = null;
let dir = '';

afterAll(async () => {
  await fake?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  await influx.query(`DROP SERIES FROM "feed" WHERE "run" = '${run}'`).catch(() => undefined);
  await bus.deleteTopics(topicSpecs(prefix).map((s) => s.topic)).catch(() => undefined);
  await bus.close();
});

describe('ccm ingest', () => {
  it('publishes quotes, serves per-source counters at /metrics and writes feed points, then stops cleanly', async () => {
    fake = await FakeHttpServer.start();
    fake.route('POST', '/vast', () => ({ json: fixtureJson('vast/bundles.json') }));
    // RunPod answers 500 first: counted as a reject, retried, then quoting
    fake.script('POST', '/runpod', [{ status: 500, text: 'upstream error' }, { json: fixtureJson('runpod/gpu-types.json') }]);
    dir = await mkdtemp(join(tmpdir(), 'ccm-it-ingest-cli-'));
    const port = await freePort();
    const configPath = join(dir, 'ingest.yaml');
    await writeFile(
      configPath,
      stringify({
        kafka: { topicPrefix: prefix },
        processor: { run },
        http: { address: '127.0.0.1', port },
        ingest: {
          feedPointsS: 1,
          backoff: { initialMs: 100, maxMs: 500 },
          crypto: { enabled: false },
          lambda: { enabled: false },
          ebay: { enabled: false },
          vast: { url: `${fake.url}/vast` },
          runpod: { url: `${fake.url}/runpod` },
        },
      }),
    );
    const done = main(['--config', configPath, '--for-seconds', '4']);
    let metrics = '';
    for (let i = 0; i < 100 && !/ccm_feed_quotes_total\{source="runpod"\} [1-9]/.test(metrics); i++) {
      await new Promise((r) => setTimeout(r, 100));
      metrics = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text(), () => '');
    }
    expect(metrics).toMatch(/ccm_feed_quotes_total\{source="vast"\} [1-9]/);
    expect(metrics).toContain('ccm_feed_rejects_total{source="runpod"} 1');
    expect(metrics).toContain('ccm_feed_reconnects_total{source="runpod"} 1');
    expect(await done).toBe(0);

    const quotes = (await bus.readToEnd(topicNames(prefix).quotes)).map((r) => ({ key: r.key, ts: r.ts, value: JSON.parse(String(r.value)) as { instrument: string; source: string; ts: number } }));
    expect(quotes.some((q) => q.key === 'rental:H100-SXM' && q.value.source === 'vast')).toBe(true);
    expect(quotes.some((q) => q.key === 'rental:H100-SXM' && q.value.source === 'runpod')).toBe(true);
    for (const q of quotes) expect([q.key, q.ts]).toEqual([q.value.instrument, q.value.ts]);
    const dl = (await bus.readToEnd(topicNames(prefix).deadletter)).map((r) => JSON.parse(String(r.value)) as { source: string; reason: string });
    expect(dl.find((d) => d.source === 'runpod')?.reason).toContain('HTTP 500');

    const rows = await influx.query<{ source: string; quotes: number; rejects: number }>(`SELECT last("quotes") AS quotes, last("rejects") AS rejects FROM "feed" WHERE "run" = '${run}' GROUP BY "source"`);
    const bySource = new Map(rows.map((r) => [r.source, r]));
    expect(bySource.get('vast')?.quotes).toBeGreaterThan(0);
    expect(bySource.get('runpod')?.rejects).toBe(1);
  });
});
