import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { z } from 'zod';
import { ConfigSchema, type Config } from './config-schema.ts';
import { MonitorError, ErrorCode } from '../domain/errors.ts';
import { FILE_LIMITS, readStructuredFile } from './read-structured-file.ts';

/**
 * Loads the config once: config/default.yaml (the embedded default), then an optional --config
 * FILE deep-merged over it, then environment overrides (src/config/env.ts). Validation errors name
 * the layer that set the key: `config/local.yaml: kafka.brokers[0]: must be host:port`, or
 * `environment CCM_KAFKA_BROKERS: kafka.brokers[0]: ...`; the CLI exits 2 on them.
 */
export const DEFAULT_CONFIG_PATH = 'config/default.yaml';

type Json = Record<string, unknown>;
interface Layer {
  readonly name: string;
  readonly data: Json;
}

const isPlainObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export function deepMerge(base: Json, over: Json): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(over)) {
    out[k] = isPlainObject(v) && isPlainObject(out[k]) ? deepMerge(out[k] as Json, v) : v;
  }
  return out;
}

async function readLayer(path: string, cwd: string): Promise<Layer> {
  // The file is named as the caller spelled it; read within FILE_LIMITS (a hostile file is one line).
  const parsed = await readStructuredFile(resolve(cwd, path), FILE_LIMITS.configBytes);
  if (!parsed.ok) {
    const problem = parsed.problem.replace(resolve(cwd, path), path);
    throw new MonitorError(problem, { code: ErrorCode.CONFIG_INVALID, problems: [problem] });
  }
  const data = parsed.value ?? {};
  if (!isPlainObject(data)) throw new MonitorError(`${path}: (root): must be a mapping of keys`, { code: ErrorCode.CONFIG_INVALID });
  return { name: path, data };
}

/**
 * `portShiftVariable: NAME` in a config file: the ports of its `kafka.brokers` and `influx.url`
 * move by the integer in that environment variable when it is set. config/local.yaml names
 * CCM_SERVICES_PORT_SHIFT, the variable scripts/services.sh moves its ports by, so the file
 * follows the services of a shifted checkout (docs/services.md).
 */
function withPortShift(layer: Layer, env: NodeJS.ProcessEnv): Layer {
  const { portShiftVariable: variable, ...data } = layer.data;
  if (variable === undefined) return layer;
  if (typeof variable !== 'string' || !/^[A-Z_][A-Z0-9_]*$/.test(variable)) {
    throw new MonitorError(`${layer.name}: portShiftVariable: must name an environment variable`, { code: ErrorCode.CONFIG_INVALID });
  }
  const raw = env[variable];
  if (raw === undefined || raw === '') return { name: layer.name, data };
  const shift = Number(raw);
  if (!Number.isInteger(shift) || shift < 0 || shift > 3_000) {
    throw new MonitorError(`environment ${variable}: must be an integer from 0 to 3000 (named by ${layer.name}: portShiftVariable)`, { code: ErrorCode.CONFIG_INVALID });
  }
  const movePort = (hostPort: string): string => hostPort.replace(/:(\d+)$/, (_, p: string) => `:${Number(p) + shift}`);
  const kafka = isPlainObject(data.kafka) ? data.kafka : undefined;
  const influx = isPlainObject(data.influx) ? data.influx : undefined;
  return {
    name: layer.name,
    data: {
      ...data,
      ...(kafka && Array.isArray(kafka.brokers) ? { kafka: { ...kafka, brokers: kafka.brokers.map((b) => (typeof b === 'string' ? movePort(b) : b)) } } : {}),
      ...(influx && typeof influx.url === 'string' ? { influx: { ...influx, url: influx.url.replace(/:(\d+)(\/?)$/, (_, p: string, slash: string) => `:${Number(p) + shift}${slash}`) } } : {}),
    },
  };
}

/** Environment overrides as one layer per variable, so an error names the variable. */
function envLayers(env: NodeJS.ProcessEnv): Layer[] {
  const layers: Layer[] = [];
  const add = (name: string, data: Json) => layers.push({ name: `environment ${name}`, data });
  const v = (k: string): string | undefined => {
    const x = env[k];
    return x === undefined || x === '' ? undefined : x;
  };
  const brokers = v('CCM_KAFKA_BROKERS');
  if (brokers) add('CCM_KAFKA_BROKERS', { kafka: { enabled: true, brokers: brokers.split(',').map((s) => s.trim()).filter(Boolean) } });
  const prefix = env.CCM_TOPIC_PREFIX;
  if (prefix !== undefined) add('CCM_TOPIC_PREFIX', { kafka: { topicPrefix: prefix } });
  const ssl = v('CCM_KAFKA_SSL');
  if (ssl) add('CCM_KAFKA_SSL', { kafka: { ssl: ssl === 'true' ? true : ssl === 'false' ? false : ssl } });
  const mech = v('CCM_KAFKA_SASL_MECHANISM');
  if (mech) add('CCM_KAFKA_SASL_MECHANISM', { kafka: { sasl: { mechanism: mech, username: env.CCM_KAFKA_SASL_USERNAME ?? '', password: env.CCM_KAFKA_SASL_PASSWORD ?? '' } } });
  const url = v('CCM_INFLUX_URL');
  if (url) add('CCM_INFLUX_URL', { influx: { enabled: true, url } });
  const user = env.CCM_INFLUX_USER;
  if (user !== undefined) add('CCM_INFLUX_USER', { influx: { user } });
  const pw = env.CCM_INFLUX_PASSWORD;
  if (pw !== undefined) add('CCM_INFLUX_PASSWORD', { influx: { password: pw } });
  const db = v('CCM_INFLUX_DB');
  if (db) add('CCM_INFLUX_DB', { influx: { database: db } });
  const mode = v('CCM_MODE');
  if (mode) add('CCM_MODE', { mode });
  const http = v('CCM_HTTP_ADDRESS');
  if (http) {
    const i = http.lastIndexOf(':');
    const port = i > 0 ? Number(http.slice(i + 1)) : NaN;
    add('CCM_HTTP_ADDRESS', { http: { address: i > 0 ? http.slice(0, i) : http, port: Number.isNaN(port) ? http : port } });
  }
  const hook = env.CCM_WEBHOOK_URL;
  if (hook !== undefined) add('CCM_WEBHOOK_URL', { webhook: { url: hook } });
  const inst = v('CCM_INSTANCE_ID');
  if (inst) add('CCM_INSTANCE_ID', { processor: { instanceId: inst } });
  return layers;
}

function hasPath(data: unknown, path: readonly PropertyKey[]): boolean {
  let cur: unknown = data;
  for (const key of path) {
    if (!isPlainObject(cur) && !Array.isArray(cur)) return false;
    if (!(String(key) in (cur as Json))) return false;
    cur = (cur as Json)[String(key)];
  }
  return true;
}

export const formatPath = (path: readonly PropertyKey[]): string =>
  path.length === 0 ? '(root)' : path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');

/** The layer that set a key: the last one whose data holds the longest prefix of the path. */
function blame(layers: readonly Layer[], path: readonly PropertyKey[]): string {
  for (let len = path.length; len >= 1; len--) {
    for (let i = layers.length - 1; i >= 0; i--) if (hasPath(layers[i].data, path.slice(0, len))) return layers[i].name;
  }
  return layers[layers.length - 1]?.name ?? DEFAULT_CONFIG_PATH;
}

export function toConfigProblems(error: z.ZodError, layers: readonly Layer[]): string[] {
  return error.issues.map((issue) => {
    const path = issue.path as PropertyKey[];
    let reason = issue.message;
    if (issue.code === 'unrecognized_keys') {
      const keys = (issue as unknown as { keys: string[] }).keys;
      return keys.map((k) => `${blame(layers, [...path, k])}: ${formatPath([...path, k])}: unknown key`).join('\n');
    }
    if (reason.startsWith('Invalid input: expected')) reason = reason.replace('Invalid input: ', 'must be ').replace('expected ', '');
    return `${blame(layers, path)}: ${formatPath(path)}: ${reason}`;
  });
}

export interface LoadConfigOptions {
  readonly configPath?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Defaults to config/default.yaml; tests may pass another. */
  readonly defaultPath?: string;
}

export async function loadConfig(options: LoadConfigOptions = {}): Promise<Config> {
  const cwd = options.cwd ?? process.cwd();
  const layers: Layer[] = [await readLayer(options.defaultPath ?? DEFAULT_CONFIG_PATH, cwd)];
  if (options.configPath) layers.push(withPortShift(await readLayer(options.configPath, cwd), options.env ?? process.env));
  layers.push(...envLayers(options.env ?? process.env));
  const merged = layers.reduce<Json>((acc, l) => deepMerge(acc, l.data), {});
  const r = ConfigSchema.safeParse(merged);
  if (!r.success) {
    const problems = toConfigProblems(r.error, layers).flatMap((p) => p.split('\n'));
    throw new MonitorError(problems.join('\n'), { code: ErrorCode.CONFIG_INVALID, problems });
  }
  return withCredentialsFile(r.data, cwd);
}

/** Fills an empty InfluxDB user or password from `influx.credentialsFile` (file: key: reason on failure). */
async function withCredentialsFile(config: Config, cwd: string): Promise<Config> {
  const file = config.influx.credentialsFile;
  if (!file || (config.influx.user !== '' && config.influx.password !== '')) return config;
  let text: string;
  try {
    text = await readFile(resolve(cwd, file), 'utf8');
  } catch (cause) {
    const problem = `${file}: influx.credentialsFile: cannot be read (${(cause as Error).message}); start the services with scripts/services.sh up`;
    throw new MonitorError(problem, { code: ErrorCode.CONFIG_INVALID, cause, problems: [problem] });
  }
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(?:export\s+)?([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) values.set(m[1], m[2]);
  }
  return {
    ...config,
    influx: {
      ...config.influx,
      user: config.influx.user || (values.get('INFLUX_USER') ?? ''),
      password: config.influx.password || (values.get('INFLUX_PASSWORD') ?? ''),
    },
  };
}
