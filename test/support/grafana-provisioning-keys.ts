/**
 * The keys Grafana's file provisioning reads, for the pinned Grafana (scripts/versions.env), so a
 * test can reject a misspelt key: Grafana ignores unknown keys silently (they decode into nothing),
 * and a mixed camelCase/snake_case format makes typos easy (`keepFiringFor` but
 * `missing_series_evals_to_resolve`, `orgId` but `group_by`).
 *
 * Sources (grafana/grafana at the 12.1/12.2 line):
 * - dashboards provider: pkg/services/provisioning/dashboards/types.go (`configVersion`, `configV1`,
 *   `configs`) and the `path` / `foldersFromFilesStructure` options of file_reader.go;
 * - alerting file: pkg/services/provisioning/alerting/types.go (`AlertingFileV1`);
 * - rule groups and rules: pkg/services/provisioning/alerting/rules_types.go (`AlertRuleGroupV1`,
 *   `AlertRuleV1`, `QueryV1`, `NotificationSettingsV1`, `RecordV1`);
 * - contact points: pkg/services/provisioning/alerting/contact_point_types.go (`ContactPointV1`,
 *   `ReceiverV1`); webhook settings: grafana/alerting receivers/webhook/config.go (`rawSettings`);
 * - policies: pkg/services/provisioning/alerting/notification_policy_types.go (orgId + the JSON
 *   fields of definitions.Route in pkg/services/ngalert/api/tooling/definitions);
 * - query models: pkg/tsdb/influxdb/models (InfluxQL raw query), pkg/expr/commands.go and
 *   pkg/expr/threshold.go (reduce and threshold expressions);
 * - datasources: pkg/services/provisioning/datasources/types.go (`upsertDataSourceFromConfigV1`).
 */

/** A value whose keys are not checked (labels, annotations, free maps). */
export type KeySchema =
  | { readonly kind: 'scalar' }
  | { readonly kind: 'open' }
  | { readonly kind: 'object'; readonly keys: Readonly<Record<string, KeySchema>> }
  | { readonly kind: 'list'; readonly of: KeySchema };

const scalar: KeySchema = { kind: 'scalar' };
const open: KeySchema = { kind: 'open' };
const object = (keys: Record<string, KeySchema>): KeySchema => ({ kind: 'object', keys });
const list = (of: KeySchema): KeySchema => ({ kind: 'list', of });
const scalars = (...names: string[]): Record<string, KeySchema> => Object.fromEntries(names.map((n) => [n, scalar]));

/** The Grafana version these key sets were read from; see MIN_VERSION_BY_KEY for newer keys. */
export const VALIDATED_GRAFANA_VERSION = '12.1.2';

/**
 * Keys that an older Grafana ignores silently. keepFiringFor and missing_series_evals_to_resolve
 * were only read from provisioning files from 12.1.2 (grafana/grafana#109699, backport #109710;
 * before that, grafana/grafana#109367: "Alert rule provisioning via files does not seem to apply
 * keepFiringFor").
 */
export const MIN_VERSION_BY_KEY: Readonly<Record<string, string>> = {
  keepFiringFor: '12.1.2',
  missing_series_evals_to_resolve: '12.1.2',
};

export const DASHBOARD_PROVIDER_FILE: KeySchema = object({
  apiVersion: scalar,
  providers: list(
    object({
      ...scalars('name', 'type', 'orgId', 'folder', 'folderUid', 'editable', 'disableDeletion', 'updateIntervalSeconds', 'allowUiUpdates'),
      options: object(scalars('path', 'foldersFromFilesStructure')),
    }),
  ),
});

const relativeTimeRange = object(scalars('from', 'to'));
const datasourceRef = object(scalars('type', 'uid'));

/** The union of the InfluxQL query model and the server-side expression models used in rules. */
const queryModel = object({
  ...scalars('refId', 'hide', 'intervalMs', 'maxDataPoints', 'queryType'),
  datasource: datasourceRef,
  // InfluxQL (raw mode)
  ...scalars('rawQuery', 'resultFormat', 'query', 'alias'),
  // expressions: reduce, math, threshold, resample
  ...scalars('type', 'expression', 'reducer', 'window', 'downsampler', 'upsampler'),
  settings: object(scalars('mode', 'replaceWithValue')),
  conditions: list(
    object({
      evaluator: object(scalars('type', 'params')),
      unloadEvaluator: object(scalars('type', 'params')),
      operator: object(scalars('type')),
      query: object(scalars('params')),
      reducer: object(scalars('type', 'params')),
    }),
  ),
});

const alertRule = object({
  ...scalars('uid', 'title', 'condition', 'dasboardUid', 'dashboardUid', 'panelId', 'noDataState', 'execErrState', 'for', 'keepFiringFor', 'missing_series_evals_to_resolve', 'isPaused'),
  data: list(
    object({
      ...scalars('refId', 'queryType', 'datasourceUid'),
      relativeTimeRange,
      model: queryModel,
    }),
  ),
  annotations: open,
  labels: open,
  notification_settings: object(scalars('receiver', 'group_by', 'group_wait', 'group_interval', 'repeat_interval', 'mute_time_intervals', 'active_time_intervals')),
  record: object(scalars('metric', 'from', 'targetDatasourceUid')),
});

const webhookSettings = object(
  scalars('url', 'httpMethod', 'maxAlerts', 'authorization_scheme', 'authorization_credentials', 'username', 'password', 'title', 'message', 'tlsConfig'),
);

/** Receiver settings by contact point type (only the types this project provisions). */
export const RECEIVER_SETTINGS_BY_TYPE: Readonly<Record<string, KeySchema>> = { webhook: webhookSettings };

const routeKeys = scalars('receiver', 'group_by', 'match', 'match_re', 'matchers', 'object_matchers', 'mute_time_intervals', 'active_time_intervals', 'continue', 'group_wait', 'group_interval', 'repeat_interval');
/** A policy's fields; `routes` nest the same fields (checked to a depth far beyond ours). */
const routeFields = (depth: number): Record<string, KeySchema> =>
  depth === 0 ? routeKeys : { ...routeKeys, routes: list(object(routeFields(depth - 1))) };

export const ALERTING_FILE: KeySchema = object({
  apiVersion: scalar,
  groups: list(object({ ...scalars('orgId', 'name', 'folder', 'interval'), rules: list(alertRule) })),
  deleteRules: list(object(scalars('uid', 'orgId'))),
  contactPoints: list(
    object({
      ...scalars('orgId', 'name'),
      // settings are checked per receiver type by unknownReceiverSettings
      receivers: list(object({ ...scalars('uid', 'type', 'disableResolveMessage'), settings: open })),
    }),
  ),
  deleteContactPoints: list(object(scalars('orgId', 'uid'))),
  policies: list(object({ orgId: scalar, ...routeFields(4) })),
  resetPolicies: list(scalar),
  muteTimes: open,
  deleteMuteTimes: open,
  templates: list(object(scalars('orgId', 'name', 'template'))),
  deleteTemplates: list(object(scalars('orgId', 'name'))),
});

export const DATASOURCE_FILE: KeySchema = object({
  apiVersion: scalar,
  datasources: list(
    object({
      ...scalars('name', 'type', 'access', 'orgId', 'uid', 'url', 'user', 'database', 'basicAuth', 'basicAuthUser', 'withCredentials', 'isDefault', 'version', 'editable'),
      jsonData: open,
      // secrets (InfluxDB `password`) belong here: the top-level password keys are gone since v9
      secureJsonData: open,
      correlations: open,
    }),
  ),
  deleteDatasources: list(object(scalars('name', 'orgId'))),
  prune: scalar,
});

/** Every path below `value` whose key `schema` does not know, as `a.b[0].c`. */
export function unknownKeys(value: unknown, schema: KeySchema, path = ''): string[] {
  switch (schema.kind) {
    case 'scalar':
    case 'open':
      return [];
    case 'list':
      return Array.isArray(value) ? value.flatMap((v, i) => unknownKeys(v, schema.of, `${path}[${i}]`)) : [];
    case 'object': {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return [];
      return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => {
        const at = path === '' ? k : `${path}.${k}`;
        const child = schema.keys[k];
        return child === undefined ? [at] : unknownKeys(v, child, at);
      });
    }
  }
}

/** Every key (at any depth) that appears in `value`, for the minimum-version check. */
export function allKeys(value: unknown): Set<string> {
  const out = new Set<string>();
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object') {
      for (const [k, child] of Object.entries(v as Record<string, unknown>)) {
        out.add(k);
        walk(child);
      }
    }
  };
  walk(value);
  return out;
}

/** Compares dotted versions numerically (`12.1.10` > `12.1.2`); a missing part counts as 0. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
