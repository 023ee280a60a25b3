/**
 * Where the real services of scripts/services.sh answer, for integration and fault tests.
 *
 * Instance `default` is read from CCM_KAFKA_BROKERS, CCM_INFLUX_URL, CCM_INFLUX_USER,
 * CCM_INFLUX_PASSWORD, CCM_INFLUX_DB; instance `fault` from the same names with the CCM_FAULT_
 * prefix (what `scripts/services.sh env --instance fault` prints), so both can be exported at once.
 * When the variables are absent, the values come from `scripts/services.sh env` itself (it reads
 * the ports and generated credentials under .cache/<instance>/), so a plain `npx vitest run` works
 * once the services are up. Nothing here checks that they answer: the global setups do.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type ServiceInstance = 'default' | 'fault';

export interface ServiceEnv {
  readonly kafkaBrokers: string[];
  readonly influxUrl: string;
  readonly influxUser: string;
  readonly influxPassword: string;
  readonly influxDb: string;
}

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SERVICES_SCRIPT = join(REPO_ROOT, 'scripts', 'services.sh');

const PREFIX: Record<ServiceInstance, string> = { default: 'CCM_', fault: 'CCM_FAULT_' };
const KEYS = ['KAFKA_BROKERS', 'INFLUX_URL', 'INFLUX_USER', 'INFLUX_PASSWORD', 'INFLUX_DB'] as const;
type Key = (typeof KEYS)[number];

/** The commands that start an instance and export its variables, for error messages. */
export function startHint(instance: ServiceInstance): string {
  const flag = instance === 'default' ? '' : ` --instance ${instance}`;
  return `start them with \`scripts/services.sh up${flag}\` and export their addresses with \`eval "$(scripts/services.sh env${flag})"\``;
}

/** Parses `export NAME=value` / `NAME=value` lines as printed by `scripts/services.sh env`. */
export function parseEnvLines(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^(?:export\s+)?([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) out[m[1]] = m[2];
  }
  return out;
}

function fromScript(instance: ServiceInstance): Record<string, string> {
  try {
    const text = execFileSync('bash', [SERVICES_SCRIPT, 'env', '--instance', instance], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return parseEnvLines(text);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new Error(`no ${PREFIX[instance]}* variables and \`scripts/services.sh env --instance ${instance}\` failed${stderr ? ` (${stderr})` : ''}: ${startHint(instance)}`, { cause: err });
  }
}

/** Connection settings of a services.sh instance: environment first, else `services.sh env`. */
export function serviceEnv(instance: ServiceInstance = 'default', env: NodeJS.ProcessEnv = process.env): ServiceEnv {
  const prefix = PREFIX[instance];
  const hasAll = KEYS.every((k) => (env[prefix + k] ?? '') !== '');
  const source: Record<string, string | undefined> = hasAll ? env : fromScript(instance);
  const get = (k: Key): string => {
    const v = source[prefix + k];
    if (v === undefined || v === '') throw new Error(`${prefix}${k} is not set: ${startHint(instance)}`);
    return v;
  };
  return {
    kafkaBrokers: get('KAFKA_BROKERS').split(',').map((b) => b.trim()).filter((b) => b !== ''),
    influxUrl: get('INFLUX_URL'),
    influxUser: get('INFLUX_USER'),
    influxPassword: get('INFLUX_PASSWORD'),
    influxDb: get('INFLUX_DB'),
  };
}

/**
 * A name no other test or run shares, for a test's topic prefix (`<result>.` + topic) and its
 * InfluxDB run tag: `t-<name>-<random>`, using only characters valid in both Kafka topic names
 * and InfluxDB tag values ([A-Za-z0-9_-]), short enough for Kafka's 249-character limit.
 */
export function uniquePrefix(name: string): string {
  const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40) || 'test';
  return `t-${slug}-${randomBytes(5).toString('hex')}`;
}

/**
 * Checks that Kafka and InfluxDB of an instance answer: kafkajs describeCluster on the brokers,
 * InfluxDB /ping and an authenticated query that sees the database. Throws one Error that lists
 * what failed and says how to start the services (STYLE.md 13: a missing service is a failure).
 */
export async function assertServicesAnswer(instance: ServiceInstance): Promise<ServiceEnv> {
  const env = serviceEnv(instance);
  const problems: string[] = [];

  const { Kafka, logLevel } = await import('kafkajs');
  const admin = new Kafka({
    clientId: `ccm-test-setup-${instance}`,
    brokers: env.kafkaBrokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    retry: { retries: 2, initialRetryTime: 300 },
  }).admin();
  try {
    await admin.connect();
    await admin.describeCluster();
  } catch (err) {
    problems.push(`Kafka at ${env.kafkaBrokers.join(',')} does not answer (${err instanceof Error ? err.message : String(err)})`);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }

  try {
    const ping = await fetch(new URL('/ping', env.influxUrl), { signal: AbortSignal.timeout(5000) });
    if (ping.status !== 204) throw new Error(`/ping answered HTTP ${ping.status}`);
    const query = new URL('/query', env.influxUrl);
    query.searchParams.set('q', 'SHOW DATABASES');
    const auth = Buffer.from(`${env.influxUser}:${env.influxPassword}`).toString('base64');
    const res = await fetch(query, { headers: { authorization: `Basic ${auth}` }, signal: AbortSignal.timeout(5000) });
    const body = await res.text();
    if (res.status !== 200) throw new Error(`authenticated query answered HTTP ${res.status}: ${body.trim()}`);
    if (!body.includes(`"${env.influxDb}"`)) throw new Error(`database ${env.influxDb} does not exist`);
  } catch (err) {
    problems.push(`InfluxDB at ${env.influxUrl} does not answer (${err instanceof Error ? err.message : String(err)})`);
  }

  if (problems.length > 0) {
    throw new Error(`services of instance '${instance}' are not available: ${problems.join('; ')}. ${startHint(instance)[0].toUpperCase()}${startHint(instance).slice(1)}.`);
  }
  return env;
}
