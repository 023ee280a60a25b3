import { until as poll } from '../support/poll.ts';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeStreamFile } from '../../src/bus/stream-file.ts';
import { simulateQuotes } from '../../src/ingest/simulate/simulate-quotes.ts';
import { loadScenariosFile } from '../../src/ingest/simulate/load-scenarios.ts';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import WebSocket from 'ws';
import { chromium, type Browser, type Page } from 'playwright-core';
import { MemoryBus } from '../../src/bus/memory-bus.ts';
import { topicNames, topicSpecs } from '../../src/bus/topics.ts';
import { MemorySink } from '../../src/sink/memory-sink.ts';
import { Processor } from '../../src/processor/processor.ts';
import { defaultDomainParams } from '../../src/domain/valuation/valuation.ts';
import type { StepOutput } from '../../src/domain/step/step-types.ts';
import type { Valuation } from '../../src/domain/valuation/valuation-types.ts';
import { startHttpServer } from '../../src/server/http-server.ts';
import { BoardState, bookRowOf } from '../../src/board/board-state.ts';
import { boardRoutes, newBoardServer } from '../../src/board/board-wiring.ts';
import type { BoardServer } from '../../src/board/board-server.ts';
import type { ServerMessage } from '../../src/board/protocol.ts';
import { generateBook, generateQuotes, loadCatalog } from '../../bench/book.ts';

/**
 * The board (issue 16) in a real browser: Debian's Chromium driven by playwright-core, on the
 * processor's own outputs. The processor runs on the in-memory bus over a generated book whose
 * prices fall (real crossings, a fire-sale cascade), its outputs captured as they are written:
 * that capture is the oracle the page is compared with (every row's figures equal the entity's
 * latest valuation; the alerts shown are the ones emitted, by eventId). Then the server is
 * stopped and started again on the same port: the page reconnects and shows the book again.
 * Protocol tests with a plain `ws` client: a snapshot, then deltas; 200 clients at once; garbage
 * frames ignored. Screenshots: test-artifacts/ (docs/board.png is one of them).
 */
const CHROMIUM = process.env.CCM_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = 'test-artifacts';
const silent = pino({ level: 'silent' }, new Writable({ write: (_c, _e, cb) => cb() }));
const T0 = Date.parse('2025-10-01T00:00:00Z');
const params = { ...defaultDomainParams(loadCatalog()), emitIntervalMs: 60_000 };
const book = generateBook({ entities: 40, seed: 11 });
const quotes = generateQuotes({ seed: 11, count: 3_000, startTs: T0, cadenceMs: 200, instruments: book.instruments, sourcesPerInstrument: 3 }).map((q, k, all) => ({
  ...q,
  price: Number((q.price * (1 - (0.35 * k) / all.length)).toPrecision(8)),
}));

let state: BoardState;
let board: BoardServer;
let http: Awaited<ReturnType<typeof startHttpServer>>;
let port = 0;
let browser: Browser;
let page: Page;
const emitted: StepOutput[] = [];

async function serve(p: number): Promise<void> {
  board = newBoardServer(state, '127.0.0.1', {});
  http = await startHttpServer({
    address: '127.0.0.1',
    port: p,
    registries: [],
    ready: () => true,
    ...boardRoutes(board),
  });
  port = Number(new URL(http.url).port);
}

const until = (what: string, cond: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> => poll(what, cond, { timeoutMs });

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const names = topicNames('b.');
  const bus = new MemoryBus();
  await bus.ensureTopics(topicSpecs('b.', { quotePartitions: 1, entityPartitions: 1 }));
  await bus.publish(book.entities.map((e) => ({ topic: names.entities, key: e.id, value: e, ts: T0 })));
  await bus.publish(quotes.map((q) => ({ topic: names.quotes, key: q.instrument, value: q, ts: q.ts })));
  state = new BoardState('board-test', false);
  const processor = new Processor({
    bus,
    sink: new MemorySink(),
    logger: silent,
    params,
    topics: { quotes: names.quotes, entities: names.entities, valuations: names.valuations, alerts: names.alerts, alertState: names.alertState, deadletter: names.deadletter },
    run: 'board-test',
    groupId: 'b',
    instanceId: 'p0',
    lookbackMs: 86_400_000,
    maxLatenessMs: 2_000,
    startFrom: 'earliest',
    untilEnd: true,
    onOutputs: (o) => {
      emitted.push(...o);
      state.observe(o);
    },
  });
  await processor.start();
  await processor.done;
  await processor.stop();
  await serve(0);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  board?.close();
  await http?.close();
});

const latestValuations = (): Map<string, { v: Valuation; ts: number }> => {
  const m = new Map<string, { v: Valuation; ts: number }>();
  for (const o of emitted) if (o.kind === 'valuation') m.set(o.valuation.entity, { v: o.valuation, ts: o.ts });
  return m;
};
const fmt = (x: number | null, d = 2) => (x === null ? '—' : x.toFixed(d));

describe('the board in Chromium', () => {
  it('shows one row per borrower whose figures equal the processor\'s latest valuation', async () => {
    await page.goto(`http://127.0.0.1:${port}/`);
    const latest = latestValuations();
    expect(latest.size).toBe(book.entities.length);
    await until('every row', async () => (await page.locator('#book-count').textContent()) === `${latest.size} borrowers`);
    // the table renders the rows in view: scroll through and read each
    const seen = new Map<string, Record<string, string>>();
    for (let top = 0; seen.size < latest.size && top < 100_000; top += 300) {
      await page.evaluate((t) => {
        document.getElementById('book-body')!.scrollTop = t;
        document.getElementById('book-body')!.dispatchEvent(new Event('scroll'));
      }, top);
      // the page draws the rows in view at its next animation frame: wait for that frame to have run
      await page.evaluate(() => new Promise<void>((r) => requestAnimationFrame(() => requestAnimationFrame(() => r()))));
      const rows = await page.$$eval('#book-rows .row', (els) => els.map((el) => ({ entity: (el as HTMLElement).dataset.entity ?? '', cells: Object.fromEntries([...el.children].map((c) => [(c as HTMLElement).dataset.key ?? '', c.textContent ?? ''])) })));
      for (const r of rows) seen.set(r.entity, r.cells);
    }
    expect(seen.size).toBe(latest.size);
    for (const [entity, { v, ts }] of latest) {
      const row = bookRowOf(v, ts, null);
      expect(seen.get(entity), entity).toMatchObject({ ltv: fmt(row.ltv), forcedSaleLtv: fmt(row.forcedSaleLtv), headroom: fmt(row.headroom, 3), dscr: fmt(row.dscr), liquidityCoverage: fmt(row.liquidityCoverage), runwayMonths: fmt(row.runwayMonths, 1) });
      expect(seen.get(entity)?.status.startsWith(row.status), entity).toBe(true);
    }
    await page.screenshot({ path: `${ARTIFACTS}/board-book.png` });
  });

  it('shows in its Alerts feed the alerts the processor emitted, by eventId', async () => {
    await page.click('nav button[data-view="alerts"]');
    const emittedIds = emitted.flatMap((o) => (o.kind === 'alert' ? [o.eventId] : []));
    expect(emittedIds.length).toBeGreaterThan(0);
    await until('the alerts feed', async () => (await page.$$('#alert-rows .alert')).length > 0);
    const shown = await page.$$eval('#alert-rows .alert', (els) => els.map((el) => (el as HTMLElement).dataset.eventId ?? ''));
    expect(shown.length).toBe(Math.min(200, emittedIds.length));
    expect(shown).toEqual(emittedIds.slice(-200).reverse());
    await page.screenshot({ path: `${ARTIFACTS}/board-alerts.png` });
  });

  it('draws a borrower\'s facility LTVs over time, and the market with its sources', async () => {
    await page.click('nav button[data-view="book"]');
    const first = page.locator('#book-rows .row').first();
    const entity = (await first.getAttribute('data-entity')) ?? '';
    await first.click();
    await until('the chart', async () => (await page.$$('#borrower-chart canvas')).length > 0);
    // each facility against its lines, its stress scenarios and the inputs behind it: the latest valuation's
    const { v } = latestValuations().get(entity)!;
    const last = [...emitted].reverse().find((o): o is Extract<StepOutput, { kind: 'valuation' }> => o.kind === 'valuation' && o.valuation.entity === entity)!;
    const facilities = await page.$$eval('#borrower-facilities .facility', (els) => els.map((e) => e.textContent ?? ''));
    expect(facilities.map((t) => t.split(' ')[0])).toEqual(v.facilities.map((f) => f.id));
    v.facilities.forEach((f, i) => expect(facilities[i]).toContain(`LTV ${fmt(f.ltv)} · warn ${fmt(f.covenants?.ltvWarn ?? null)}`));
    const stress = await page.$$eval('#borrower-stress .stress', (els) => els.map((e) => e.textContent ?? ''));
    expect(stress).toEqual(v.stress.map((x) => expect.stringMatching(new RegExp(`^${x.scenario}: LTV ${fmt(x.ltv).replace('.', '\\.')} · DSCR `))));
    const inputs = await page.$$eval('#borrower-inputs .input', (els) => els.map((e) => e.textContent ?? ''));
    expect(inputs.length).toBe(Object.keys(last.inputs).length);
    Object.entries(last.inputs).forEach(([instrument, i], k) => expect(inputs[k].startsWith(`${instrument}: `) && inputs[k].includes(` from ${i.sources} sources at the valuation; now `)).toBe(true));
    expect(await page.locator('#borrower-breakeven').textContent()).toMatch(/^breakeven rental \S+ USD\/GPU-h against spot /);
    // the chart: each facility's LTV and its own warn, margin-call and liquidation lines, a series
    // (and a legend entry) each, drawn at the covenant's level across the whole chart
    const want: Array<[string, string | null]> = v.facilities.flatMap((f) => [
      [`${f.id} LTV`, null] as [string, string | null],
      ...([['warn', f.covenants?.ltvWarn], ['margin call', f.covenants?.ltvMarginCall], ['liquidation', f.covenants?.ltvLiquidation]] as const)
        .filter(([, level]) => level !== undefined && level !== null)
        .map(([name, level]) => [`${f.id} ${name}`, fmt(level ?? null)] as [string, string | null]),
    ]);
    expect(want.filter(([, level]) => level !== null).length).toBeGreaterThan(0);
    const legend = async () => page.$$eval('#borrower-chart .u-legend .u-series', (els) => els.slice(1).map((e) => [e.querySelector('.u-label')?.textContent ?? '', e.querySelector('.u-value')?.textContent ?? '']));
    expect((await legend()).map(([label]) => label)).toEqual(want.map(([label]) => label));
    // under the cursor, at either end of the chart, each line reads its covenant's level
    for (const x of [0.02, 0.98]) {
      const box = (await page.locator('#borrower-chart .u-over').boundingBox())!;
      await page.mouse.move(box.x + box.width * x, box.y + box.height / 2);
      await until('the legend to follow the cursor', async () => (await legend()).every(([, value]) => value !== '' && value !== '--'));
      const values = await legend();
      want.forEach(([label, level], k) => {
        if (level !== null) expect(values[k], label).toEqual([label, level]);
      });
    }
    await page.screenshot({ path: `${ARTIFACTS}/board-borrower.png` });
    await page.click('nav button[data-view="market"]');
    const indexes = (state.snapshot() as Extract<ServerMessage, { type: 'snapshot' }>).indexes.length;
    expect(indexes).toBeGreaterThan(0);
    await until('every index', async () => (await page.locator('#market-rows .index').count()) === indexes);
  });

  it('reconnects after the server restarts and shows the book again', async () => {
    await page.click('nav button[data-view="book"]');
    board.close();
    await http.close();
    await until('the page to notice', async () => ((await page.locator('#clock').textContent()) ?? '').includes('reconnecting'));
    await serve(port);
    await until('the page to reconnect', async () => !((await page.locator('#clock').textContent()) ?? '').includes('reconnecting'), 20_000);
    await until('the rows again', async () => (await page.locator('#book-count').textContent()) === `${book.entities.length} borrowers`);
  });
});

describe('the board stream, with a plain ws client', () => {
  const open = (): Promise<{ ws: WebSocket; messages: ServerMessage[] }> =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
      const messages: ServerMessage[] = [];
      ws.on('message', (d) => messages.push(JSON.parse(String(d)) as ServerMessage));
      ws.on('open', () => resolve({ ws, messages }));
      ws.on('error', reject);
    });

  it('sends a snapshot first, then deltas: an alert at once, the latest of each key', async () => {
    const c = await open();
    await until('the snapshot', () => c.messages.length > 0);
    expect(c.messages[0]).toMatchObject({ v: 1, type: 'snapshot', run: 'board-test', simulated: false });
    const alert = emitted.find((o) => o.kind === 'alert');
    const index = emitted.find((o) => o.kind === 'index');
    // three index changes of one instrument before a flush: one row, the last
    state.observe([alert!, index!, { ...(index as Extract<StepOutput, { kind: 'index' }>), value: 1 }, { ...(index as Extract<StepOutput, { kind: 'index' }>), value: 2 }]);
    board.flush();
    await until('the deltas', () => c.messages.length >= 3);
    expect(c.messages.slice(1).map((m) => m.type)).toEqual(['alert', 'indexes']);
    const rows = (c.messages[2] as Extract<ServerMessage, { type: 'indexes' }>).rows;
    expect(rows).toHaveLength(1);
    expect(rows[0].value).toBe(2);
    const before = board.clientCount;
    c.ws.close();
    await until('the client gone', () => board.clientCount === before - 1);
  });

  it('serves 200 clients at once, and ignores garbage frames', async () => {
    const before = board.clientCount; // the browser's page
    const clients = await Promise.all(Array.from({ length: 200 }, () => open()));
    await until('200 snapshots', () => clients.every((c) => c.messages.length > 0));
    for (const c of clients.slice(0, 20)) c.ws.send('{garbage' + 'x'.repeat(100));
    clients[20].ws.send(Buffer.from([0xff, 0x00, 0x13]));
    state.observe([emitted.find((o) => o.kind === 'index')!]);
    board.flush();
    await until('a delta to every client', () => clients.every((c) => c.messages.length >= 2));
    expect(board.clientCount).toBe(before + 200);
    for (const c of clients) c.ws.close();
    await until('the clients gone', () => board.clientCount === before);
  });

  it('refuses the WebSocket of another origin', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { origin: 'http://evil.example' });
    const code = await new Promise<number>((resolve) => {
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => resolve(-1));
    });
    expect(code).toBe(403);
  });
});

describe('ccm replay --board', () => {
  it('serves the replay on the board and keeps serving it after the end, until Ctrl-C', { timeout: 90_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ccm-replay-board-'));
    const file = join(dir, 'dl.ndjson.gz');
    const from = Date.parse('2025-10-01T00:00:00Z');
    await writeStreamFile(file, simulateQuotes({ file: await loadScenariosFile(), scenario: 'double_leverage', seed: 3, fromMs: from, toMs: from + 3 * 86_400_000 }));
    const config = join(dir, 'memory.yaml');
    writeFileSync(config, 'kafka:\n  enabled: false\ninflux:\n  enabled: false\n');
    const free = createServer();
    await new Promise<void>((r) => free.listen(0, '127.0.0.1', () => r()));
    const boardPort = (free.address() as { port: number }).port;
    await new Promise<void>((r) => free.close(() => r()));
    // the replay runs in memory as its config says: the services' variables would turn Kafka and InfluxDB on
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^CCM_(KAFKA|INFLUX)_/.test(k)));
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/ccm.ts', 'replay', '--config', config, '--run', 'boardreplay', '--file', file, '--board'], {
      env: { ...env, CCM_HTTP_ADDRESS: `127.0.0.1:${boardPort}`, CCM_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    let closed = false;
    const exited = new Promise<number | null>((r) => child.on('close', (code) => ((closed = true), r(code))));
    try {
      await until('the end of the replay', () => {
        if (closed) throw new Error(`ccm replay --board exited early: ${err}`);
        return err.includes('the board stays at');
      }, 60_000);
      const alerts = Number(/, (\d+) alerts,/.exec(out)?.[1] ?? NaN);
      const snapshot = await new Promise<Extract<ServerMessage, { type: 'snapshot' }>>((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${boardPort}/ws`);
        ws.on('message', (d) => {
          resolve(JSON.parse(String(d)) as Extract<ServerMessage, { type: 'snapshot' }>);
          ws.close();
        });
        ws.on('error', reject);
      });
      expect(snapshot).toMatchObject({ type: 'snapshot', run: 'boardreplay', simulated: false });
      expect(snapshot.book.length).toBe(9);
      expect(snapshot.alerts.length).toBe(Math.min(alerts, 200));
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
  });
});
