/**
 * Fault-test harness: `ccm process` as a real OS process (so it can be SIGKILLed), a seeded
 * stream published to a fresh topic prefix on the fault instance, and the comparison of a run
 * with the in-memory fold (test/support/pipeline.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, writeFileSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { REPO_ROOT, type ServiceEnv } from '../support/services.ts';
import { createTopics, expectedSeries, fold, TAG_KEYS } from '../support/pipeline.ts';
import { influxClient, readRun } from '../support/influx-query.ts';
import { generateBook, generateQuotes, loadCatalog } from '../../bench/book.ts';
import { loadConfig } from '../../src/config/load-config.ts';
import { buildParams } from '../../src/cli/wiring.ts';
import { topicNames, type TopicNames } from '../../src/bus/topics.ts';
import { publishEntities } from '../../src/bus/publish-entities.ts';
import type { KafkaBus } from '../../src/bus/kafka-bus.ts';
import { isMonitorError } from '../../src/domain/errors.ts';
import type { InfluxSink } from '../../src/sink/influx-sink.ts';
import type { ConsumedRecord, ProduceRecord } from '../../src/bus/bus.ts';
import type { DomainParams } from '../../src/domain/params.ts';
import type { AlertEvent, StepOutput } from '../../src/domain/step/step-types.ts';
import type { Entity } from '../../src/domain/sheet/sheet.ts';
import type { Quote } from '../../src/domain/market/quote.ts';

export const MEASUREMENTS = ['price', 'index', 'valuation', 'facility', 'item', 'stress', 'alert', 'exposure'];
export const T0 = Date.parse('2025-10-01T00:00:00Z');
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** The environment `ccm process` reads its connections from (src/config/load-config.ts). */
export function processEnv(env: ServiceEnv, prefix: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    CCM_KAFKA_BROKERS: env.kafkaBrokers.join(','),
    CCM_INFLUX_URL: env.influxUrl,
    CCM_INFLUX_USER: env.influxUser,
    CCM_INFLUX_PASSWORD: env.influxPassword,
    CCM_INFLUX_DB: env.influxDb,
    CCM_TOPIC_PREFIX: prefix,
    CCM_LOG_LEVEL: process.env.CCM_TEST_LOG_LEVEL ?? 'info',
    ...extra,
  };
}

/** A config file for a test run: its own group, one-minute windows. */
export function writeConfig(dir: string, prefix: string, extra: Record<string, unknown> = {}): string {
  const path = join(dir, 'config.yaml');
  const doc = {
    ...extra,
    kafka: { quotePartitions: 4, entityPartitions: 2 },
    processor: { groupId: `${prefix}g`, emitIntervalMs: 60_000, ...((extra.processor as object | undefined) ?? {}) },
  };
  writeFileSync(path, stringify(doc));
  return path;
}

/** The domain parameters `ccm process` derives from that config (so the fold uses the same). */
export async function paramsOf(configPath: string, env: NodeJS.ProcessEnv): Promise<DomainParams> {
  const config = await loadConfig({ configPath, env });
  return buildParams(config, loadCatalog());
}

export interface Child {
  readonly proc: ChildProcess;
  readonly port: number;
  readonly logPath: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Log lines (pino JSON) parsed so far. */
  logs(): Array<Record<string, unknown>>;
}

let children = 0;

/** Spawns `ccm process` with its stdout/stderr in a log file (a pipe could block it). */
export async function spawnProcess(o: { dir: string; env: NodeJS.ProcessEnv; args: readonly string[] }): Promise<Child> {
  const port = await freePort();
  const logPath = join(o.dir, `process-${++children}.log`);
  const fd = openSync(logPath, 'a');
  const proc = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src/cli/ccm.ts'), 'process', ...o.args], {
    cwd: REPO_ROOT,
    env: { ...o.env, CCM_HTTP_ADDRESS: `127.0.0.1:${port}` },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    proc,
    port,
    logPath,
    exited,
    logs: () =>
      readFileSync(logPath, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => {
          try {
            return JSON.parse(l) as Record<string, unknown>;
          } catch {
            return {};
          }
        }),
  };
}

/** Polls `/healthz` until it answers 200 (the consumers joined and the sink answers). */
export async function waitHealthy(c: Child, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (c.proc.exitCode !== null) throw new Error(`process exited (${c.proc.exitCode}) before it was healthy; log ${c.logPath}`);
    try {
      const res = await fetch(`http://127.0.0.1:${c.port}/healthz`, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  throw new Error(`process not healthy after ${timeoutMs} ms; log ${c.logPath}`);
}

/** One value of a metric family (summed over its labels) from `/metrics`. */
export async function metricValue(c: Child, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${c.port}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/**
 * How many quote records a processor group has committed, over every partition; -1 while Kafka
 * cannot say (retriable: the group's coordinator moving after a broker restart), for a poll to ask again.
 */
export async function committedCount(bus: KafkaBus, group: string, topic: string): Promise<number> {
  try {
    const c = await bus.committedOffsets(group, topic);
    return c.reduce((s, x) => s + Math.max(0, Number(x.offset)), 0);
  } catch (e) {
    if (isMonitorError(e) && e.retriable) return -1;
    throw e;
  }
}

export interface Stream {
  readonly prefix: string;
  readonly run: string;
  readonly topics: TopicNames;
  readonly dir: string;
  readonly configPath: string;
  readonly env: NodeJS.ProcessEnv;
  readonly params: DomainParams;
  readonly entities: readonly Entity[];
  readonly quotes: readonly Quote[];
}

/** A fresh prefix, topics, a config, the book's entities published; quotes generated (not published). */
export async function prepareStream(o: { bus: KafkaBus; env: ServiceEnv; prefix: string; entities: number; quotes: number; seed: number; extraConfig?: Record<string, unknown>; quotePartitions?: number }): Promise<Stream> {
  const dir = mkdtempSync(join(tmpdir(), 'ccm-fault-'));
  const run = o.prefix.replace(/[^a-z0-9]/g, '').slice(0, 40);
  const topics = topicNames(o.prefix);
  const configPath = writeConfig(dir, o.prefix, o.extraConfig);
  const env = processEnv(o.env, o.prefix);
  const params = await paramsOf(configPath, env);
  const book = generateBook({ entities: o.entities, seed: o.seed });
  const quotes = generateQuotes({ seed: o.seed, count: o.quotes, startTs: T0, cadenceMs: 20, instruments: book.instruments, sourcesPerInstrument: 3 });
  await createTopics(o.bus, o.prefix, o.quotePartitions ?? 4);
  await publishEntities(o.bus, topics.entities, book.entities, T0);
  return { prefix: o.prefix, run, topics, dir, configPath, env, params, entities: book.entities, quotes };
}

export async function publishQuotes(bus: KafkaBus, topic: string, quotes: readonly Quote[]): Promise<void> {
  for (let i = 0; i < quotes.length; i += 5000) {
    const batch: ProduceRecord[] = quotes.slice(i, i + 5000).map((q) => ({ topic, key: q.instrument, value: q, ts: q.ts }));
    await bus.publish(batch);
  }
}

export interface Comparison {
  readonly expectedPoints: number;
  readonly missing: string[];
  readonly extra: string[];
  readonly differing: string[];
  readonly expectedAlerts: AlertEvent[];
  readonly publishedAlerts: AlertEvent[];
  /** Alert records published more than once (same eventId): redeliveries after a crash. */
  readonly redelivered: number;
}

/** The run's InfluxDB series and alerts topic against the fold over the topic's quotes. */
export async function compareWithFold(
  bus: KafkaBus,
  env: ServiceEnv,
  s: Stream,
  records?: readonly ConsumedRecord[],
  outputs?: readonly StepOutput[],
  measurements: readonly string[] = MEASUREMENTS,
): Promise<Comparison> {
  const recs = records ?? (await bus.readToEnd(s.topics.quotes));
  const outs = outputs ?? fold(s.params, s.entities, recs);
  const expected = expectedSeries(outs, s.run, measurements);
  const actual = await readRun(influxClient(env), s.run, measurements, TAG_KEYS);
  const missing = [...expected.keys()].filter((k) => !actual.has(k));
  const extra = [...actual.keys()].filter((k) => !expected.has(k));
  const differing: string[] = [];
  for (const [k, fields] of expected) {
    const got = actual.get(k);
    if (!got) continue;
    for (const [f, v] of Object.entries(fields)) if (got[f] !== v) differing.push(`${k} ${f}: expected ${v}, got ${got[f]}`);
  }
  const order = (a: AlertEvent, b: AlertEvent) => a.at - b.at || a.eventId.localeCompare(b.eventId);
  const expectedAlerts = outs.filter((o): o is Extract<StepOutput, { kind: 'alert' }> => o.kind === 'alert').map(({ kind: _k, ...a }) => a as AlertEvent).sort(order);
  const all = (await bus.readToEnd(s.topics.alerts))
    .map((r) => JSON.parse(r.value?.toString('utf8') ?? '{}') as AlertEvent & { run: string; v: number })
    .filter((a) => a.run === s.run)
    .map(({ run: _r, v: _v, ...a }) => a as AlertEvent);
  const byId = new Map<string, AlertEvent>();
  for (const a of all) if (!byId.has(a.eventId)) byId.set(a.eventId, a);
  return { expectedPoints: expected.size, missing, extra, differing, expectedAlerts, publishedAlerts: [...byId.values()].sort(order), redelivered: all.length - byId.size };
}

/** VmRSS of a process in MiB (Linux /proc). */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** A fault test's teardown: SIGKILL the children still running, delete the run's series, close the clients. */
export async function tearDown(o: { children: ReadonlyArray<Child | null | undefined>; sink?: InfluxSink; bus?: KafkaBus; run?: string }): Promise<void> {
  for (const c of o.children) if (c && c.proc.exitCode === null) c.proc.kill('SIGKILL');
  await o.sink?.deleteRun(o.run ?? 'none');
  await o.sink?.close();
  await o.bus?.close();
}
