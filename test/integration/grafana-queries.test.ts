/**
 * Every query the provisioned Grafana runs (panel targets, query variables, annotations, alert
 * rules) is sent, substituted as Grafana would, to the real InfluxDB and must return data.
 *
 * Data, the way the product writes it: a simulated quote stream (config/scenarios.yaml, seeded)
 * replayed by `replay` (the code of `ccm replay`) through the processor over the six sheets of
 * config/entities into InfluxSink, under a run of its own. What a replay cannot produce is added
 * from the seeded book of test/support/grafana-sample-points.ts: the ingestors' `feed` and dead
 * letters, late quotes (a replay is never late), and the measurements the boards need that no
 * writer has yet (`spread`, and `exposure` should the replay write none).
 * The Portfolio board's queries are also checked for their figures: the sum, per hour and model,
 * of each entity's last contribution among the `exposure` points the pipeline wrote.
 * InfluxDB: `eval "$(scripts/services.sh env)"` (CCM_INFLUX_URL, CCM_INFLUX_USER,
 * CCM_INFLUX_PASSWORD, CCM_INFLUX_DB).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { MemoryBus } from '../../src/bus/memory-bus.ts';
import { writeStreamFile, type StreamRecord } from '../../src/bus/stream-file.ts';
import { buildParams } from '../../src/cli/wiring.ts';
import { loadConfig } from '../../src/config/load-config.ts';
import { loadCatalog, loadSheets } from '../../src/config/load-sheets.ts';
import { ScenariosFileSchema } from '../../src/ingest/simulate/scenario-schema.ts';
import { simulateQuotes } from '../../src/ingest/simulate/simulate-quotes.ts';
import { createLogger } from '../../src/logger.ts';
import { replay } from '../../src/replay/replay.ts';
import { InfluxSink } from '../../src/sink/influx-sink.ts';
import type { Entity } from '../../src/domain/sheet/sheet.ts';
import type { Quote } from '../../src/domain/market/quote.ts';
import { boardQueries, loadDashboards, ruleQueries, substitute, unresolvedVariables } from '../support/grafana-queries.ts';
import type { BoardQuery, Dashboard, Substitution } from '../support/grafana-queries.ts';
import { SAMPLE_STEP_MS, SAMPLE_STEPS, sampleGrafanaPoints, toLineProtocol } from '../support/grafana-sample-points.ts';

interface InfluxEnv {
  readonly url: string;
  readonly user: string;
  readonly password: string;
  readonly db: string;
}

function influxEnv(): InfluxEnv {
  const { CCM_INFLUX_URL: url, CCM_INFLUX_USER: user = '', CCM_INFLUX_PASSWORD: password = '', CCM_INFLUX_DB: db = 'ccm' } = process.env;
  if (!url) throw new Error('CCM_INFLUX_URL is not set: start the services with `scripts/services.sh up` and run `eval "$(scripts/services.sh env)"`');
  return { url, user, password, db };
}

interface InfluxSeries {
  readonly name?: string;
  readonly tags?: Record<string, string>;
  readonly columns: string[];
  readonly values?: unknown[][];
}
interface InfluxResult {
  readonly series?: InfluxSeries[];
  readonly error?: string;
}

function authHeader(env: InfluxEnv): Record<string, string> {
  return env.user ? { authorization: `Basic ${Buffer.from(`${env.user}:${env.password}`).toString('base64')}` } : {};
}

async function influxQuery(env: InfluxEnv, q: string): Promise<InfluxResult> {
  const body = new URLSearchParams({ db: env.db, q, epoch: 'ms' });
  const res = await fetch(`${env.url}/query`, { method: 'POST', headers: { ...authHeader(env), 'content-type': 'application/x-www-form-urlencoded' }, body });
  const json = (await res.json()) as { results?: InfluxResult[]; error?: string };
  if (!res.ok || json.error) throw new Error(`InfluxDB ${res.status}: ${json.error ?? ''} for ${q}`);
  const result = json.results?.[0] ?? {};
  if (result.error) throw new Error(`InfluxDB: ${result.error} for ${q}`);
  return result;
}

const rowCount = (r: InfluxResult): number => (r.series ?? []).reduce((n, s) => n + (s.values?.length ?? 0), 0);
/** The values of a SHOW TAG VALUES answer (its `value` column). */
const tagValuesOf = (r: InfluxResult, column: string): string[] => (r.series ?? []).flatMap((s) => (s.values ?? []).map((v) => String(v[s.columns.indexOf(column)])));
const tagValues = (r: InfluxResult): string[] => tagValuesOf(r, 'value');
/** Measurements the sample book supplies when the replay wrote none (ingest-side, or no writer yet). */
const SUPPLEMENTED = ['feed', 'deadletter', 'spread', 'exposure'] as const;

const env = influxEnv();
const run = `grafana-q-${process.pid}-${Date.now().toString(36)}`;
// whole minutes, one minute back, so the newest points sit inside every rule's `now() - 15m`
const endMs = Math.floor(Date.now() / 60_000) * 60_000 - 60_000;
const dashboards = loadDashboards().map((d) => d.dashboard);
const range = { fromMs: endMs - SAMPLE_STEPS * SAMPLE_STEP_MS - 3_600_000, toMs: endMs + 60_000, interval: '10m', intervalMs: 600_000 };

/** Resolves a board's variables the way Grafana does: each query variable by running its query. */
async function resolveVariables(d: Dashboard): Promise<Substitution> {
  const variables: Record<string, string | readonly string[]> = {};
  for (const v of d.templating.list) {
    if (v.type !== 'query' || !v.query) continue;
    const values = tagValues(await influxQuery(env, substitute(v.query, { ...range, variables })));
    if (v.name === 'run') {
      expect(values, 'the run variable lists the run just written').toContain(run);
      variables.run = run;
    } else {
      expect(values.length, `variable ${v.name} of ${d.uid} has values`).toBeGreaterThan(0);
      // a single-select variable takes its first value; a multi-value one is tried with every value (All)
      variables[v.name] = v.multi || v.includeAll ? values : values[0];
    }
  }
  return { ...range, variables };
}

describe('Grafana queries against the real InfluxDB', () => {
  beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'grafana-q-'));
    const logger = createLogger({ level: 'warn' });
    const sink = new InfluxSink({ url: env.url, username: env.user, password: env.password, database: env.db, logger });
    const bus = new MemoryBus();
    try {
      await sink.ensure();
      const config = await loadConfig();
      const { entities: sheets, problems } = await loadSheets(config.entities);
      expect(problems).toEqual([]);
      // and a copy of one neocloud owing three times as much, so that units sit at margin call
      const base = sheets.find((e) => e.id === 'alpha-neocloud') as Entity;
      const stressedId = `${base.id}-stressed`;
      const stressed: Entity = { id: stressedId, versions: base.versions.map((v) => ({ ...v, id: stressedId, facilities: v.facilities.map((f) => ({ ...f, principal: f.principal * 3 })) })) };
      const entities = [...sheets, stressed];
      const scenarios = ScenariosFileSchema.parse(parseYaml(await readFile('config/scenarios.yaml', 'utf8')));
      const file = join(dir, 'simulated.ndjson.gz');
      const fromMs = endMs - (SAMPLE_STEPS - 1) * SAMPLE_STEP_MS;
      // halfway, the resale and coin markets lose 40%: real crossings for the alert panels (a run's
      // start raises none: docs/valuation.md "The start of the alert machine")
      const crashMs = fromMs + Math.floor(((SAMPLE_STEPS - 1) * SAMPLE_STEP_MS) / 2);
      const crashed = function* (): Generator<StreamRecord> {
        for (const r of simulateQuotes({ file: scenarios, scenario: 'double_leverage', seed: 7, fromMs, toMs: endMs + 1, cadenceS: 60 })) {
          const q = r.value as Quote;
          const falls = r.ts >= crashMs && (q.instrument.startsWith('resale:') || q.instrument === 'BTC' || q.instrument === 'ETH');
          yield falls ? { ...r, value: { ...q, price: q.price * 0.6 } } : r;
        }
      };
      await writeStreamFile(file, crashed());
      const summary = await replay({
        bus,
        sink,
        logger,
        params: buildParams(config, await loadCatalog(config.catalog)),
        topicPrefix: `${run}.`,
        groupId: run,
        lookbackMs: config.processor.lookbackMs,
        maxLatenessMs: config.processor.maxLatenessMs,
        run,
        input: { files: [file] },
        entities,
      });
      expect(summary.events).toBeGreaterThan(0);
    } finally {
      await bus.close();
      await sink.close();
      await rm(dir, { recursive: true, force: true });
    }
    // what a replay cannot write: measurements absent from the run, and late quotes
    const present = new Set(tagValuesOf(await influxQuery(env, `SHOW MEASUREMENTS WHERE "run" = '${run}'`), 'name'));
    const extra = sampleGrafanaPoints(run, endMs).filter((p) => (SUPPLEMENTED as readonly string[]).includes(p.measurement) && !present.has(p.measurement) || (p.measurement === 'data_quality' && p.tags.reason === 'late'));
    const res = await fetch(`${env.url}/write?db=${encodeURIComponent(env.db)}&precision=ms`, { method: 'POST', headers: authHeader(env), body: toLineProtocol(extra) });
    expect(res.status, await res.text()).toBe(204);
  });

  afterAll(async () => {
    await influxQuery(env, `DROP SERIES FROM /.*/ WHERE "run" = '${run}'`);
  });

  for (const d of dashboards) {
    it(`every panel, variable and annotation query of ${d.uid} returns rows for the replayed run`, async () => {
      const s = await resolveVariables(d);
      const empty: BoardQuery[] = [];
      const queries = boardQueries(d);
      expect(queries.length).toBeGreaterThan(0);
      for (const q of queries) {
        const sent = substitute(q.query, s);
        expect(unresolvedVariables(sent), `${q.where}: ${sent}`).toEqual([]);
        const result = await influxQuery(env, sent);
        if (rowCount(result) === 0) empty.push({ ...q, query: sent });
      }
      expect(empty.map((q) => `${q.origin} ${q.where}: ${q.query}`)).toEqual([]);
    });
  }

  it('every alert rule query returns rows for the live run when the processor has written recently', async () => {
    const rules = ruleQueries();
    expect(rules.length).toBeGreaterThan(0);
    const empty: string[] = [];
    for (const r of rules) {
      // the rules read run = 'live'; the test's points carry their own run so live data stays untouched
      expect(r.query, r.ruleUid).toContain(`"run" = 'live'`);
      const result = await influxQuery(env, r.query.replaceAll(`"run" = 'live'`, `"run" = '${run}'`));
      if (rowCount(result) === 0) empty.push(`${r.ruleUid}/${r.refId}: ${r.query}`);
    }
    expect(empty).toEqual([]);
  });

  it('the portfolio board sums, per hour and model, the last exposure contribution of every entity the pipeline wrote', async () => {
    // the per-entity points the processor wrote (none supplemented: the replay writes exposure)
    const raw = await influxQuery(env, `SELECT "units_pledged", "units_at_margin_call", "depth_per_month" FROM "exposure" WHERE "run" = '${run}' GROUP BY "entity", "model"`);
    expect(sampleGrafanaPoints(run, endMs).filter((p) => p.measurement === 'exposure' && (raw.series ?? []).some((s) => s.tags?.entity === p.tags.entity)), 'exposure points of the sample book').toEqual([]);
    // the reference, in TypeScript: per model and hour, each entity's last units (and last depth written), summed
    const HOUR = 3_600_000;
    const buckets = new Map<string, Map<number, Map<string, { pledged: number; atCall: number; depth: number | null; ts: number; depthTs: number }>>>();
    for (const s of raw.series ?? []) {
      const entity = s.tags?.entity ?? '';
      const model = s.tags?.model ?? '';
      const col = (name: string) => s.columns.indexOf(name);
      for (const v of s.values ?? []) {
        const ts = Number(v[0]);
        const hour = Math.floor(ts / HOUR) * HOUR;
        const byHour = buckets.get(model) ?? new Map();
        buckets.set(model, byHour);
        const byEntity = byHour.get(hour) ?? new Map();
        byHour.set(hour, byEntity);
        const e = byEntity.get(entity) ?? { pledged: 0, atCall: 0, depth: null, ts: -Infinity, depthTs: -Infinity };
        if (ts >= e.ts) Object.assign(e, { ts, pledged: Number(v[col('units_pledged')]), atCall: Number(v[col('units_at_margin_call')]) });
        const depth = v[col('depth_per_month')];
        if (depth !== null && ts >= e.depthTs) Object.assign(e, { depthTs: ts, depth: Number(depth) });
        byEntity.set(entity, e);
      }
    }
    const expected = new Map<string, Array<{ hour: number; pledged: number; atCall: number; depth: number; entities: number }>>();
    for (const [model, byHour] of buckets) {
      const rows = [...byHour.entries()].sort((a, b) => a[0] - b[0]).map(([hour, byEntity]) => {
        const es = [...byEntity.values()];
        const depths = es.flatMap((e) => (e.depth === null ? [] : [e.depth]));
        return { hour, pledged: es.reduce((n, e) => n + e.pledged, 0), atCall: es.reduce((n, e) => n + e.atCall, 0), depth: Math.min(...depths), entities: es.length };
      });
      expected.set(model, rows);
    }
    expect(expected.size, 'models with exposure in the replayed run').toBeGreaterThan(0);
    expect([...expected.values()].some((rows) => rows.some((r) => r.atCall > 0)), 'units at margin call (the stressed neocloud)').toBe(true);
    const allEntities = new Set((raw.series ?? []).map((s) => s.tags?.entity));
    const lastHour = Math.max(...[...expected.values()].flatMap((rows) => rows.map((r) => r.hour)));
    // every hour holds the whole book: the first window close of each hour writes every entity
    const entitiesInLastHour = new Set([...buckets.values()].flatMap((byHour) => [...(byHour.get(lastHour)?.keys() ?? [])]));
    expect([...entitiesInLastHour].sort()).toEqual([...allEntities].sort());

    const portfolio = dashboards.find((d) => d.uid === 'ccm-portfolio') as Dashboard;
    const byTitle = (title: string): string => {
      const q = boardQueries(portfolio).find((x) => x.where.startsWith(`${title} /`));
      expect(q, title).toBeDefined();
      return substitute((q as BoardQuery).query, { ...range, variables: { run } });
    };
    const seriesOf = (r: InfluxResult) => new Map((r.series ?? []).map((s) => [s.tags?.model ?? '', s.values ?? []]));

    const atCall = seriesOf(await influxQuery(env, byTitle('Units at margin call by model')));
    const months = seriesOf(await influxQuery(env, byTitle('Months to absorb by model')));
    for (const [model, rows] of expected) {
      expect(atCall.get(model)?.map((v) => [Number(v[0]), Number(v[1])]), `units at margin call of ${model}`).toEqual(rows.map((r) => [r.hour, r.atCall]));
      const m = months.get(model) ?? [];
      expect(m.map((v) => Number(v[0])), `months to absorb of ${model}`).toEqual(rows.map((r) => r.hour));
      rows.forEach((r, i) => expect(Number(m[i][1]), `months to absorb of ${model} at ${r.hour}`).toBeCloseTo(r.atCall / r.depth, 12));
    }

    const table = await influxQuery(env, byTitle('Pledged units against resale market depth'));
    const got = new Map((table.series ?? []).map((s) => [s.tags?.model ?? '', Object.fromEntries(s.columns.map((c, i) => [c, s.values?.[0]?.[i]]))]));
    expect([...got.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [model, rows] of expected) {
      const last = rows[rows.length - 1];
      expect(got.get(model), model).toMatchObject({ units_pledged: last.pledged, units_at_margin_call: last.atCall, depth_per_month: last.depth });
      expect(Number(got.get(model)?.months_to_absorb)).toBeCloseTo(last.atCall / last.depth, 12);
    }
    console.log(`portfolio board: ${allEntities.size} entities, ${[...expected.entries()].map(([m, rows]) => `${m} ${rows[rows.length - 1].pledged} pledged / ${rows[rows.length - 1].atCall} at call`).join(', ')}`);
  });

  it('the entity table of the overview keeps only entities lent to by the chosen lender', async () => {
    const pairs = await influxQuery(env, `SELECT last("headroom") FROM "facility" WHERE "run" = '${run}' GROUP BY "entity", "lender"`);
    const byLender = new Map<string, Set<string>>();
    for (const s of pairs.series ?? []) {
      const lender = s.tags?.lender ?? '';
      byLender.set(lender, (byLender.get(lender) ?? new Set()).add(s.tags?.entity ?? ''));
    }
    const allEntities = new Set([...byLender.values()].flatMap((e) => [...e]));
    // a lender of some entities but not all, so the filter has something to leave out
    const [lender, lent] = [...byLender.entries()].find(([, e]) => e.size < allEntities.size) ?? [];
    expect(lender, 'the sheets have a lender that does not lend to every entity').toBeDefined();
    const overview = dashboards.find((d) => d.uid === 'ccm-credit-overview') as Dashboard;
    const headroomQuery = boardQueries(overview).find((q) => q.query.includes('min("headroom") AS "headroom" FROM (SELECT')) as BoardQuery;
    expect(headroomQuery).toBeDefined();
    const sent = substitute(headroomQuery.query, { ...range, variables: { run, lender: lender as string } });
    const entities = ((await influxQuery(env, sent)).series ?? []).map((s) => s.tags?.entity).sort();
    expect(entities).toEqual([...(lent as Set<string>)].sort());
  });
});
