import { describe, expect, it, vi, afterEach } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { dispatch, COMMANDS } from '../../src/cli/ccm.ts';

const run = promisify(execFile);

describe('the ccm command line', () => {
  afterEach(() => vi.restoreAllMocks());

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
    for (const command of ['run', 'process', 'replay']) {
      const args = command === 'replay' ? [command, '--run', 'x', '--file', 'none.gz', '--config', file] : [command, '--config', file];
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
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
    expect(await dispatch(['--help'])).toBe(0);
    for (const name of Object.keys(COMMANDS)) expect(lines.join('\n')).toContain(name);
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
