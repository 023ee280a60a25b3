/**
 * Static checks of everything Grafana provisions from grafana/: Grafana cannot run here, and it
 * ignores a misspelt key silently, so these tests stand in for "start Grafana and look".
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIELD, MEASUREMENT, TAG } from '../../src/sink/measurements.ts';
import {
  ALERTING_FILE,
  DASHBOARD_PROVIDER_FILE,
  DATASOURCE_FILE,
  MIN_VERSION_BY_KEY,
  RECEIVER_SETTINGS_BY_TYPE,
  allKeys,
  compareVersions,
  unknownKeys,
} from '../support/grafana-provisioning-keys.ts';
import { ALERTING_DIR, GRAFANA_DIR, allPanels, boardQueries, loadDashboards, loadYamlFiles, ruleQueries, substitute, unresolvedVariables } from '../support/grafana-queries.ts';

const REPO = new URL('../../', import.meta.url).pathname;
const DASHBOARD_PROVISIONING_DIR = join(GRAFANA_DIR, 'provisioning', 'dashboards');
const DATASOURCES_DIR = join(GRAFANA_DIR, 'provisioning', 'datasources');
const DATASOURCE = { type: 'influxdb', uid: 'ccm-influxdb' } as const;

const boards = loadDashboards();
const alerting = loadYamlFiles(ALERTING_DIR);

interface Rule {
  readonly uid: string;
  readonly title: string;
  readonly condition: string;
  readonly for?: string;
  readonly keepFiringFor?: string;
  readonly noDataState?: string;
  readonly execErrState?: string;
  readonly dashboardUid?: string;
  readonly panelId?: number;
  readonly labels?: Record<string, string>;
  readonly data: readonly { readonly refId: string; readonly datasourceUid: string; readonly model: Record<string, unknown> }[];
}
interface Route {
  readonly receiver?: string;
  readonly group_by?: readonly string[];
  readonly routes?: readonly Route[];
}
interface AlertingDoc {
  readonly groups?: readonly { readonly name: string; readonly folder: string; readonly interval: string; readonly rules: readonly Rule[] }[];
  readonly contactPoints?: readonly { readonly name: string; readonly receivers: readonly { readonly uid: string; readonly type: string; readonly settings: Record<string, unknown> }[] }[];
  readonly policies?: readonly Route[];
}
const docs = alerting.map((a) => a.doc as AlertingDoc);
const rules = docs.flatMap((d) => (d.groups ?? []).flatMap((g) => g.rules));
const contactPoints = docs.flatMap((d) => d.contactPoints ?? []);
const policies = docs.flatMap((d) => d.policies ?? []);

/** The Grafana version docker-compose runs: GRAFANA_VERSION, else the tag of GRAFANA_IMAGE, in scripts/versions.env. */
function pinnedGrafanaVersion(): string | undefined {
  const path = join(REPO, 'scripts', 'versions.env');
  if (!existsSync(path)) return undefined;
  const vars = Object.fromEntries(
    readFileSync(path, 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#') && l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  return vars.GRAFANA_VERSION ?? (vars.GRAFANA_IMAGE as string | undefined)?.split(':')[1];
}

describe('provisioning files use only keys the pinned Grafana reads', () => {
  it('flags a misspelt key, so a silently ignored setting cannot pass', () => {
    const file = { apiVersion: 1, groups: [{ name: 'g', folder: 'f', interval: '1m', rules: [{ uid: 'r', keepFiringfor: '5m' }] }] };
    expect(unknownKeys(file, ALERTING_FILE)).toEqual(['groups[0].rules[0].keepFiringfor']);
  });

  it('the dashboard provider file has only known keys', () => {
    const files = loadYamlFiles(DASHBOARD_PROVISIONING_DIR);
    expect(files.length).toBeGreaterThan(0);
    for (const { file, doc } of files) expect(unknownKeys(doc, DASHBOARD_PROVIDER_FILE), file).toEqual([]);
  });

  it('the alerting files (rules, contact points, policies) have only known keys', () => {
    expect(alerting.length).toBeGreaterThan(0);
    for (const { file, doc } of alerting) expect(unknownKeys(doc, ALERTING_FILE), file).toEqual([]);
    for (const cp of contactPoints) {
      for (const r of cp.receivers) {
        const schema = RECEIVER_SETTINGS_BY_TYPE[r.type];
        expect(schema, `receiver type ${r.type} has a known settings schema`).toBeDefined();
        expect(unknownKeys(r.settings, schema), `${cp.name}/${r.uid}`).toEqual([]);
      }
    }
  });

  it('the datasource file has only known keys and provisions the InfluxDB datasource every query names', () => {
    const files = existsSync(DATASOURCES_DIR) ? loadYamlFiles(DATASOURCES_DIR) : [];
    expect(files.length, 'grafana/provisioning/datasources/*.yaml provisions the datasource uid ccm-influxdb').toBeGreaterThan(0);
    for (const { file, doc } of files) expect(unknownKeys(doc, DATASOURCE_FILE), file).toEqual([]);
    const sources = files.flatMap(({ doc }) => (doc as { datasources?: { uid?: string; type?: string; jsonData?: { dbName?: string } }[] }).datasources ?? []);
    const influx = sources.find((s) => s.uid === DATASOURCE.uid);
    expect(influx?.type).toBe(DATASOURCE.type);
    expect(influx?.jsonData?.dbName).toBe('ccm');
  });

  it('the pinned Grafana is recent enough for every version-dependent key the files use', () => {
    const version = pinnedGrafanaVersion();
    expect(version, 'scripts/versions.env pins GRAFANA_VERSION or GRAFANA_IMAGE').toBeDefined();
    const used = new Set([...alerting, ...loadYamlFiles(DASHBOARD_PROVISIONING_DIR)].flatMap(({ doc }) => [...allKeys(doc)]));
    const tooNew = Object.entries(MIN_VERSION_BY_KEY)
      .filter(([key, min]) => used.has(key) && compareVersions(version as string, min) < 0)
      .map(([key, min]) => `${key} needs Grafana >= ${min}, pinned ${version}`);
    expect(tooNew).toEqual([]);
  });
});

describe('dashboards', () => {
  it('there are the five boards of the issue and the Contagion board, each with a unique uid', () => {
    const uids = boards.map((b) => b.dashboard.uid);
    expect(new Set(uids).size).toBe(uids.length);
    expect([...uids].sort()).toEqual(['ccm-contagion', 'ccm-credit-overview', 'ccm-data-quality', 'ccm-entity-detail', 'ccm-market', 'ccm-portfolio']);
  });

  it('each board uses a schema version the pinned Grafana migrates without loss (39 to 41)', () => {
    for (const { file, dashboard } of boards) {
      expect(dashboard.schemaVersion, file).toBeGreaterThanOrEqual(39);
      expect(dashboard.schemaVersion, file).toBeLessThanOrEqual(41);
    }
  });

  it('panel ids are unique within each board', () => {
    for (const { file, dashboard } of boards) {
      const ids = allPanels(dashboard.panels).map((p) => p.id);
      expect(new Set(ids).size, file).toBe(ids.length);
    }
  });

  it('every panel, target, variable and annotation with a query names the provisioned InfluxDB datasource and a raw query', () => {
    for (const { file, dashboard } of boards) {
      for (const p of allPanels(dashboard.panels)) {
        if (p.targets === undefined) continue;
        expect(p.datasource, `${file} ${p.title}`).toEqual(DATASOURCE);
        for (const t of p.targets) {
          expect(t.datasource, `${file} ${p.title} ${t.refId}`).toEqual(DATASOURCE);
          expect(t.rawQuery, `${file} ${p.title} ${t.refId}`).toBe(true);
          expect(typeof t.query === 'string' && t.query.startsWith('SELECT '), `${file} ${p.title} ${t.refId}`).toBe(true);
        }
      }
      for (const v of dashboard.templating.list.filter((x) => x.type === 'query')) expect(v.datasource, `${file} $${v.name}`).toEqual(DATASOURCE);
      for (const a of dashboard.annotations.list.filter((x) => x.query !== undefined)) expect(a.datasource, `${file} ${a.name}`).toEqual(DATASOURCE);
    }
  });

  it('every board has the $run variable listing the runs of the index measurement, and says that demo runs are simulated', () => {
    for (const { file, dashboard } of boards) {
      const run = dashboard.templating.list.find((v) => v.name === 'run');
      expect(run?.query, file).toBe('SHOW TAG VALUES FROM "index" WITH KEY = "run"');
      expect(run?.description, file).toMatch(/demo.*SIMULATED/);
      const banner = allPanels(dashboard.panels).find((p) => p.type === 'text');
      expect(String((banner?.options as { content?: string } | undefined)?.content), file).toMatch(/`demo`.*SIMULATED/);
    }
  });

  it('the overview has a $lender variable and the entity board an $entity variable', () => {
    const byUid = new Map(boards.map((b) => [b.dashboard.uid, b.dashboard]));
    expect(byUid.get('ccm-credit-overview')?.templating.list.map((v) => v.name)).toContain('lender');
    expect(byUid.get('ccm-entity-detail')?.templating.list.map((v) => v.name)).toContain('entity');
  });

  it('every query filters on the run and uses only variables its board declares', () => {
    for (const { file, dashboard } of boards) {
      const declared = dashboard.templating.list.map((v) => v.name);
      for (const q of boardQueries(dashboard)) {
        if (!(q.origin === 'variable' && q.where === 'run')) expect(q.query, `${file} ${q.where}`).toContain('"run" =~ /^$run$/');
        const sent = substitute(q.query, { variables: Object.fromEntries(declared.map((n) => [n, 'x'])), fromMs: 0, toMs: 1, interval: '1m', intervalMs: 60_000 });
        expect(unresolvedVariables(sent), `${file} ${q.where}`).toEqual([]);
      }
    }
  });

  it('the entity board draws each facility against its own covenant fields, not constants', () => {
    const entity = boards.find((b) => b.dashboard.uid === 'ccm-entity-detail')?.dashboard;
    const ltvPanel = allPanels(entity?.panels ?? []).find((p) => p.repeat === 'facility');
    const q = ltvPanel?.targets?.[0]?.query ?? '';
    for (const field of ['ltv_warn', 'ltv_margin_call', 'ltv_liquidation', 'ltv_in_12m']) expect(q).toContain(`"${field}"`);
  });
});

describe('alert rules', () => {
  it('rule uids are unique and each condition names one of its own queries', () => {
    const uids = rules.map((r) => r.uid);
    expect(uids.length).toBeGreaterThan(0);
    expect(new Set(uids).size).toBe(uids.length);
    for (const r of rules) expect(r.data.map((d) => d.refId), r.uid).toContain(r.condition);
  });

  it('no rule query contains $: rules cannot use dashboard variables', () => {
    const queries = ruleQueries();
    expect(queries.length).toBe(rules.length);
    for (const q of queries) expect(q.query, q.ruleUid).not.toContain('$');
  });

  it('each rule reads a processor status field of the live run over its own time range', () => {
    for (const q of ruleQueries()) {
      expect(q.datasourceUid).toBe(DATASOURCE.uid);
      expect(q.query, q.ruleUid).toContain(`"run" = 'live'`);
      expect(q.query, q.ruleUid).toMatch(/time > now\(\) - \d+m/);
      expect(q.query, q.ruleUid).toMatch(/last\("(status_level|dscr_breach|stale|default_round)"\)/);
    }
    const read = new Set(ruleQueries().map((q) => /last\("(\w+)"\)/.exec(q.query)?.[1]));
    expect([...read].sort()).toEqual(['default_round', 'dscr_breach', 'stale', 'status_level']);
  });

  it('every expression and query names a datasource that exists: the InfluxDB one or the expression engine', () => {
    for (const r of rules) for (const d of r.data) expect(['__expr__', DATASOURCE.uid], `${r.uid}/${d.refId}`).toContain(d.datasourceUid);
  });

  it('each rule chooses its pending period, keep-firing period and no-data and error handling explicitly', () => {
    const duration = /^\d+[smh]$/;
    for (const r of rules) {
      expect(r.for, r.uid).toMatch(duration);
      expect(r.keepFiringFor, r.uid).toMatch(duration);
      expect(['Alerting', 'NoData', 'OK', 'KeepLast'], r.uid).toContain(r.noDataState);
      expect(['Alerting', 'Error', 'OK', 'KeepLast'], r.uid).toContain(r.execErrState);
      expect(['critical', 'warning'], r.uid).toContain(r.labels?.severity);
    }
  });

  it('each rule links to a provisioned board and panel', () => {
    const panelsByBoard = new Map(boards.map((b) => [b.dashboard.uid, allPanels(b.dashboard.panels).map((p) => p.id)]));
    for (const r of rules) {
      expect(panelsByBoard.get(r.dashboardUid ?? ''), r.uid).toContain(r.panelId);
    }
  });

  it('the notification policy groups by entity and routes only to provisioned contact points', () => {
    expect(policies.length).toBe(1);
    const receivers = new Set(contactPoints.map((c) => c.name));
    const walk = (r: Route): void => {
      expect(receivers, `route receiver ${r.receiver}`).toContain(r.receiver);
      expect(r.group_by).toContain('entity');
      (r.routes ?? []).forEach(walk);
    };
    walk(policies[0]);
  });

  it('the contact point is a webhook whose URL comes from the environment', () => {
    const webhooks = contactPoints.flatMap((c) => c.receivers).filter((r) => r.type === 'webhook');
    expect(webhooks.length).toBeGreaterThan(0);
    for (const w of webhooks) expect(w.settings.url).toBe('$CCM_ALERT_WEBHOOK_URL');
  });
});

describe('queries and the InfluxDB schema of src/sink/measurements.ts', () => {
  // Requested from src/sink (docs/grafana.md): the Market board's rental-to-resale spread, one point
  // per GPU model and conflation window; until it is written the panel stays empty.
  const PENDING = { measurements: ['spread'], fields: ['rental_usd_per_gpu_hour', 'resale_usd_per_unit', 'rental_yield_annual'] };

  it('every measurement, tag and field a query names is in the sink schema (or listed as pending)', () => {
    const measurements = new Set<string>([...Object.values(MEASUREMENT), ...PENDING.measurements]);
    const names = new Set<string>([...Object.values(TAG), ...Object.values(FIELD), ...PENDING.fields]);
    const unknown: string[] = [];
    const queries = [...boards.flatMap((b) => boardQueries(b.dashboard)).map((q) => q.query), ...ruleQueries().map((q) => q.query)];
    for (const query of queries) {
      // each double-quoted identifier in turn: after FROM a measurement, after AS an alias, else a tag or field
      for (const m of query.matchAll(/"([^"]+)"/g)) {
        const before = query.slice(0, m.index);
        if (/FROM\s*$/.test(before)) {
          if (!measurements.has(m[1])) unknown.push(`measurement ${m[1]} in ${query}`);
        } else if (!/AS\s*$/.test(before) && !names.has(m[1])) unknown.push(`${m[1]} in ${query}`);
      }
    }
    expect(unknown).toEqual([]);
  });
});
