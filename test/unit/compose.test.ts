/**
 * docker-compose.yml, the Dockerfile, .env.example and the Grafana datasource are checked as
 * files (there is no Docker engine in CI): pinned images equal scripts/versions.env (the versions
 * scripts/services.sh runs in tests), every service has a healthcheck and waits for healthy
 * dependencies, the monitor is pointed at the listener Kafka advertises, and every variable is
 * one that someone reads or that .env.example documents.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ENV_VARS } from '../../src/config/env.ts';
import { REPO_ROOT } from '../support/services.ts';

type Json = Record<string, unknown>;

interface ComposeService {
  readonly image?: string;
  readonly build?: { readonly context: string; readonly args?: Record<string, string> };
  readonly environment?: Record<string, string | number | boolean>;
  readonly healthcheck?: { readonly test: string[] | string };
  readonly depends_on?: Record<string, { readonly condition: string }> | string[];
  readonly volumes?: string[];
}

const read = (rel: string): string => readFileSync(join(REPO_ROOT, rel), 'utf8');
const composeText = read('docker-compose.yml');
const compose = parseYaml(composeText) as { services: Record<string, ComposeService>; volumes?: Json };
const services = compose.services;

/** KEY=value lines (scripts/versions.env, .env.example); comments and blank lines ignored. */
function readKeyValues(rel: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of read(rel).split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) out[m[1]] = m[2];
  }
  return out;
}
const versions = readKeyValues('scripts/versions.env');
const envExample = readKeyValues('.env.example');

/** Every `${NAME...}` compose interpolates, with the operator that follows the name (`:?`, `:-`, or none). */
function interpolations(text: string): { name: string; op: string }[] {
  return [...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?+])?/g)].map((m) => ({ name: m[1], op: m[2] ?? '' }));
}

const env = (service: string): Record<string, string> =>
  Object.fromEntries(Object.entries(services[service]?.environment ?? {}).map(([k, v]) => [k, String(v)]));

/** The monitor's configuration variables: src/config/env.ts, the one list its loader reads. */
const monitorVars = new Set(Object.keys(ENV_VARS));

describe('docker-compose.yml', () => {
  it('defines kafka, influxdb, grafana and the monitor', () => {
    expect(Object.keys(services).sort()).toEqual(['ccm', 'grafana', 'influxdb', 'kafka']);
  });

  it('runs the same pinned Kafka version as scripts/services.sh', () => {
    const version = versions.KAFKA_VERSION;
    expect(version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(services.kafka.image).toBe(`apache/kafka:${version}`);
    expect(versions.KAFKA_IMAGE).toBe(`apache/kafka:${version}`);
    // the Maven profile (scripts/kafka/pom.xml) must fit the major version: log4j2 for 4.x, reload4j for 3.x
    expect(versions.KAFKA_MAVEN_PROFILE).toBe(`kafka${version.split('.')[0]}`);
    // services.sh takes its version from versions.env and hard-codes none of its own
    const script = read('scripts/services.sh');
    expect(script).toContain('source "$ROOT/scripts/versions.env"');
    expect(script).not.toMatch(/KAFKA_VERSION=\S/);
  });

  it('pins InfluxDB, Grafana and the Node base image to the values in scripts/versions.env', () => {
    expect(services.influxdb.image).toBe(versions.INFLUXDB_IMAGE);
    expect(versions.INFLUXDB_IMAGE).toBe('influxdb:1.8');
    expect(services.grafana.image).toBe(versions.GRAFANA_IMAGE);
    expect(versions.GRAFANA_IMAGE).toMatch(/^grafana\/grafana:\d+\.\d+\.\d+$/);
    expect(services.ccm.build?.args?.NODE_IMAGE).toBe(versions.NODE_IMAGE);
    expect(read('Dockerfile')).toContain(`ARG NODE_IMAGE=${versions.NODE_IMAGE}\n`);
  });

  it('uses no unpinned image', () => {
    for (const [name, svc] of Object.entries(services)) {
      if (svc.image === undefined) continue;
      expect(svc.image, name).toMatch(/^[a-z0-9./-]+:[A-Za-z0-9._-]+$/);
      expect(svc.image, name).not.toMatch(/:latest$/);
    }
  });

  it('gives every service a healthcheck', () => {
    for (const [name, svc] of Object.entries(services)) {
      const test = svc.healthcheck?.test;
      expect(test, name).toBeDefined();
      expect(Array.isArray(test) ? test.length : String(test).length, name).toBeGreaterThan(1);
    }
  });

  it('starts a service only after its dependencies report healthy', () => {
    let edges = 0;
    for (const [name, svc] of Object.entries(services)) {
      if (svc.depends_on === undefined) continue;
      expect(Array.isArray(svc.depends_on), `${name}: depends_on must be a map with conditions`).toBe(false);
      for (const [dep, spec] of Object.entries(svc.depends_on as Record<string, { condition: string }>)) {
        edges++;
        expect(spec.condition, `${name} -> ${dep}`).toBe('service_healthy');
        expect(services[dep]?.healthcheck, `${dep} has a healthcheck`).toBeDefined();
      }
    }
    expect(Object.keys(services.ccm.depends_on ?? {}).sort()).toEqual(['influxdb', 'kafka']);
    expect(edges).toBeGreaterThanOrEqual(3);
  });

  it('points the monitor at the listener that Kafka advertises and at InfluxDB inside the network', () => {
    const advertised = env('kafka').KAFKA_ADVERTISED_LISTENERS.split(',').map((l) => l.replace(/^[A-Z_]+:\/\//, ''));
    const brokers = env('ccm').CCM_KAFKA_BROKERS.split(',');
    expect(brokers.length).toBeGreaterThan(0);
    for (const broker of brokers) expect(advertised).toContain(broker);
    const [host, port] = brokers[0].split(':');
    expect(host).toBe('kafka');
    expect(env('kafka').KAFKA_LISTENERS).toContain(`:${port}`);
    expect(env('kafka').KAFKA_CONTROLLER_QUORUM_VOTERS).toMatch(/^1@kafka:\d+$/);
    expect(env('ccm').CCM_INFLUX_URL).toBe('http://influxdb:8086');
    expect(env('ccm').CCM_INFLUX_DB).toBe(env('influxdb').INFLUXDB_DB);
    expect(env('ccm').CCM_MODE).toBe('live');
  });

  it('configures Kafka as the tests do: no auto-created topics, far-future timestamps accepted', () => {
    expect(env('kafka').KAFKA_AUTO_CREATE_TOPICS_ENABLE).toBe('false');
    expect(env('kafka').KAFKA_LOG_MESSAGE_TIMESTAMP_AFTER_MAX_MS).toBe('9223372036854775807');
    expect(env('kafka').KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR).toBe('1');
    const template = read('scripts/kafka/server.properties.template');
    expect(template).toContain('auto.create.topics.enable=false');
    expect(template).toContain('log.message.timestamp.after.max.ms=9223372036854775807');
  });

  it('turns InfluxDB auth on and gives the monitor the admin user and Grafana the read-only user', () => {
    expect(env('influxdb').INFLUXDB_HTTP_AUTH_ENABLED).toBe('true');
    expect(env('ccm').CCM_INFLUX_USER).toBe(env('influxdb').INFLUXDB_ADMIN_USER);
    expect(env('ccm').CCM_INFLUX_PASSWORD).toBe(env('influxdb').INFLUXDB_ADMIN_PASSWORD);
    expect(env('grafana').CCM_INFLUX_USER).toBe(env('influxdb').INFLUXDB_READ_USER);
    expect(env('grafana').CCM_INFLUX_PASSWORD).toBe(env('influxdb').INFLUXDB_READ_USER_PASSWORD);
  });

  it('gives the monitor only environment variables that it reads', () => {
    const given = Object.keys(env('ccm'));
    expect(given.length).toBeGreaterThan(0);
    for (const name of given) expect(monitorVars.has(name), `${name} is not in src/config/env.ts ENV_VARS`).toBe(true);
  });

  it('lists every variable it interpolates in .env.example, and nothing else there', () => {
    const used = new Set(interpolations(composeText).map((i) => i.name));
    for (const name of used) expect(Object.keys(envExample), `${name} missing from .env.example`).toContain(name);
    for (const name of Object.keys(envExample)) expect(used.has(name), `${name} in .env.example is unused`).toBe(true);
  });

  it('has no default for any password or secret: compose refuses to start without them', () => {
    const secrets = interpolations(composeText).filter((i) => /PASSWORD/.test(i.name));
    expect(secrets.length).toBeGreaterThanOrEqual(3);
    for (const s of secrets) expect(s.op, s.name).toBe(':?');
    for (const [name, value] of Object.entries(envExample)) if (/PASSWORD|SECRET|TOKEN|KEY$/.test(name)) expect(value, name).toBe('');
  });

  it('mounts only host paths that exist in the repository, read-only', () => {
    let mounts = 0;
    for (const [name, svc] of Object.entries(services)) {
      for (const volume of svc.volumes ?? []) {
        const [source, , mode] = volume.split(':');
        if (!source.startsWith('.') && !source.startsWith('/')) {
          expect(Object.keys(compose.volumes ?? {}), `${name}: named volume ${source}`).toContain(source);
          continue;
        }
        mounts++;
        expect(existsSync(join(REPO_ROOT, source)), `${name}: ${source}`).toBe(true);
        expect(mode, `${name}: ${source}`).toBe('ro');
      }
    }
    expect(mounts).toBeGreaterThanOrEqual(2);
    expect(services.grafana.volumes).toContain('./grafana/provisioning:/etc/grafana/provisioning:ro');
    expect(services.grafana.volumes).toContain('./grafana/dashboards:/var/lib/grafana/dashboards:ro');
    expect(existsSync(join(REPO_ROOT, services.ccm.build?.context ?? '?', 'Dockerfile'))).toBe(true);
  });
});

describe('Grafana provisioning', () => {
  const datasource = parseYaml(read('grafana/provisioning/datasources/influxdb.yaml')) as { datasources: Json[] };

  it('provisions the InfluxQL datasource with the uid that boards and rules use', () => {
    expect(datasource.datasources).toHaveLength(1);
    const ds = datasource.datasources[0];
    expect(ds.uid).toBe('ccm-influxdb');
    expect(ds.type).toBe('influxdb');
    expect(ds.jsonData).toMatchObject({ dbName: 'ccm', httpMode: 'GET' });
    expect(ds.user).toBe('${CCM_INFLUX_USER}');
    expect(ds.secureJsonData).toEqual({ password: '${CCM_INFLUX_PASSWORD}' });
  });

  it('sets in the grafana container every variable that its provisioning files expand', () => {
    const files = ['datasources/influxdb.yaml', 'alerting/contact-points.yaml', 'alerting/rules.yaml', 'alerting/policies.yaml', 'dashboards/ccm.yaml']
      .map((f) => `grafana/provisioning/${f}`)
      .filter((f) => existsSync(join(REPO_ROOT, f)));
    const expanded = new Set<string>();
    const walk = (v: unknown): void => {
      if (typeof v === 'string') for (const m of v.matchAll(/\$\{?([A-Z_][A-Z0-9_]*)/g)) expanded.add(m[1]);
      else if (Array.isArray(v)) v.forEach(walk);
      else if (typeof v === 'object' && v !== null) Object.values(v).forEach(walk);
    };
    // parsed, not grepped, so that `$VAR` in comments does not count
    for (const f of files) walk(parseYaml(read(f)));
    expect(expanded.has('CCM_INFLUX_PASSWORD')).toBe(true);
    for (const name of expanded) expect(Object.keys(env('grafana')), name).toContain(name);
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const ignored = read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));

  it('runs the CLI entry point with `run` by default', () => {
    expect(dockerfile).toContain('ENTRYPOINT ["node", "bin/ccm.js"]');
    expect(dockerfile).toContain('CMD ["run"]');
    expect(services.ccm.build?.context).toBe('.');
  });

  it('copies only paths that exist and that .dockerignore lets through', () => {
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1].split(/\s+/));
    expect(sources).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', 'src', 'config', 'bin']));
    for (const source of sources) {
      expect(existsSync(join(REPO_ROOT, source)), source).toBe(true);
      expect(ignored, source).not.toContain(source);
    }
  });
});
