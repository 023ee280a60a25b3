import { describe, expect, it, vi, afterEach } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { dispatch, COMMANDS } from '../../src/cli/ccm.ts';
import { ccm } from '../support/cli.ts';

const run = promisify(execFile);

describe('the ccm command line', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  async function captured(argv: string[]): Promise<{ code: number; err: string }> {
    const lines: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const code = await dispatch(argv);
    return { code, err: lines.join('\n') };
  }

  it('stops with exit code 2 and file: key: reason on an invalid config file, without a stack trace', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ccm-cli-'));
    const file = join(dir, 'bad.yaml');
    await writeFile(file, 'processor:\n  emitIntervalMs: -5\n');
    // replay checks its input is readable before it reads the config: give it one
    const input = join(dir, 'in.ndjson');
    await writeFile(input, '');
    for (const command of ['run', 'process', 'replay']) {
      const args = command === 'replay' ? [command, '--run', 'x', '--file', input, '--config', file] : [command, '--config', file];
      const { code, err } = await captured(args);
      expect(code).toBe(2);
      expect(err).toBe(`${file}: processor.emitIntervalMs: Too small: expected number to be >0`);
    }
  });

  it('refuses an unknown command and unknown options with exit code 2', async () => {
    expect((await captured(['frobnicate'])).code).toBe(2);
    const r = await captured(['value', '--no-such-flag']);
    expect(r.code).toBe(2);
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it('lists every command in its usage', async () => {
    const { code, stdout } = await ccm(['--help']);
    expect(code).toBe(0);
    for (const name of Object.keys(COMMANDS)) expect(stdout).toContain(name.split(' ')[0]);
    for (const group of ['entities', 'runs', 'market']) {
      const sub = await ccm([group, '--help']);
      expect(sub.code).toBe(0);
      for (const name of Object.keys(COMMANDS).filter((n) => n.startsWith(`${group} `))) expect(sub.stdout).toContain(name.split(' ')[1]);
    }
  });

  it('answers --help for every command with its usage, summary and options, and exits 0', async () => {
    for (const [name, entry] of Object.entries(COMMANDS)) {
      const { code, stdout, stderr } = await ccm([...name.split(' '), '--help']);
      expect({ name, code, stderr }).toEqual({ name, code: 0, stderr: '' });
      expect(stdout).toMatch(new RegExp(`^Usage: ccm ${name} `));
      expect(stdout.replace(/\s+/g, ' ')).toContain(entry.summary);
      expect(stdout).toMatch(/Options:\n/);
    }
  });

  it('prints the package version for --version', async () => {
    const { version } = JSON.parse(await readFile('package.json', 'utf8')) as { version: string };
    const { code, stdout } = await ccm(['--version']);
    expect(code).toBe(0);
    expect(stdout).toBe(version);
  });

  it('refuses an option value of the wrong type with exit 2 before doing anything', async () => {
    const r = await ccm(['run', '--for-seconds', 'abc']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("ccm run: --for-seconds: 'abc' must be a positive number");
    expect((await ccm(['run', '--mode', 'sometimes'])).stderr).toContain("ccm run: --mode: 'sometimes' must be one of auto, live, demo");
    expect((await ccm(['replay', '--run', 'x', '--file', 'a.gz', '--min-sources', '1.5'])).stderr).toContain("--min-sources: '1.5' must be a positive integer");
    expect((await ccm(['simulate', '--scenario', 'calm', '--out', 'x.gz', '--seed', 'seven'])).stderr).toContain("--seed: 'seven' must be an integer");
    expect((await ccm(['runs', 'delete'])).code).toBe(2);
    expect((await ccm(['entities', 'validate', 'a', 'b'])).code).toBe(2);
  });

  it('takes several stream files after one --file and replays them all, in memory without services', async () => {
    vi.stubEnv('CCM_KAFKA_BROKERS', '');
    vi.stubEnv('CCM_INFLUX_URL', '');
    vi.stubEnv('CCM_LOG_LEVEL', 'silent');
    const dir = await mkdtemp(join(tmpdir(), 'ccm-cli-'));
    const [a, b] = [join(dir, 'a.ndjson.gz'), join(dir, 'b.ndjson.gz')];
    expect((await ccm(['simulate', '--scenario', 'calm', '--days', '1', '--cadence-s', '3600', '--out', a])).code).toBe(0);
    expect((await ccm(['simulate', '--scenario', 'calm', '--days', '1', '--cadence-s', '3600', '--seed', '7', '--from', '2025-10-02', '--out', b])).code).toBe(0);
    const { code, stdout } = await ccm(['replay', '--run', 'two-files', '--file', a, b, '--max']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/replay two-files: 384 events \(2025-10-01T00:00:00\.000Z \.\. 2025-10-02T23:\d\d:00\.000Z\)/);
  });

  it('refuses a missing input and an output it cannot write with one line and exit 2, before doing any work', async () => {
    vi.stubEnv('CCM_KAFKA_BROKERS', '');
    vi.stubEnv('CCM_INFLUX_URL', '');
    const dir = await mkdtemp(join(tmpdir(), 'ccm-cli-'));
    const oneLine = (r: { code: number; stderr: string }, line: string) => {
      expect(r.code).toBe(2);
      expect(r.stderr.split('\n')).toEqual([line]);
    };
    oneLine(await ccm(['simulate', '--scenario', 'calm', '--out', join(dir, 'no/such/dir/x.gz')]), `${join(dir, 'no/such/dir/x.gz')}: no such directory: ${join(dir, 'no/such/dir')}`);
    oneLine(await ccm(['simulate', '--scenario', 'calm', '--out', dir]), `${dir}: is a directory, a file was expected`);
    oneLine(await ccm(['replay', '--run', 'x', '--file', join(dir, 'missing.ndjson.gz')]), `${join(dir, 'missing.ndjson.gz')}: no such file or directory`);
    const input = join(dir, 'in.ndjson.gz');
    expect((await ccm(['simulate', '--scenario', 'calm', '--days', '1', '--out', input])).code).toBe(0);
    oneLine(await ccm(['replay', '--run', 'x', '--file', input, '--report', join(dir, 'gone/r.json')]), `${join(dir, 'gone/r.json')}: no such directory: ${join(dir, 'gone')}`);
    await writeFile(join(dir, 'plain'), 'x');
    oneLine(await ccm(['record', '--out', join(dir, 'plain/days')]), `${join(dir, 'plain/days')}: ${join(dir, 'plain')} is not a directory`);
  });

  it('reads a stream file by its bytes: a gzip file named .ndjson replays', async () => {
    vi.stubEnv('CCM_KAFKA_BROKERS', '');
    vi.stubEnv('CCM_INFLUX_URL', '');
    vi.stubEnv('CCM_LOG_LEVEL', 'silent');
    const dir = await mkdtemp(join(tmpdir(), 'ccm-cli-'));
    const file = join(dir, 'calm.ndjson');
    expect((await ccm(['simulate', '--scenario', 'calm', '--days', '1', '--cadence-s', '3600', '--out', file])).code).toBe(0);
    const r = await ccm(['replay', '--run', 'by-bytes', '--file', file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/replay by-bytes: 192 events/);
  });

  it('lists every scenario of the scenarios file in the help of simulate and run', async () => {
    const names = Object.keys((parseYaml(await readFile('config/scenarios.yaml', 'utf8')) as { scenarios: Record<string, unknown> }).scenarios);
    expect(names.length).toBeGreaterThanOrEqual(5);
    for (const command of ['simulate', 'run']) {
      const { stdout } = await ccm([command, '--help']);
      for (const n of names) expect(stdout).toMatch(new RegExp(`^  ${n} +\\S`, 'm'));
    }
  });

  it('runs the embedded default with no network: says which sources it cannot reach and prints a SIMULATED table', async () => {
    const { stdout, stderr } = await run('npx', ['tsx', 'src/cli/ccm.ts', 'run', '--for-seconds', '12'], {
      env: { ...process.env, CCM_KAFKA_BROKERS: '', CCM_INFLUX_URL: '', CCM_HTTP_ADDRESS: '127.0.0.1:0' },
      timeout: 60_000,
    });
    expect(stderr).toMatch(/no live source answered within 5 s \(unreachable: [a-z]/);
    expect(stderr).toContain('SIMULATED: driving the pipeline');
    expect(stdout).toContain('=== SIMULATED (run=demo');
    expect(stdout).toMatch(/entity\s+LTV/);
    expect(stdout).toMatch(/alpha-neocloud\s+\d\.\d\d/);
  }, 90_000);
});
