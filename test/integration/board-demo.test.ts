import { until as poll } from '../support/poll.ts';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { serviceEnv, uniquePrefix } from '../support/services.ts';
import { topicNames } from '../../src/bus/topics.ts';
import { FIELD, MEASUREMENT, TAG } from '../../src/sink/measurements.ts';
import { STATUS } from '../../src/domain/valuation/valuation-types.ts';

/**
 * The board of `ccm run --mode demo` (issue 16 point 4), the command as a user starts it: a child
 * process on the real Kafka and InfluxDB of scripts/services.sh, under a topic prefix, a consumer
 * group and an InfluxDB database of its own (a second run of the test shares nothing with the
 * first; a demo's run name is always `demo`). Chromium opens its board; once the page shows the
 * book and an alert, the child is stopped (SIGTERM: the board sends its last deltas, then closes),
 * and the page, holding the run's final state, is compared with what the processor wrote: each
 * Book row's figures with the entity's last `valuation` point in InfluxDB (and the smallest
 * headroom of its last `facility` points), read through InfluxDB's HTTP API; each alert in the
 * Alerts feed with an alert record on the run's Kafka alerts topic, by eventId. Then the child is
 * started again on the same port: the page reconnects and shows the book. Screenshots:
 * test-artifacts/.
 */
const CHROMIUM = process.env.CCM_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = 'test-artifacts';
const env = serviceEnv('default');
const prefix = uniquePrefix('board-demo');
const database = prefix.replace(/-/g, '_');
const topics = topicNames(`${prefix}.`);
const fmt = (x: number | null | undefined, d = 2): string => (x === null || x === undefined ? '—' : x.toFixed(d));

let browser: Browser;
let page: Page;
let port = 0;
let child: { proc: ChildProcessWithoutNullStreams; out: () => string; exited: Promise<number | null>; closed: () => boolean } | null = null;
let config = '';

const until = (what: string, cond: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<void> =>
  poll(what, cond, { timeoutMs, intervalMs: 100, detail: () => (child ? `ccm run said: ${child.out().slice(-2000)}` : '') });

function startDemo(): NonNullable<typeof child> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/cli/ccm.ts', 'run', '--mode', 'demo', '--no-table', '--config', config], {
    env: {
      ...process.env,
      CCM_KAFKA_BROKERS: env.kafkaBrokers.join(','),
      CCM_INFLUX_URL: env.influxUrl,
      CCM_INFLUX_USER: env.influxUser,
      CCM_INFLUX_PASSWORD: env.influxPassword,
      CCM_INFLUX_DB: database,
      CCM_TOPIC_PREFIX: `${prefix}.`,
      CCM_HTTP_ADDRESS: `127.0.0.1:${port}`,
      CCM_LOG_LEVEL: 'warn',
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let closed = false;
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => proc.on('close', (code) => ((closed = true), r(code))));
  return { proc, out: () => out, exited, closed: () => closed };
}

/** SIGTERM, then the exit code and what the child said. */
async function stopDemo(): Promise<{ code: number | null; out: string }> {
  const c = child;
  if (!c) return { code: null, out: '' };
  child = null;
  c.proc.kill('SIGTERM');
  const code = await c.exited;
  return { code, out: c.out() };
}

/** InfluxQL through InfluxDB's HTTP API (/query), one statement: its series. */
async function influx(q: string): Promise<Array<{ tags?: Record<string, string>; columns: string[]; values: unknown[][] }>> {
  const url = new URL('/query', env.influxUrl);
  url.searchParams.set('db', database);
  url.searchParams.set('epoch', 'ms');
  url.searchParams.set('q', q);
  const res = await fetch(url, { headers: { authorization: `Basic ${Buffer.from(`${env.influxUser}:${env.influxPassword}`).toString('base64')}` } });
  const body = (await res.json()) as { results: Array<{ series?: Array<{ tags?: Record<string, string>; columns: string[]; values: unknown[][] }>; error?: string }> };
  if (res.status !== 200 || body.results[0].error) throw new Error(`InfluxDB: ${res.status} ${JSON.stringify(body)}`);
  return body.results[0].series ?? [];
}

/** The last point of each series of a measurement of run demo, grouped by some tags: tags -> { column: value }. */
async function lastPoints(measurement: string, groupBy: readonly string[]): Promise<Array<{ tags: Record<string, string>; row: Record<string, unknown> }>> {
  const series = await influx(`SELECT * FROM "${measurement}" WHERE "${TAG.run}" = 'demo' GROUP BY ${groupBy.map((t) => `"${t}"`).join(', ')} ORDER BY time DESC LIMIT 1`);
  return series.map((s) => ({ tags: s.tags ?? {}, row: Object.fromEntries(s.columns.map((c, i) => [c, s.values[0][i]])) }));
}

/** Every record of a topic, read from the beginning up to its end offsets. */
async function readTopic(topic: string): Promise<Array<Record<string, unknown>>> {
  const kafka = new Kafka({ clientId: `${prefix}-reader`, brokers: env.kafkaBrokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const total = ends.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  const consumer = kafka.consumer({ groupId: `${prefix}-reader` });
  const got: Array<Record<string, unknown>> = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => void got.push(JSON.parse(message.value!.toString()) as Record<string, unknown>) });
  try {
    await until(`the ${total} records of ${topic}`, () => got.length >= total, 60_000);
  } finally {
    await consumer.disconnect();
  }
  return got;
}

const clockText = async (): Promise<string> => (await page.locator('#clock').textContent()) ?? '';
const bookCount = async (): Promise<number> => Number(/^(\d+) borrowers$/.exec((await page.locator('#book-count').textContent()) ?? '')?.[1] ?? 0);

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), 'ccm-board-demo-'));
  config = join(dir, 'demo.yaml');
  // a consumer group of its own: the services are shared with other tests and runs
  writeFileSync(config, `processor:\n  groupId: ${prefix}\n`);
  const free = createServer();
  await new Promise<void>((r) => free.listen(0, '127.0.0.1', () => r()));
  port = (free.address() as { port: number }).port;
  await new Promise<void>((r) => free.close(() => r()));
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
}, 60_000);

afterAll(async () => {
  await stopDemo();
  await browser?.close();
  await influx(`DROP DATABASE "${database}"`).catch(() => undefined);
});

describe('the board of ccm run --mode demo, in Chromium', () => {
  it('shows the figures the processor wrote to InfluxDB and the alerts it emitted on Kafka, and recovers after a restart', { timeout: 240_000 }, async () => {
    child = startDemo();
    await until('the board URL', () => {
      if (child!.closed()) throw new Error(`ccm run exited early: ${child!.out()}`);
      return child!.out().includes(`board: http://127.0.0.1:${port}/`);
    });
    await page.goto(`http://127.0.0.1:${port}/`);
    await until('the SIMULATED banner', async () => ((await page.locator('#banner').textContent()) ?? '').startsWith('SIMULATED · run demo'));
    // the demo's book (config/entities) on the page, and at least one alert in the feed
    await until('the book', async () => (await bookCount()) === 9);
    await page.click('nav button[data-view="alerts"]');
    await until('an alert in the feed', async () => (await page.locator('#alert-rows .alert').count()) > 0, 120_000);

    // stop the run: the board sends its last deltas, then closes; the page keeps the final state
    const stopped = await stopDemo();
    expect(stopped.code, stopped.out.slice(-4000)).toBe(0);
    await until('the page to notice the stop', async () => (await clockText()).includes('reconnecting'));

    // the alerts shown are the ones the processor emitted on its alerts topic, by eventId
    const shown = await page.$$eval('#alert-rows .alert', (els) => els.map((el) => ({ eventId: (el as HTMLElement).dataset.eventId ?? '', text: el.textContent ?? '' })));
    await page.screenshot({ path: `${ARTIFACTS}/board-demo-alerts.png` });
    const emitted = await readTopic(topics.alerts);
    const byId = new Map(emitted.map((a) => [a.eventId as string, a]));
    expect(shown.length).toBe(Math.min(200, emitted.length));
    for (const s of shown) {
      const a = byId.get(s.eventId);
      expect(a, s.eventId).toBeDefined();
      expect(a).toMatchObject({ run: 'demo' });
      expect(s.text).toContain(`${a!.entity as string}${a!.facility ? `/${a!.facility as string}` : ''}  ${a!.rule as string}: ${a!.from as string} → ${a!.to as string}`);
    }
    // newest first: the feed's first element is the last alert the processor emitted
    const last = [...emitted].sort((x, y) => (x.at as number) - (y.at as number)).at(-1)!;
    expect(byId.get(shown[0].eventId)!.at).toBe(last.at);

    // the Book: each row's figures are the entity's last valuation point in InfluxDB
    await page.click('nav button[data-view="book"]');
    await page.evaluate(() => new Promise<void>((r) => requestAnimationFrame(() => requestAnimationFrame(() => r()))));
    const rows = await page.$$eval('#book-rows .row', (els) =>
      els.map((el) => ({ entity: (el as HTMLElement).dataset.entity ?? '', at: Number((el as HTMLElement).dataset.at), cells: Object.fromEntries([...el.children].map((c) => [(c as HTMLElement).dataset.key ?? '', c.textContent ?? ''])) })),
    );
    await page.screenshot({ path: `${ARTIFACTS}/board-demo-book.png` });
    const valuations = await lastPoints(MEASUREMENT.valuation, [TAG.entity]);
    const facilities = await lastPoints(MEASUREMENT.facility, [TAG.entity, TAG.facility]);
    expect(rows.map((r) => r.entity).sort()).toEqual(valuations.map((v) => v.tags[TAG.entity]).sort());
    for (const { tags, row: v } of valuations) {
      const entity = tags[TAG.entity];
      const shownRow = rows.find((r) => r.entity === entity)!;
      // the very valuation: the page's row is the entity's last one written
      expect(shownRow.at, entity).toBe(v.time);
      const num = (k: string): number | null => (typeof v[k] === 'number' ? (v[k] as number) : null);
      const own = facilities.filter((f) => f.tags[TAG.entity] === entity && f.row.time === v.time);
      const headrooms = own.map((f) => f.row[FIELD.headroom]).filter((h): h is number => typeof h === 'number');
      expect(shownRow.cells, entity).toMatchObject({
        ltv: fmt(num(FIELD.ltv)),
        forcedSaleLtv: fmt(num(FIELD.forcedSaleLtv)),
        headroom: fmt(headrooms.length > 0 ? Math.min(...headrooms) : null, 3),
        dscr: fmt(num(FIELD.dscr)),
        liquidityCoverage: fmt(num(FIELD.liquidityCoverage)),
        runwayMonths: fmt(num(FIELD.runwayMonths), 1),
      });
      const level = num(FIELD.statusLevel);
      // status_level is the worst known facility status; the page says unknown when the worst known is ok and one is unknown
      if (shownRow.cells.status.startsWith('unknown')) expect(level === null || level === 0, entity).toBe(true);
      else expect(shownRow.cells.status.startsWith(STATUS[level ?? -1]), `${entity}: ${shownRow.cells.status} against level ${level}`).toBe(true);
    }

    // started again on the same port: the page reconnects by itself and shows the book
    child = startDemo();
    await until('the page to reconnect', async () => {
      if (child!.closed()) throw new Error(`ccm run exited early: ${child!.out()}`);
      return !(await clockText()).includes('reconnecting');
    }, 90_000);
    await until('the book again', async () => (await bookCount()) === 9, 90_000);
    await page.screenshot({ path: `${ARTIFACTS}/board-demo-restarted.png` });
    const again = await stopDemo();
    expect(again.code, again.out.slice(-4000)).toBe(0);
  });
});
