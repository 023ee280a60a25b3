import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { chromium } from 'playwright-core';
import { MemoryBus } from '../src/bus/memory-bus.ts';
import { topicNames, topicSpecs } from '../src/bus/topics.ts';
import { MemorySink } from '../src/sink/memory-sink.ts';
import { Processor } from '../src/processor/processor.ts';
import { flush, initialState, step, type ProcessorState } from '../src/domain/step/step.ts';
import type { StepOutput } from '../src/domain/step/step-types.ts';
import { boardRoutes } from '../src/board/board-wiring.ts';
import { startHttpServer } from '../src/server/http-server.ts';
import { BoardState } from '../src/board/board-state.ts';
import { BoardServer } from '../src/board/board-server.ts';
import { boardPage } from '../src/board/board-page.ts';
import { basePrice, generateBook, generateQuotes } from './book.ts';
import { benchParams, CADENCE_MS, SOURCES_PER_INSTRUMENT, T0 } from './pipeline.ts';

/**
 * The `board` section (issue 16 point 6), two measurements side by side in one run:
 *
 * - `server`: the board server's added CPU with connected clients at the pipeline's rate. A
 *   Processor on the in-memory bus and sink runs the seeded book (1,000 entities) over the seeded
 *   quotes, and its outputs (index changes, valuations at each 60-s window close, alerts,
 *   contagion) are recorded with their event time. The recording is then played, paced in event
 *   time at `rate` quotes per wall second, into a BoardState served by a BoardServer on a real
 *   HTTP server (its own 500-ms flushes): once with no client and once with `clients` `ws` clients
 *   in a child process (so that their reading is not counted here) that read every message. The
 *   figure is this process's CPU (process.cpuUsage, user + system) per second of stream, and the
 *   difference between the two runs.
 * - `page`: the time Chromium's page takes to apply a window-close update of `borrowers` rows. The
 *   page gets a snapshot of the whole book, then a `book` delta with every row; it records
 *   `performance.measure` around parsing and applying each message (`ccm:apply:book`) and around
 *   the next frame's drawing (`ccm:render`, the Book view, virtualised), read through
 *   page.evaluate. Repeated `repeats` times; median and worst.
 *
 * Speed is measured here, never asserted in a test.
 */
export interface BoardBenchOptions {
  readonly entities?: number;
  /** Quotes per wall second the recording is played at (default 1,000: the pipeline's rate at 1,000 entities is 1,358 quotes/s, README). */
  readonly rate?: number;
  /** Wall seconds of stream per run. */
  readonly seconds?: number;
  readonly clients?: number;
  readonly borrowers?: number;
  readonly repeats?: number;
  readonly chromium?: string;
  readonly log?: (line: string) => void;
}

export interface ServerRun {
  readonly clients: number;
  readonly streamSeconds: number;
  readonly cpuMs: number;
  readonly cpuMsPerStreamSecond: number;
  readonly messagesSent: number;
  readonly megabytesSent: number;
  /** Messages each client read (all equal when every client read everything). */
  readonly messagesPerClient: number | null;
  readonly deltasWithheld: number;
}

export interface BoardBenchResult {
  readonly server: {
    readonly input: { readonly entities: number; readonly quotes: number; readonly rate: number; readonly windowCloses: number; readonly outputs: number; readonly cadenceMs: number };
    readonly idle: ServerRun;
    readonly loaded: ServerRun;
    /** loaded - idle, ms of CPU per second of stream (1,000 = one core). */
    readonly addedCpuMsPerStreamSecond: number;
    readonly addedCpuPerClientMsPerSecond: number;
  };
  readonly page: {
    readonly borrowers: number;
    readonly deltaMegabytes: number;
    readonly snapshotMegabytes: number;
    readonly repeats: number;
    readonly applyMs: { readonly median: number; readonly max: number; readonly samples: readonly number[] };
    readonly renderMs: { readonly median: number; readonly max: number; readonly samples: readonly number[] };
  };
}

const silent = pino({ level: 'silent' }, new Writable({ write: (_c, _e, cb) => cb() }));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const round1 = (x: number): number => Math.round(x * 10) / 10;
const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

interface Batch {
  readonly ts: number;
  readonly outputs: readonly StepOutput[];
}

/** The processor's outputs over the seeded book and quotes, in order, each batch stamped with the stream's event time so far. */
async function record(entities: number, quotes: number): Promise<Batch[]> {
  const book = generateBook({ entities, seed: 42 });
  const stream = generateQuotes({ seed: 42, count: quotes, startTs: T0, cadenceMs: CADENCE_MS, instruments: book.instruments, sourcesPerInstrument: SOURCES_PER_INSTRUMENT });
  const names = topicNames('bench-board.');
  const bus = new MemoryBus();
  await bus.ensureTopics(topicSpecs('bench-board.', { quotePartitions: 1, entityPartitions: 1 }));
  await bus.publish(book.entities.map((e) => ({ topic: names.entities, key: e.id, value: e, ts: T0 })));
  await bus.publish(stream.map((q) => ({ topic: names.quotes, key: q.instrument, value: q, ts: q.ts })));
  const batches: Batch[] = [];
  let now = T0;
  const processor = new Processor({
    bus,
    sink: new MemorySink(),
    logger: silent,
    params: benchParams(),
    topics: { quotes: names.quotes, entities: names.entities, valuations: names.valuations, alerts: names.alerts, alertState: names.alertState, deadletter: names.deadletter },
    run: 'bench-board',
    groupId: 'bench-board',
    instanceId: 'p0',
    lookbackMs: 86_400_000,
    maxLatenessMs: 2_000,
    startFrom: 'earliest',
    untilEnd: true,
    // the runtime hands over a chunk of records' outputs at once: split it by event time, so that
    // the play is paced per output, not per chunk
    onOutputs: (o) => {
      for (const x of o) {
        const ts = 'ts' in x && typeof x.ts === 'number' ? x.ts : now;
        if (ts > now || batches.length === 0) {
          now = Math.max(now, ts);
          batches.push({ ts: now, outputs: [] });
        }
        (batches.at(-1)!.outputs as StepOutput[]).push(x);
      }
    },
  });
  await processor.start();
  await processor.done;
  await processor.stop();
  return batches;
}

async function serveBoard(state: BoardState, flushMs?: number): Promise<{ board: BoardServer; url: string; close(): Promise<void> }> {
  const board = new BoardServer({ state, page: boardPage, loopback: true, ...(flushMs !== undefined ? { flushMs } : {}) });
  const http = await startHttpServer({
    address: '127.0.0.1',
    port: 0,
    registries: [],
    ready: () => true,
    ...boardRoutes(board),
  });
  return {
    board,
    url: http.url,
    close: async () => {
      board.close();
      await http.close();
    },
  };
}

/**
 * The readers, in a child process: N `ws` clients that count what they read. Prints `ready` once
 * each has its snapshot, and a JSON line of per-client message counts for every line it reads.
 */
const READERS = `
import WebSocket from 'ws';
import { createInterface } from 'node:readline';
const n = Number(process.env.BENCH_CLIENTS);
const counts = new Array(n).fill(0);
let open = 0;
for (let i = 0; i < n; i++) {
  const ws = new WebSocket(process.env.BENCH_URL);
  ws.on('message', () => { if (counts[i]++ === 0 && ++open === n) console.log('ready'); });
  ws.on('error', (e) => { console.error(e.message); process.exit(1); });
}
createInterface({ input: process.stdin }).on('line', () => console.log(JSON.stringify(counts)));
`;

async function startReaders(url: string, n: number): Promise<{ child: ChildProcessWithoutNullStreams; counts(): Promise<number[]> }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', READERS], { env: { ...process.env, BENCH_URL: url.replace('http', 'ws') + '/ws', BENCH_CLIENTS: String(n) }, cwd: process.cwd() });
  const lines = createInterface({ input: child.stdout });
  const waiting: Array<(line: string) => void> = [];
  const ready = new Promise<void>((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`the bench's ws readers exited (${code})`)));
    lines.on('line', (line) => {
      if (line === 'ready') resolve();
      else waiting.shift()?.(line);
    });
  });
  await ready;
  return {
    child,
    counts: () =>
      new Promise<number[]>((resolve) => {
        waiting.push((line) => resolve(JSON.parse(line) as number[]));
        child.stdin.write('count\n');
      }),
  };
}

/** Plays the recording into the state, paced in event time; returns the wall seconds of stream. */
async function play(state: BoardState, batches: readonly Batch[], eventMsPerWallMs: number): Promise<number> {
  const ts0 = batches[0].ts;
  const t0 = performance.now();
  let i = 0;
  while (i < batches.length) {
    const due = ts0 + (performance.now() - t0) * eventMsPerWallMs;
    while (i < batches.length && batches[i].ts <= due) state.observe(batches[i++].outputs);
    if (i < batches.length) await sleep(5);
  }
  return (performance.now() - t0) / 1000;
}

async function serverRun(batches: readonly Batch[], eventMsPerWallMs: number, clients: number, log: (line: string) => void): Promise<ServerRun> {
  const state = new BoardState('bench', false);
  const served = await serveBoard(state);
  const readers = clients > 0 ? await startReaders(served.url, clients) : null;
  try {
    await sleep(200);
    const cpu0 = process.cpuUsage();
    const streamSeconds = await play(state, batches, eventMsPerWallMs);
    served.board.flush();
    const cpu = process.cpuUsage(cpu0);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    let perClient: number | null = null;
    if (readers) {
      // every client reads everything: wait until each has read all the server sent it
      const want = served.board.stats.messagesSent / clients;
      const deadline = Date.now() + 120_000;
      for (let counts = await readers.counts(); ; counts = await readers.counts()) {
        if (counts.every((c) => c === want)) {
          perClient = want;
          break;
        }
        if (Date.now() > deadline) throw new Error(`board: the clients read ${counts.join(', ')} messages, not the ${want} each was sent`);
        await sleep(50);
      }
    }
    const run: ServerRun = {
      clients,
      streamSeconds: round1(streamSeconds),
      cpuMs: Math.round(cpuMs),
      cpuMsPerStreamSecond: Math.round(cpuMs / streamSeconds),
      messagesSent: served.board.stats.messagesSent,
      megabytesSent: round1(served.board.stats.bytesSent / 1e6),
      messagesPerClient: perClient,
      deltasWithheld: served.board.stats.deltasWithheld,
    };
    log(`board: ${clients} clients: ${run.cpuMsPerStreamSecond} ms CPU per second of stream (${run.messagesSent} messages, ${run.megabytesSent} MB sent)`);
    return run;
  } finally {
    readers?.child.kill();
    await served.close();
  }
}

/** Every entity valued at one window close: a primed state (one quote per instrument), its window closed. */
function windowClose(entities: ReturnType<typeof generateBook>, at: number, move: number): { state: ProcessorState; outputs: StepOutput[] } {
  const params = benchParams();
  let state = initialState(params);
  for (const e of entities.entities) state = step(state, { kind: 'entity', id: e.id, entity: e, ts: 0 }, params).state;
  for (const instrument of entities.instruments) {
    const price = basePrice(instrument) * move;
    state = step(state, { kind: 'quote', quote: { v: 1, instrument, price, source: 'src-1', ts: at, tsSource: 'source', receivedAt: at } }, params).state;
  }
  const r = flush(state, params);
  return { state: r.state, outputs: r.outputs };
}

async function pageRun(borrowers: number, repeats: number, executablePath: string, log: (line: string) => void): Promise<BoardBenchResult['page']> {
  const book = generateBook({ entities: borrowers, seed: 42 });
  log(`board: valuing ${borrowers} borrowers for the page`);
  const state = new BoardState('bench', false);
  state.observe(windowClose(book, T0, 1).outputs);
  state.takeDeltas();
  const snapshotBytes = Buffer.byteLength(JSON.stringify(state.snapshot()));
  const closes = Array.from({ length: repeats }, (_, k) => windowClose(book, T0 + (k + 1) * 60_000, 1 - 0.02 * (k + 1)).outputs.filter((o) => o.kind === 'valuation'));
  const served = await serveBoard(state, 3_600_000);
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(`${served.url}/`);
    await page.waitForFunction((n) => document.getElementById('book-count')?.textContent === `${n} borrowers`, borrowers, { timeout: 120_000 });
    const apply: number[] = [];
    const render: number[] = [];
    let deltaBytes = 0;
    for (const outputs of closes) {
      await page.evaluate(() => performance.clearMeasures());
      state.observe(outputs);
      const before = served.board.stats.bytesSent;
      served.board.flush();
      deltaBytes = served.board.stats.bytesSent - before;
      const handle = await page.waitForFunction(
        () => {
          const a = performance.getEntriesByName('ccm:apply:book')[0];
          const r = performance.getEntriesByName('ccm:render')[0];
          return a !== undefined && r !== undefined && r.startTime >= a.startTime + a.duration ? [a.duration, r.duration] : null;
        },
        undefined,
        { timeout: 120_000, polling: 50 },
      );
      const [a, r] = (await handle.jsonValue()) as [number, number];
      apply.push(round1(a));
      render.push(round1(r));
      log(`board: page applied a book delta of ${borrowers} rows in ${round1(a)} ms, drew it in ${round1(r)} ms`);
    }
    return {
      borrowers,
      deltaMegabytes: round1(deltaBytes / 1e6),
      snapshotMegabytes: round1(snapshotBytes / 1e6),
      repeats,
      applyMs: { median: round1(median(apply)), max: Math.max(...apply), samples: apply },
      renderMs: { median: round1(median(render)), max: Math.max(...render), samples: render },
    };
  } finally {
    await browser.close();
    await served.close();
  }
}

export async function runBoardBench(opts: BoardBenchOptions = {}): Promise<BoardBenchResult> {
  const log = opts.log ?? (() => undefined);
  const entities = opts.entities ?? 1_000;
  const rate = opts.rate ?? 1_000;
  const seconds = opts.seconds ?? 30;
  const clients = opts.clients ?? 50;
  const quotes = rate * seconds;
  log(`board: recording the processor's outputs over ${entities} entities, ${quotes} quotes`);
  const batches = await record(entities, quotes);
  const outputs = batches.reduce((n, b) => n + b.outputs.length, 0);
  const windowCloses = new Set(batches.flatMap((b) => b.outputs.flatMap((o) => (o.kind === 'valuation' ? [o.ts] : [])))).size;
  // the stream's event time runs at `rate` quotes per wall second
  const eventMsPerWallMs = (rate * CADENCE_MS) / 1000;
  const idle = await serverRun(batches, eventMsPerWallMs, 0, log);
  const loaded = await serverRun(batches, eventMsPerWallMs, clients, log);
  const added = loaded.cpuMsPerStreamSecond - idle.cpuMsPerStreamSecond;
  const page = await pageRun(opts.borrowers ?? 10_000, opts.repeats ?? 5, opts.chromium ?? process.env.CCM_CHROMIUM ?? '/usr/bin/chromium', log);
  return {
    server: {
      input: { entities, quotes, rate, windowCloses, outputs, cadenceMs: CADENCE_MS },
      idle,
      loaded,
      addedCpuMsPerStreamSecond: added,
      addedCpuPerClientMsPerSecond: round1(added / clients),
    },
    page,
  };
}
