/**
 * Reads the provisioned Grafana boards and alert rules (grafana/dashboards/*.json,
 * grafana/provisioning/alerting/*.yaml) and gives every InfluxQL query they run, so that tests can
 * check them statically and run them against a real InfluxDB.
 *
 * Variable substitution follows what Grafana's InfluxDB datasource does to a raw query:
 * `$timeFilter` becomes `time >= <from>ms and time <= <to>ms`, `${__from}` and `${__to}` the range's
 * ends in epoch milliseconds, `$__interval` a duration such as
 * `10m`, and a template variable inside a regex (`/^$run$/`) its value with regex characters
 * escaped, or `(a|b)` for several values (public/app/plugins/datasource/influxdb/datasource.ts,
 * `interpolateQueryExpr`).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';

export const GRAFANA_DIR = new URL('../../grafana/', import.meta.url).pathname;
export const DASHBOARDS_DIR = join(GRAFANA_DIR, 'dashboards');
export const ALERTING_DIR = join(GRAFANA_DIR, 'provisioning', 'alerting');

export interface DatasourceRef {
  readonly type?: string;
  readonly uid?: string;
}
export interface Target {
  readonly refId: string;
  readonly datasource?: DatasourceRef;
  readonly rawQuery?: boolean;
  readonly resultFormat?: string;
  readonly query?: string;
}
export interface Panel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly datasource?: DatasourceRef;
  readonly targets?: readonly Target[];
  readonly panels?: readonly Panel[];
  readonly repeat?: string;
  readonly options?: Readonly<Record<string, unknown>>;
}
export interface Variable {
  readonly name: string;
  readonly type: string;
  readonly query?: string;
  readonly datasource?: DatasourceRef;
  readonly description?: string;
  readonly multi?: boolean;
  readonly includeAll?: boolean;
}
export interface Annotation {
  readonly name: string;
  readonly datasource?: DatasourceRef;
  readonly query?: string;
  readonly builtIn?: number;
}
export interface Dashboard {
  readonly uid: string;
  readonly title: string;
  readonly schemaVersion: number;
  readonly panels: readonly Panel[];
  readonly templating: { readonly list: readonly Variable[] };
  readonly annotations: { readonly list: readonly Annotation[] };
}
export interface LoadedDashboard {
  readonly file: string;
  readonly dashboard: Dashboard;
}

export function loadDashboards(dir = DASHBOARDS_DIR): LoadedDashboard[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, dashboard: JSON.parse(readFileSync(join(dir, file), 'utf8')) as Dashboard }));
}

/** Every YAML file of a provisioning folder, parsed. */
export function loadYamlFiles(dir: string): { readonly file: string; readonly doc: unknown }[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .sort()
    .map((file) => ({ file, doc: parseYaml(readFileSync(join(dir, file), 'utf8')) as unknown }));
}

/** Panels in reading order, rows' collapsed panels included. */
export function allPanels(panels: readonly Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

export type QueryOrigin = 'panel' | 'variable' | 'annotation';
export interface BoardQuery {
  readonly board: string;
  readonly origin: QueryOrigin;
  /** Panel title, variable name or annotation name, plus the target's refId for panels. */
  readonly where: string;
  readonly query: string;
}

/** Every InfluxQL query a board runs: panel targets, query variables, annotation queries. */
export function boardQueries(d: Dashboard): BoardQuery[] {
  const out: BoardQuery[] = [];
  for (const p of allPanels(d.panels)) {
    for (const t of p.targets ?? []) {
      if (typeof t.query === 'string') out.push({ board: d.uid, origin: 'panel', where: `${p.title} / ${t.refId}`, query: t.query });
    }
  }
  for (const v of d.templating.list) {
    if (v.type === 'query' && typeof v.query === 'string') out.push({ board: d.uid, origin: 'variable', where: v.name, query: v.query });
  }
  for (const a of d.annotations.list) {
    if (typeof a.query === 'string') out.push({ board: d.uid, origin: 'annotation', where: a.name, query: a.query });
  }
  return out;
}

export interface RuleQuery {
  readonly ruleUid: string;
  readonly refId: string;
  readonly datasourceUid: string;
  readonly query: string;
}

interface RuleData {
  readonly refId: string;
  readonly datasourceUid: string;
  readonly model?: { readonly query?: unknown };
}
interface RuleFileDoc {
  readonly groups?: readonly { readonly rules?: readonly { readonly uid: string; readonly data?: readonly RuleData[] }[] }[];
}

/** The datasource queries (not the server-side expressions) of every provisioned alert rule. */
export function ruleQueries(dir = ALERTING_DIR): RuleQuery[] {
  return loadYamlFiles(dir).flatMap(({ doc }) =>
    ((doc as RuleFileDoc).groups ?? []).flatMap((g) =>
      (g.rules ?? []).flatMap((r) =>
        (r.data ?? [])
          .filter((d) => d.datasourceUid !== '__expr__')
          .map((d) => ({ ruleUid: r.uid, refId: d.refId, datasourceUid: d.datasourceUid, query: String(d.model?.query ?? '') })),
      ),
    ),
  );
}

/** Escapes a value for a Go regexp inside InfluxQL's `/.../` delimiters. */
export function escapeInfluxRegex(value: string): string {
  return value.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}

export interface Substitution {
  /** Template variables by name: one value, or several (a multi-value or All selection). */
  readonly variables: Readonly<Record<string, string | readonly string[]>>;
  readonly fromMs: number;
  readonly toMs: number;
  /** What Grafana would pick for `$__interval`, e.g. `10m`. */
  readonly interval: string;
  readonly intervalMs: number;
}

/** The query Grafana would send to InfluxDB for these variable values and time range. */
export function substitute(query: string, s: Substitution): string {
  let q = query
    .replaceAll('$timeFilter', `time >= ${s.fromMs}ms and time <= ${s.toMs}ms`)
    // the global variables of the time range, epoch milliseconds
    .replaceAll('${__from}', String(s.fromMs))
    .replaceAll('${__to}', String(s.toMs))
    .replaceAll('$__interval_ms', String(s.intervalMs))
    .replaceAll('$__interval', s.interval);
  // longest names first so that `$run` never eats the start of a longer name
  const names = Object.keys(s.variables).sort((a, b) => b.length - a.length);
  for (const name of names) {
    const raw = s.variables[name];
    const values = typeof raw === 'string' ? [raw] : [...(raw as readonly string[])];
    const formatted = values.length === 1 ? escapeInfluxRegex(values[0]) : `(${values.map(escapeInfluxRegex).join('|')})`;
    q = q.replaceAll(`\${${name}}`, formatted).replaceAll(`[[${name}]]`, formatted).replace(new RegExp(`\\$${name}(?![A-Za-z0-9_])`, 'g'), () => formatted);
  }
  return q;
}

/** The `$name`, `${name}` or `[[name]]` references left in a query. */
export function unresolvedVariables(query: string): string[] {
  return [...query.matchAll(/\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|\[\[[A-Za-z0-9_]+\]\]/g)].map((m) => m[0]);
}
