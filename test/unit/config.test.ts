import { describe, expect, it } from 'vitest';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load-config.ts';
import { isMonitorError } from '../../src/domain/errors.ts';
import { ENV_VARS } from '../../src/config/env.ts';

async function tempConfig(text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ccm-config-'));
  const path = join(dir, 'bad.yaml');
  await writeFile(path, text);
  return path;
}

async function problemsOf(p: Promise<unknown>): Promise<string[]> {
  try {
    await p;
  } catch (e) {
    if (isMonitorError(e)) return [...e.problems];
    throw e;
  }
  throw new Error('expected the config to be refused');
}

describe('config/local.yaml and the services port shift', () => {
  const local = { configPath: 'config/local.yaml' };
  it('points at the default ports of scripts/services.sh without CCM_SERVICES_PORT_SHIFT', async () => {
    // (user and password given, so that the services' credentials file is not needed)
    const c = await loadConfig({ ...local, env: { CCM_INFLUX_USER: 'u', CCM_INFLUX_PASSWORD: 'p' } });
    expect([c.kafka.brokers, c.influx.url]).toEqual([['127.0.0.1:29092'], 'http://127.0.0.1:28086']);
    const shifted = await loadConfig({ ...local, env: { CCM_SERVICES_PORT_SHIFT: '1000', CCM_INFLUX_USER: 'u', CCM_INFLUX_PASSWORD: 'p' } });
    expect([shifted.kafka.brokers, shifted.influx.url]).toEqual([['127.0.0.1:30092'], 'http://127.0.0.1:29086']);
  });

  it('refuses a shift that is not a small non-negative integer, naming the variable', async () => {
    const e = await loadConfig({ ...local, env: { CCM_SERVICES_PORT_SHIFT: 'abc' } }).catch((x: unknown) => x);
    expect(isMonitorError(e) && e.message).toBe('environment CCM_SERVICES_PORT_SHIFT: must be an integer from 0 to 3000 (named by config/local.yaml: portShiftVariable)');
  });
});

describe('config loading', () => {
  it('loads the embedded default with Kafka and InfluxDB off', async () => {
    const c = await loadConfig({ env: {} });
    expect(c.kafka.enabled).toBe(false);
    expect(c.influx.enabled).toBe(false);
    expect(c.processor.run).toBe('live');
    expect(c.domain.cryptoHaircut).toBe(0.05);
  });

  it('turns Kafka and InfluxDB on from the environment that services.sh prints', async () => {
    const c = await loadConfig({
      env: { CCM_KAFKA_BROKERS: '127.0.0.1:29092', CCM_INFLUX_URL: 'http://127.0.0.1:28086', CCM_INFLUX_USER: 'u', CCM_INFLUX_PASSWORD: 'p', CCM_INFLUX_DB: 'x' },
    });
    expect(c.kafka).toMatchObject({ enabled: true, brokers: ['127.0.0.1:29092'] });
    expect(c.influx).toMatchObject({ enabled: true, url: 'http://127.0.0.1:28086', user: 'u', password: 'p', database: 'x' });
  });

  it('lets the environment win over a --config file', async () => {
    const c = await loadConfig({ configPath: 'config/local.yaml', env: { CCM_KAFKA_BROKERS: '10.0.0.1:9092', CCM_INFLUX_USER: 'u', CCM_INFLUX_PASSWORD: 'p' } });
    expect(c.kafka.brokers).toEqual(['10.0.0.1:9092']);
    expect(c.influx.url).toBe('http://127.0.0.1:28086');
  });

  it('reads the InfluxDB credentials services.sh generated from the credentials file', async () => {
    const creds = await tempConfig('INFLUX_USER=ccm\nINFLUX_PASSWORD=s3cret\n');
    const path = await tempConfig(`influx:\n  enabled: true\n  credentialsFile: ${creds}\n`);
    const c = await loadConfig({ configPath: path, env: {} });
    expect(c.influx).toMatchObject({ user: 'ccm', password: 's3cret' });
  });

  it('says how to start the services when the credentials file is missing', async () => {
    const path = await tempConfig('influx:\n  credentialsFile: /nonexistent/credentials.env\n');
    expect((await problemsOf(loadConfig({ configPath: path, env: {} })))[0]).toMatch(/^\/nonexistent\/credentials.env: influx.credentialsFile: cannot be read .*scripts\/services.sh up$/);
  });

  it('names the file, the key and the reason of a bad value', async () => {
    const path = await tempConfig('kafka:\n  brokers: ["no-port"]\n');
    expect(await problemsOf(loadConfig({ configPath: path, env: {} }))).toEqual([`${path}: kafka.brokers[0]: must be host:port`]);
  });

  it('refuses an unknown key with its file', async () => {
    const path = await tempConfig('processor:\n  tickMillis: 5\n');
    expect(await problemsOf(loadConfig({ configPath: path, env: {} }))).toEqual([`${path}: processor.tickMillis: unknown key`]);
  });

  it('names the environment variable when the bad value came from it', async () => {
    const problems = await problemsOf(loadConfig({ env: { CCM_INFLUX_URL: 'ftp://x' } }));
    expect(problems).toEqual(['environment CCM_INFLUX_URL: influx.url: must be an http:// or https:// URL']);
  });

  it('refuses a file that is not YAML', async () => {
    const path = await tempConfig('kafka: [unclosed\n');
    await expect(loadConfig({ configPath: path, env: {} })).rejects.toThrow(`${path}: (root): not valid YAML`);
  });

  it('documents every environment variable it reads', () => {
    for (const v of ['CCM_KAFKA_BROKERS', 'CCM_INFLUX_URL', 'CCM_INFLUX_USER', 'CCM_INFLUX_PASSWORD', 'CCM_INFLUX_DB']) expect(ENV_VARS).toHaveProperty(v);
  });
});
