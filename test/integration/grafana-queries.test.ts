/**
 * Every query the provisioned Grafana runs (panel targets, query variables, annotations, alert
 * rules) is sent, substituted as Grafana would, to the real InfluxDB and must return data.
 *
 * Data: the seeded book of test/support/grafana-sample-points.ts written through the InfluxDB HTTP
 * write API under a run tag of its own. To be switched to the product path (`ccm replay` of a
 * simulated stream, or step + InfluxSink + toPoints) once that exists.
 * InfluxDB: `eval "$(scripts/services.sh env)"` (CCM_INFLUX_URL, CCM_INFLUX_USER,
 * CCM_INFLUX_PASSWORD, CCM_INFLUX_DB).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
const tagValues = (r: InfluxResult): string[] => (r.series ?? []).flatMap((s) => (s.values ?? []).map((v) => String(v[s.columns.indexOf('value')])));

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
    await influxQuery(env, `CREATE DATABASE "${env.db}"`);
    const res = await fetch(`${env.url}/write?db=${encodeURIComponent(env.db)}&precision=ms`, {
      method: 'POST',
      headers: authHeader(env),
      body: toLineProtocol(sampleGrafanaPoints(run, endMs)),
    });
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

  it('the entity table of the overview keeps only entities lent to by the chosen lender', async () => {
    const overview = dashboards.find((d) => d.uid === 'ccm-credit-overview');
    expect(overview).toBeDefined();
    const headroomQuery = boardQueries(overview as Dashboard).find((q) => q.query.includes('min("headroom") AS "headroom" FROM (SELECT'));
    expect(headroomQuery).toBeDefined();
    const sent = substitute((headroomQuery as BoardQuery).query, { ...range, variables: { run, lender: 'atlas-credit' } });
    const entities = ((await influxQuery(env, sent)).series ?? []).map((s) => s.tags?.entity);
    expect(entities).toEqual(['northwind-neocloud']);
  });
});
