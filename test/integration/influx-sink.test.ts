/**
 * InfluxSink against the real InfluxDB of scripts/services.sh (test/support/services.ts). Each run
 * of this file uses a database of its own, dropped at the end.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InfluxDB } from 'influx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.ts';
import { InfluxSink, ROLLUP_RETENTION_POLICY, rollupQueries } from '../../src/sink/influx-sink.ts';
import type { Point } from '../../src/sink/sink.ts';
import { serviceEnv, uniquePrefix } from '../support/services.ts';

const services = serviceEnv('default');
const env = { url: services.influxUrl, user: services.influxUser, password: services.influxPassword };
// database names allow [A-Za-z0-9_] in the config schema
const database = uniquePrefix('influx-sink').replace(/-/g, '_');
const logger = createLogger({ level: 'silent' });
const sink = new InfluxSink({ url: env.url, username: env.user, password: env.password, database, batchSize: 3, logger });
const u = new URL(env.url);
const db = new InfluxDB({ host: u.hostname, port: Number(u.port), username: env.user, password: env.password, database });

const TS = Date.UTC(2022, 5, 1);
const pricePoints = (run: string): Point[] =>
  [0, 1, 2, 3, 4].map((i) => ({ measurement: 'price', tags: { instrument: 'BTC', source: 'kraken', run }, fields: { value: 30_000 + i }, ts: TS + i * 60_000 }));

async function count(q: string): Promise<number> {
  const rows = await db.query<{ count: number }>(q);
  return rows.length === 0 ? 0 : rows[0].count;
}

beforeAll(async () => {
  await sink.ensure();
});

afterAll(async () => {
  await db.query(`DROP DATABASE "${database}"`);
  await sink.close();
});

describe('InfluxSink', () => {
  it('creates the database, the raw and rollup retention policies and the rollup queries, and ensure() again changes nothing', async () => {
    await sink.ensure();
    const policies = await db.query<{ name: string; duration: string; default: boolean }>(`SHOW RETENTION POLICIES ON "${database}"`);
    expect(policies.find((p) => p.name === 'raw')).toMatchObject({ duration: '0s', default: true });
    expect(policies.some((p) => p.name === ROLLUP_RETENTION_POLICY)).toBe(true);
    const cqs = await db.showContinousQueries(database);
    expect(cqs.map((c) => c.name).sort()).toEqual([...rollupQueries(database, 'raw').keys()].sort());
  });

  it('writes points that an InfluxQL query reads back at their event times', async () => {
    await sink.write(pricePoints('read-back'));
    const rows = await db.query<{ time: Date; value: number }>(`SELECT "value" FROM "price" WHERE "run" = 'read-back' AND "instrument" = 'BTC'`);
    expect(rows.map((r) => [r.time.getTime(), r.value])).toEqual(pricePoints('read-back').map((p) => [p.ts, p.fields.value]));
  });

  it('leaves one point per series and time when the same points are written twice', async () => {
    await sink.write(pricePoints('twice'));
    await sink.write(pricePoints('twice'));
    expect(await count(`SELECT count("value") FROM "price" WHERE "run" = 'twice'`)).toBe(5);
  });

  it('deletes every series of a run, rollups included, and lists the runs left', async () => {
    await sink.write([...pricePoints('doomed'), ...pricePoints('kept')]);
    // a rollup the CQs would have made (they only run over wall-clock time, so write one directly)
    await db.writePoints([{ measurement: 'price_1m', tags: { instrument: 'BTC', source: 'kraken', run: 'doomed' }, fields: { value: 1 }, timestamp: TS }], {
      retentionPolicy: ROLLUP_RETENTION_POLICY,
      precision: 'ms',
    });
    expect(await sink.listRuns()).toEqual(expect.arrayContaining(['doomed', 'kept']));
    await sink.deleteRun('doomed');
    expect(await count(`SELECT count("value") FROM "price" WHERE "run" = 'doomed'`)).toBe(0);
    expect(await count(`SELECT count("value") FROM "${ROLLUP_RETENTION_POLICY}"."price_1m" WHERE "run" = 'doomed'`)).toBe(0);
    expect(await count(`SELECT count("value") FROM "price" WHERE "run" = 'kept'`)).toBe(5);
    const runs = await sink.listRuns();
    expect(runs).toContain('kept');
    expect(runs).not.toContain('doomed');
  });

  it('writes tags with commas, spaces and equals signs, and reads them back as they were', async () => {
    const odd = { measurement: 'price', tags: { instrument: 'gpu:rental:H100 SXM,80GB', source: 'a=b c', run: 'odd tags' }, fields: { value: 2.5, sources: 3 }, ts: TS };
    await sink.write([odd]);
    const rows = await db.query<{ instrument: string; source: string; value: number; sources: number }>(`SELECT * FROM "price" WHERE "run" = 'odd tags'`);
    expect(rows.map((r) => ({ instrument: r.instrument, source: r.source, value: r.value, sources: r.sources }))).toEqual([{ instrument: odd.tags.instrument, source: odd.tags.source, value: 2.5, sources: 3 }]);
  });

  it('answers ping while InfluxDB is up', async () => {
    expect(await sink.ping()).toBe(true);
  });

  it('gives up on an unreachable InfluxDB with a retriable SINK_WRITE_FAILED', async () => {
    // a port nothing listens on: connection refused on every attempt
    const down = new InfluxSink({ url: 'http://127.0.0.1:9', username: 'x', password: 'x', database, maxAttempts: 2, initialBackoffMs: 10, logger });
    await expect(down.write(pricePoints('never'))).rejects.toMatchObject({ code: 'SINK_WRITE_FAILED', retriable: true });
    expect(await down.ping()).toBe(false);
  });

  it('fails at once, not retriable, when InfluxDB refuses the credentials', async () => {
    const wrong = new InfluxSink({ url: env.url, username: env.user, password: 'wrong-password', database, maxAttempts: 3, initialBackoffMs: 10, logger });
    await expect(wrong.write(pricePoints('auth'))).rejects.toMatchObject({ code: 'SINK_WRITE_FAILED', retriable: false });
  });
});

/** A local HTTP server answering POST /write as scripted: statuses InfluxDB gives only when it is in trouble. */
async function scripted(answer: (n: number) => number | 'hang'): Promise<{ url: string; bodies: string[]; server: Server }> {
  const bodies: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      bodies.push(body);
      const a = answer(bodies.length);
      if (a === 'hang') return;
      res.writeHead(a, { 'content-type': 'application/json' });
      res.end(a >= 300 ? JSON.stringify({ error: `scripted ${a}` }) : undefined);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, bodies, server };
}

describe('InfluxSink writes when InfluxDB answers badly', () => {
  const write = (url: string, extra: { requestTimeoutMs?: number; maxAttempts?: number } = {}) =>
    new InfluxSink({ url, username: 'u', password: 'p', database: 'db', maxAttempts: extra.maxAttempts ?? 3, initialBackoffMs: 5, requestTimeoutMs: extra.requestTimeoutMs, logger });

  it('retries a 503 and sends the same lines again, with basic auth, to /write of the database and policy', async () => {
    const s = await scripted((n) => (n === 1 ? 503 : 204));
    try {
      await write(s.url).write(pricePoints('retry'));
      expect(s.bodies.length).toBe(2);
      expect(s.bodies[1]).toBe(s.bodies[0]);
      expect(s.bodies[0].split('\n')[0]).toBe(`price,instrument=BTC,source=kraken,run=retry value=30000 ${TS}`);
    } finally {
      s.server.close();
    }
  });

  it('fails a 400 at once as SINK_POINTS_REFUSED with the answer of InfluxDB, not retriable', async () => {
    const s = await scripted(() => 400);
    try {
      await expect(write(s.url).write(pricePoints('bad'))).rejects.toMatchObject({ code: 'SINK_POINTS_REFUSED', retriable: false, message: expect.stringContaining('scripted 400') });
      expect(s.bodies.length).toBe(1);
    } finally {
      s.server.close();
    }
  });

  it('times out a write that is never answered, as a retriable SINK_WRITE_FAILED', async () => {
    const s = await scripted(() => 'hang');
    try {
      await expect(write(s.url, { requestTimeoutMs: 200, maxAttempts: 2 }).write(pricePoints('hang'))).rejects.toMatchObject({ code: 'SINK_WRITE_FAILED', retriable: true });
      expect(s.bodies.length).toBe(2);
    } finally {
      s.server.closeAllConnections();
      s.server.close();
    }
  });
});
