import { InfluxDB, escape } from 'influx';
import { ErrorCode, MonitorError } from '../domain/errors.ts';
import type { Logger } from '../logger.ts';
import { redactUrl } from '../redact.ts';
import { InfluxWriter, statusOf } from './influx-write.ts';
import { encodeLines } from './line-protocol.ts';
import { FIELD, MEASUREMENT, TAG } from './measurements.ts';
import type { Point, RunInfo, Sink } from './sink.ts';

/**
 * The Sink port on InfluxDB 1.x through npm `influx` (ARCHITECTURE.md "InfluxDB contracts"; the
 * schema is in measurements.ts). Only InfluxQL that both 1.6 (Debian, tests) and 1.8 (compose) have.
 *
 * - Raw points go to the retention policy `retentionPolicy` (default `raw`, duration `0s` = kept
 *   forever), made the database's DEFAULT so unqualified queries read it. Writes use ms precision:
 *   point timestamps are event times in ms, so a rewrite of the same series and time overwrites.
 * - Rollups: continuous queries `cq_<measurement>_1m` / `_1h` write `<measurement>_1m` and
 *   `<measurement>_1h` into the retention policy `rollup` (kept forever), GROUP BY time, * (all
 *   tags, so `run` stays). Fields keep their names: mean for values, max for levels and flags,
 *   sum for counts. InfluxDB runs a CQ over the latest interval of wall-clock time only, so the
 *   live run is rolled up; a replay of past data is not (query its raw points).
 * - ensure() is idempotent: it reads SHOW RETENTION POLICIES / SHOW CONTINUOUS QUERIES first.
 *   A CQ whose definition changes must be dropped by hand (DROP CONTINUOUS QUERY) to be redefined.
 * - write() splits into batches of `batchSize`, retries retriable failures (connection refused or
 *   reset, timeouts, 5xx) with exponential backoff, then throws SINK_WRITE_FAILED (retriable).
 *   Its line protocol is ours (line-protocol.ts) and POSTed to /write on a keep-alive agent of
 *   node:http; queries go through npm `influx`.
 *   4xx answers fail at once, not retriable: 400, 413 and 422 as SINK_POINTS_REFUSED (the points
 *   themselves: the processor isolates them, src/sink/refused-points.ts), others (auth, no
 *   database) as SINK_WRITE_FAILED.
 * - deleteRun(): DROP SERIES WHERE run = '<run>' deletes the run's points and index entries in
 *   every retention policy of the database, rollups included.
 */
export interface InfluxSinkOptions {
  readonly url: string;
  readonly username: string;
  readonly password: string;
  readonly database: string;
  /** Default `{ name: 'raw', duration: '0s' }` (0s = infinite). */
  readonly retentionPolicy?: { readonly name: string; readonly duration: string };
  /** Points per HTTP write. Default 5000 (InfluxDB's recommended batch size). */
  readonly batchSize?: number;
  /** Attempts per batch before giving up. Default 6 (about 6 s of backoff in all). */
  readonly maxAttempts?: number;
  /** First backoff delay, doubled per attempt up to 5 s. Default 200. */
  readonly initialBackoffMs?: number;
  /** HTTP request timeout. Default 10000. */
  readonly requestTimeoutMs?: number;
  readonly logger: Logger;
}

export const ROLLUP_RETENTION_POLICY = 'rollup';
export const ROLLUP_INTERVALS = ['1m', '1h'] as const;

type Aggregate = 'mean' | 'max' | 'sum' | 'last';

/** The fields each rolled-up measurement keeps, and how a window aggregates them. */
export const ROLLUP_FIELDS: Readonly<Record<string, Readonly<Record<string, Aggregate>>>> = {
  [MEASUREMENT.price]: { [FIELD.value]: 'mean' },
  [MEASUREMENT.index]: { [FIELD.value]: 'mean', [FIELD.sources]: 'mean', [FIELD.stale]: 'max', [FIELD.rejected]: 'sum' },
  [MEASUREMENT.valuation]: {
    [FIELD.cryptoValue]: 'mean',
    [FIELD.fleetValue]: 'mean',
    [FIELD.cash]: 'mean',
    [FIELD.grossAssets]: 'mean',
    [FIELD.totalDebt]: 'mean',
    [FIELD.securedDebt]: 'mean',
    [FIELD.collateralValue]: 'mean',
    [FIELD.liquidationValue]: 'mean',
    [FIELD.equity]: 'mean',
    [FIELD.ltv]: 'mean',
    [FIELD.forcedSaleLtv]: 'mean',
    [FIELD.noi12]: 'mean',
    [FIELD.debtService12]: 'mean',
    [FIELD.maturities12]: 'mean',
    [FIELD.dscr]: 'mean',
    [FIELD.dscrBreach]: 'max',
    [FIELD.liquidityCoverage]: 'mean',
    [FIELD.runwayMonths]: 'mean',
    [FIELD.netLeverage]: 'mean',
    [FIELD.breakevenRentalRate]: 'mean',
    [FIELD.breakevenRentalRateAtCovenant]: 'mean',
    [FIELD.stale]: 'max',
    [FIELD.statusLevel]: 'max',
  },
  [MEASUREMENT.facility]: {
    [FIELD.outstanding]: 'mean',
    [FIELD.collateralValue]: 'mean',
    [FIELD.liquidationValue]: 'mean',
    [FIELD.ltv]: 'mean',
    [FIELD.forcedSaleLtv]: 'mean',
    [FIELD.headroom]: 'mean',
    [FIELD.ltvIn12m]: 'mean',
    [FIELD.statusLevel]: 'max',
    [FIELD.cureAmountUsd]: 'mean',
    [FIELD.tenorMonthsLeft]: 'mean',
    [FIELD.collateralLifeMonthsLeft]: 'mean',
    [FIELD.debtOutlivesCollateral]: 'max',
    [FIELD.dataMissing]: 'max',
    [FIELD.ltvWarn]: 'mean',
    [FIELD.ltvMarginCall]: 'mean',
    [FIELD.ltvLiquidation]: 'mean',
    [FIELD.dscrMin]: 'mean',
  },
  [MEASUREMENT.item]: { [FIELD.marketValue]: 'mean', [FIELD.liquidationValue]: 'mean', [FIELD.haircut]: 'mean' },
  [MEASUREMENT.stress]: { [FIELD.ltv]: 'mean', [FIELD.dscr]: 'mean', [FIELD.worstStatusLevel]: 'max' },
  // per entity and model (GROUP BY *): the window's last contribution; months_to_absorb is computed by the boards
  [MEASUREMENT.exposure]: { [FIELD.unitsPledged]: 'last', [FIELD.unitsAtMarginCall]: 'last', [FIELD.depthPerMonth]: 'last' },
  // feed counters are cumulative per process: the window's max is its last value
  [MEASUREMENT.feed]: { [FIELD.quotes]: 'max', [FIELD.rejects]: 'max', [FIELD.reconnects]: 'max', [FIELD.lastTickAgeS]: 'max' },
  [MEASUREMENT.dataQuality]: { [FIELD.count]: 'sum' },
  [MEASUREMENT.deadletter]: { [FIELD.count]: 'sum' },
};

/** The continuous queries ensure() creates: name -> InfluxQL. */
export function rollupQueries(database: string, rawPolicy: string): Map<string, string> {
  const q = escape.quoted;
  const out = new Map<string, string>();
  for (const interval of ROLLUP_INTERVALS) {
    for (const [measurement, fields] of Object.entries(ROLLUP_FIELDS)) {
      const select = Object.entries(fields)
        .map(([f, agg]) => `${agg}(${q(f)}) AS ${q(f)}`)
        .join(', ');
      const name = `cq_${measurement}_${interval}`;
      out.set(
        name,
        `CREATE CONTINUOUS QUERY ${q(name)} ON ${q(database)} BEGIN SELECT ${select} INTO ${q(database)}.${q(ROLLUP_RETENTION_POLICY)}.${q(`${measurement}_${interval}`)} FROM ${q(database)}.${q(rawPolicy)}.${q(measurement)} GROUP BY time(${interval}), * END`,
      );
    }
  }
  return out;
}

const MAX_BACKOFF_MS = 5000;
const RETRIABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ESOCKETTIMEDOUT', 'EHOSTUNREACH', 'EPIPE', 'EAI_AGAIN']);

export class InfluxSink implements Sink {
  private readonly influx: InfluxDB;
  private readonly log: Logger;
  private readonly rp: { readonly name: string; readonly duration: string };
  private readonly batchSize: number;
  private readonly writer: InfluxWriter;

  constructor(private readonly opts: InfluxSinkOptions) {
    const u = new URL(opts.url);
    this.log = opts.logger.child({ component: 'influx-sink' });
    this.rp = opts.retentionPolicy ?? { name: 'raw', duration: '0s' };
    this.batchSize = opts.batchSize ?? 5000;
    this.influx = new InfluxDB({
      host: u.hostname,
      port: Number(u.port || (u.protocol === 'https:' ? 443 : 8086)),
      protocol: u.protocol === 'https:' ? 'https' : 'http',
      path: u.pathname === '/' ? undefined : u.pathname,
      username: opts.username,
      password: opts.password,
      database: opts.database,
      // retries are ours (bounded, logged); the pool would retry silently
      pool: { maxRetries: 0, requestTimeout: opts.requestTimeoutMs ?? 10_000 },
    });
    this.writer = new InfluxWriter({ url: u, username: opts.username, password: opts.password, database: opts.database, retentionPolicy: this.rp.name, timeoutMs: opts.requestTimeoutMs ?? 10_000 });
  }

  async ensure(): Promise<void> {
    const db = this.opts.database;
    const q = escape.quoted;
    await this.withRetry('ensure', async () => {
      await this.influx.query(`CREATE DATABASE ${q(db)}`);
      const policies = await this.influx.query<{ name: string; duration: string; default: boolean }>(`SHOW RETENTION POLICIES ON ${q(db)}`);
      const raw = policies.find((p) => p.name === this.rp.name);
      const rawDuration = `DURATION ${this.rp.duration} REPLICATION 1 DEFAULT`;
      if (raw === undefined) await this.influx.query(`CREATE RETENTION POLICY ${q(this.rp.name)} ON ${q(db)} ${rawDuration}`);
      else if (durationMs(raw.duration) !== durationMs(this.rp.duration) || !raw.default) {
        await this.influx.query(`ALTER RETENTION POLICY ${q(this.rp.name)} ON ${q(db)} ${rawDuration}`);
      }
      if (!policies.some((p) => p.name === ROLLUP_RETENTION_POLICY)) {
        await this.influx.query(`CREATE RETENTION POLICY ${q(ROLLUP_RETENTION_POLICY)} ON ${q(db)} DURATION 0s REPLICATION 1`);
      }
      const existing = new Set((await this.influx.showContinousQueries(db)).map((c) => c.name));
      for (const [name, query] of rollupQueries(db, this.rp.name)) {
        if (!existing.has(name)) await this.influx.query(query);
      }
    });
  }

  async write(points: readonly Point[]): Promise<void> {
    const valid: Point[] = [];
    for (const p of points) {
      // the usual case (every field finite) takes the point as it is: a write of a window close
      // is tens of thousands of points
      let finite = 0;
      let total = 0;
      for (const k in p.fields) {
        total++;
        if (Number.isFinite(p.fields[k])) finite++;
      }
      if (finite === 0 || !Number.isFinite(p.ts)) {
        // line protocol has no point without a field; one would fail the whole batch
        this.log.warn({ measurement: p.measurement, tags: p.tags, ts: p.ts }, 'dropped a point without fields or time');
        continue;
      }
      const fields = finite === total ? p.fields : Object.fromEntries(Object.entries(p.fields).filter(([, v]) => Number.isFinite(v)));
      valid.push(finite === total && Number.isInteger(p.ts) ? p : { measurement: p.measurement, tags: p.tags, fields, ts: Math.trunc(p.ts) });
    }
    for (let i = 0; i < valid.length; i += this.batchSize) {
      const body = Buffer.from(encodeLines(i === 0 && valid.length <= this.batchSize ? valid : valid.slice(i, i + this.batchSize)), 'utf8');
      await this.withRetry('write', () => this.writer.post(body));
    }
  }

  async deleteRun(run: string): Promise<void> {
    await this.withRetry('deleteRun', () => this.influx.query(`DROP SERIES WHERE ${escape.quoted(TAG.run)} = ${escape.stringLit(run)}`));
  }

  async listRuns(): Promise<string[]> {
    const rows = await this.withRetry('listRuns', () => this.influx.query<{ key: string; value: string }>(`SHOW TAG VALUES WITH KEY = ${escape.quoted(TAG.run)}`));
    return [...new Set(rows.map((r) => r.value))].sort();
  }

  async describeRun(run: string): Promise<RunInfo> {
    const where = `WHERE ${escape.quoted(TAG.run)} = ${escape.stringLit(run)}`;
    const q = <T>(query: string) => this.withRetry('describeRun', () => this.influx.query<T>(query));
    const timeOf = (rows: ReadonlyArray<{ time?: Date }>): number | null => (rows[0]?.time ? rows[0].time.getTime() : null);
    const [events, first, last, alerts, counts, made] = await Promise.all([
      q<{ count: number }>(`SELECT count("value") FROM "${MEASUREMENT.price}" ${where}`),
      q<{ time: Date }>(`SELECT first("value") FROM "${MEASUREMENT.price}" ${where}`),
      q<{ time: Date }>(`SELECT last("value") FROM "${MEASUREMENT.price}" ${where}`),
      q<{ count: number }>(`SELECT count("level") FROM "${MEASUREMENT.alert}" ${where}`),
      this.withRetry('describeRun', () => this.influx.queryRaw(`SELECT count(*) FROM /.*/ ${where}`, { database: this.opts.database })),
      q<{ time: Date }>(`SELECT last("${FIELD.events}") FROM "${MEASUREMENT.runInfo}" ${where}`),
    ]);
    let points = 0;
    for (const series of (counts as { results?: Array<{ series?: Array<{ values?: number[][] }> }> }).results?.[0]?.series ?? []) {
      const row = series.values?.[0] ?? [];
      points += Math.max(0, ...row.slice(1).map((v) => (typeof v === 'number' ? v : 0)));
    }
    return { events: events[0]?.count ?? 0, firstMs: timeOf(first), lastMs: timeOf(last), alerts: alerts[0]?.count ?? 0, points, madeMs: timeOf(made) };
  }

  async ping(): Promise<boolean> {
    try {
      const hosts = await this.influx.ping(2000);
      return hosts.some((h) => h.online);
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    // the writes' kept-alive sockets; npm influx (queries) keeps none beyond Node's global agent
    this.writer.close();
  }

  private async withRetry<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const maxAttempts = this.opts.maxAttempts ?? 6;
    let delayMs = this.opts.initialBackoffMs ?? 200;
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const retriable = isRetriable(err);
        if (!retriable || attempt >= maxAttempts) {
          const refused = what === 'write' && isRefusal(err);
          throw new MonitorError(`influx ${what} (${redactUrl(this.opts.url)}, database ${this.opts.database}): ${messageOf(err)}`, {
            code: refused ? ErrorCode.SINK_POINTS_REFUSED : what === 'write' ? ErrorCode.SINK_WRITE_FAILED : retriable ? ErrorCode.SERVICE_UNAVAILABLE : ErrorCode.SINK_WRITE_FAILED,
            retriable,
            cause: compactError(err),
          });
        }
        this.log.warn({ err: compactError(err), attempt, delayMs }, `influx ${what} failed; retrying`);
        await new Promise((r) => setTimeout(r, delayMs));
        delayMs = Math.min(delayMs * 2, MAX_BACKOFF_MS);
      }
    }
  }
}

/**
 * InfluxDB refused the points themselves: 400 (a line it cannot parse, a time out of range, a key
 * too long, a field type conflict), 413 (a request too large), 422. Not 401/403/404: credentials or
 * a database missing are the configuration's fault, not a point's, and no point should be
 * dead-lettered for them.
 */
const REFUSED_STATUSES = new Set([400, 413, 422]);

function isRefusal(err: unknown): boolean {
  const status = statusOf(err);
  return status !== undefined && REFUSED_STATUSES.has(status);
}

/** Connection failures, timeouts and 5xx (the pool reports those as ServiceNotAvailableError). */
function isRetriable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.constructor.name === 'ServiceNotAvailableError') return true;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && RETRIABLE_CODES.has(code)) return true;
  const status = statusOf(err);
  return status !== undefined && status >= 500;
}

/**
 * npm influx's RequestError holds the whole request and response objects: keep what tells the
 * story (name, message, status, errno code) so logs and error reports stay readable.
 */
function compactError(err: unknown): Error {
  if (!(err instanceof Error)) return new Error(String(err));
  const out = new Error(messageOf(err));
  out.name = err.constructor.name;
  const code = (err as { code?: unknown }).code;
  const statusCode = statusOf(err);
  return Object.assign(out, typeof code === 'string' ? { code } : {}, typeof statusCode === 'number' ? { statusCode } : {});
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message || err.constructor.name : String(err);
}

/** InfluxQL durations as SHOW RETENTION POLICIES prints them ("720h0m0s", "0s") or as written ("30d", "1w"). */
export function durationMs(d: string): number {
  const unit: Record<string, number> = { ns: 1e-6, u: 1e-3, µ: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
  if (d === 'INF' || d === 'inf') return 0;
  let total = 0;
  for (const m of d.matchAll(/(\d+)(ns|ms|u|µ|s|m|h|d|w)/g)) total += Number(m[1]) * unit[m[2]];
  return total;
}
