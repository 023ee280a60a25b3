import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { pino } from 'pino';
import { Kafka, logLevel } from 'kafkajs';
import { KafkaBus } from '../../src/bus/kafka-bus.ts';
import { topicNames, topicSpecs } from '../../src/bus/topics.ts';
import { InfluxSink } from '../../src/sink/influx-sink.ts';
import type { Sink, Point } from '../../src/sink/sink.ts';
import type { Logger } from '../../src/logger.ts';
import type { Quote } from '../../src/domain/market/quote.ts';
import type { Entity } from '../../src/domain/sheet/sheet.ts';
import { publishEntities } from '../../src/bus/publish-entities.ts';
import { serviceEnv, type ServiceEnv } from '../../test/support/services.ts';

/**
 * What the service benchmarks (pipeline, limits, latency, memory, replay) share: the real Kafka
 * and InfluxDB of `scripts/services.sh` (instance `default`), unique topic prefixes and run tags,
 * and the raw measurements the pipeline is compared with (kafkajs with an empty handler, Kafka's
 * own ConsumerPerformance, line-protocol POSTs to InfluxDB's /write).
 */
export const REPO = new URL('../../', import.meta.url).pathname;
export const KAFKA_VERSION = '4.1.1';
export const KAFKA_LIBS = `${REPO}.cache/kafka/${KAFKA_VERSION}/libs/*`;

export { serviceEnv, type ServiceEnv };

export const benchLogger = (): Logger => pino({ level: process.env.CCM_BENCH_LOG_LEVEL ?? 'error' }, pino.destination(2));

/** A name for topics (`<name>.` prefix) and the run tag: only [a-z0-9-], unique per call. */
export const uniqueName = (what: string): string => `bench-${what}-${randomBytes(4).toString('hex')}`;

/** The bus; `sessionTimeoutMs` is its consumers' session (KafkaBus takes it per bus, not per subscription). */
export function newBus(env: ServiceEnv, logger: Logger = benchLogger(), sessionTimeoutMs = 6000): KafkaBus {
  return new KafkaBus({ brokers: env.kafkaBrokers, clientId: 'ccm-bench', logger, sessionTimeoutMs, heartbeatIntervalMs: 500 });
}

export function newSink(env: ServiceEnv, logger: Logger = benchLogger()): InfluxSink {
  return new InfluxSink({ url: env.influxUrl, username: env.influxUser, password: env.influxPassword, database: env.influxDb, logger });
}

/** The machine a result was measured on, with what else was running (load average). */
export interface ServicesMachine {
  readonly kafka: string;
  readonly influxdb: string;
  /** 1-minute load average when the section started and when it ended. */
  readonly loadAverage1mStart: number;
  loadAverage1mEnd: number;
}

export function influxVersion(): string {
  try {
    return execFileSync('influxd', ['version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown (influxd not on PATH)';
  }
}

export function servicesMachine(): ServicesMachine {
  return { kafka: KAFKA_VERSION, influxdb: influxVersion(), loadAverage1mStart: round2(loadavg()[0]), loadAverage1mEnd: NaN };
}
export const endMachine = (m: ServicesMachine): ServicesMachine => ({ ...m, loadAverage1mEnd: round2(loadavg()[0]) });

export const round2 = (x: number): number => Math.round(x * 100) / 100;
export const perSecond = (n: number, ms: number): number => (ms > 0 ? Math.round((n * 1000) / ms) : 0);

/**
 * Topics of a prefix: every processor topic, the quotes topic with `quotePartitions`. Kept
 * forever (retention.ms -1): the seeded streams start on 2025-10-01, and a time-based retention
 * of 30 days would let the broker delete them in the middle of a run.
 */
export async function createTopics(bus: KafkaBus, prefix: string, quotePartitions: number): Promise<void> {
  await bus.ensureTopics(topicSpecs(prefix, { quotePartitions, entityPartitions: 2 }).map((s) => ({ ...s, retentionMs: null })));
}

export async function deleteTopics(bus: KafkaBus, prefix: string): Promise<void> {
  const mine = (await bus.listTopics()).filter((t) => t.startsWith(prefix));
  if (mine.length > 0) await bus.deleteTopics(mine);
}

/** Publishes the book to the entities topic and the quotes (key = instrument, ts = event time). */
export async function publishInput(bus: KafkaBus, prefix: string, entities: readonly Entity[], quotes: readonly Quote[]): Promise<void> {
  const t = topicNames(prefix);
  await publishEntities(bus, t.entities, entities, 0);
  await publishQuotes(bus, t.quotes, quotes);
}

export async function publishQuotes(bus: KafkaBus, topic: string, quotes: readonly Quote[]): Promise<void> {
  const BATCH = 5000;
  for (let i = 0; i < quotes.length; i += BATCH) {
    await bus.publish(quotes.slice(i, i + BATCH).map((q) => ({ topic, key: q.instrument, value: q, ts: q.ts })));
  }
}

/**
 * A Sink that passes every write to the real one and tells `onWritten` what was written and when
 * the write was acknowledged (an acknowledged InfluxDB 1.x write is readable by the next query:
 * points go to the WAL and the in-memory cache before the 204).
 */
export class ObservedSink implements Sink {
  points = 0;
  /** Wall time spent inside write() (awaiting InfluxDB), ms. */
  writeMs = 0;
  constructor(
    private readonly inner: Sink,
    private readonly onWritten?: (points: readonly Point[], ackMs: number) => void,
  ) {}
  ensure(): Promise<void> {
    return this.inner.ensure();
  }
  async write(points: readonly Point[]): Promise<void> {
    const t0 = performance.now();
    await this.inner.write(points);
    this.writeMs += performance.now() - t0;
    this.points += points.length;
    this.onWritten?.(points, Date.now());
  }
  deleteRun(run: string): Promise<void> {
    return this.inner.deleteRun(run);
  }
  listRuns(): Promise<string[]> {
    return this.inner.listRuns();
  }
  ping(): Promise<boolean> {
    return this.inner.ping();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * The same bus, with the wall time spent awaiting `publish` (output topics, dead letters) and
 * `commitOffsets`, so that a pipeline run can say where its time went.
 */
export function timedBus(bus: KafkaBus): { bus: KafkaBus; publishMs: () => number; commitMs: () => number } {
  let publishMs = 0;
  let commitMs = 0;
  const proxy = new Proxy(bus, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (prop === 'publish' || prop === 'commitOffsets') {
        const fn = v as (...args: unknown[]) => Promise<void>;
        return async (...args: unknown[]) => {
          const t0 = performance.now();
          try {
            return await fn.apply(target, args);
          } finally {
            if (prop === 'publish') publishMs += performance.now() - t0;
            else commitMs += performance.now() - t0;
          }
        };
      }
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { bus: proxy, publishMs: () => publishMs, commitMs: () => commitMs };
}

export interface RawRate {
  readonly messages: number;
  readonly ms: number;
  readonly perSecond: number;
}

/**
 * kafkajs alone: a fresh group reads `n` messages of the topic from the beginning with an empty
 * eachBatch handler (the same client, fetch settings and autoCommit off as KafkaBus). The time runs
 * from `run()` (group join included, as for the pipeline) to the n-th message.
 */
export async function rawKafkajs(env: ServiceEnv, topic: string, n: number): Promise<RawRate & { readonly firstToLastMs: number }> {
  const kafka = new Kafka({ clientId: 'ccm-bench-raw', brokers: env.kafkaBrokers, logLevel: logLevel.NOTHING });
  const groupId = uniqueName('raw-kafkajs');
  const consumer = kafka.consumer({ groupId, sessionTimeout: 6000, heartbeatInterval: 500, maxWaitTimeInMs: 500 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  let seen = 0;
  let first = 0;
  let done: () => void = () => undefined;
  const reached = new Promise<void>((r) => (done = r));
  const t0 = performance.now();
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      if (first === 0) first = performance.now();
      seen += batch.messages.length;
      if (seen >= n) done();
    },
  });
  await reached;
  const t1 = performance.now();
  await consumer.disconnect();
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteGroups([groupId]).catch(() => undefined);
  await admin.disconnect();
  return { messages: seen, ms: Math.round(t1 - t0), perSecond: perSecond(seen, t1 - t0), firstToLastMs: Math.round(t1 - first) };
}

/** Kafka's own consumer (org.apache.kafka.tools.ConsumerPerformance) on the same topic and N. */
export async function consumerPerformance(env: ServiceEnv, topic: string, n: number): Promise<RawRate & { readonly fetchPerSecond: number; readonly rebalanceMs: number; readonly csv: string }> {
  const args = [
    '-Xmx512m',
    `-Dlog4j2.configurationFile=${REPO}scripts/kafka/log4j2.properties`,
    '-cp',
    KAFKA_LIBS,
    'org.apache.kafka.tools.ConsumerPerformance',
    '--bootstrap-server',
    env.kafkaBrokers.join(','),
    '--topic',
    topic,
    '--messages',
    String(n),
    '--timeout',
    '120000',
    '--group',
    uniqueName('consumer-perf'),
  ];
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn('java', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`ConsumerPerformance exited ${code}: ${stderr.trim().slice(-500)}`))));
  });
  // CSV: a header line then one line of values (start.time, end.time, ..., nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec)
  const lines = out.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const hi = lines.findIndex((l) => l.startsWith('start.time'));
  if (hi < 0 || hi + 1 >= lines.length) throw new Error(`ConsumerPerformance: no CSV in its output: ${out.slice(-500)}`);
  const header = lines[hi].split(',').map((h) => h.trim());
  const values = lines[hi + 1].split(',').map((v) => v.trim());
  const col = (name: string): number => Number(values[header.indexOf(name)]);
  const messages = col('data.consumed.in.nMsg');
  const sec = messages / col('nMsg.sec');
  return {
    messages,
    ms: Math.round(sec * 1000),
    perSecond: Math.round(col('nMsg.sec')),
    fetchPerSecond: Math.round(col('fetch.nMsg.sec')),
    rebalanceMs: col('rebalance.time.ms'),
    csv: `${lines[hi]}\n${lines[hi + 1]}`,
  };
}

const escKey = (s: string): string => s.replace(/[,= ]/g, (c) => `\\${c}`);
const escMeasurement = (s: string): string => s.replace(/[, ]/g, (c) => `\\${c}`);

/** One point as InfluxDB 1.x line protocol (float fields, ms precision). */
export function lineOf(p: Point, run: string): string {
  const tags = Object.keys(p.tags)
    .sort()
    .map((k) => `${escKey(k)}=${escKey(k === 'run' ? run : p.tags[k] === '' ? '-' : p.tags[k])}`)
    .join(',');
  const fields = Object.entries(p.fields)
    .filter(([, v]) => Number.isFinite(v))
    .map(([k, v]) => `${escKey(k)}=${v}`)
    .join(',');
  return `${escMeasurement(p.measurement)}${tags === '' ? '' : `,${tags}`} ${fields} ${Math.trunc(p.ts)}`;
}

/**
 * InfluxDB alone: the given points (those the pipeline wrote) re-tagged with `run`, as line
 * protocol POSTed to /write in batches of `batch` (the sink's batch size), one request at a time.
 */
export async function rawInflux(env: ServiceEnv, points: readonly Point[], run: string, batch = 5000): Promise<RawRate & { readonly batches: number }> {
  const lines = points.map((p) => lineOf(p, run));
  const url = new URL('/write', env.influxUrl);
  url.searchParams.set('db', env.influxDb);
  url.searchParams.set('rp', 'raw');
  url.searchParams.set('precision', 'ms');
  const auth = `Basic ${Buffer.from(`${env.influxUser}:${env.influxPassword}`).toString('base64')}`;
  let batches = 0;
  const t0 = performance.now();
  for (let i = 0; i < lines.length; i += batch) {
    const res = await fetch(url, { method: 'POST', headers: { authorization: auth, 'content-type': 'text/plain' }, body: lines.slice(i, i + batch).join('\n') });
    if (res.status !== 204) throw new Error(`InfluxDB /write answered HTTP ${res.status}: ${(await res.text()).slice(0, 300)}`);
    batches++;
  }
  const ms = performance.now() - t0;
  return { messages: lines.length, ms: Math.round(ms), perSecond: perSecond(lines.length, ms), batches };
}

/** Resident memory (VmRSS, MB) of a process, from /proc/<pid>/status; null once it is gone. */
export function rssMb(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    return m ? Math.round((Number(m[1]) / 1024) * 10) / 10 : null;
  } catch {
    return null;
  }
}

/** p-th percentile (0..100) by nearest rank of a sample. */
export function percentile(sample: readonly number[], p: number): number {
  if (sample.length === 0) return NaN;
  const s = [...sample].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
