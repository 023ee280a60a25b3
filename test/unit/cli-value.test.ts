import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { dispatch } from '../../src/cli/ccm.ts';

const value = (argv: readonly string[]): Promise<number> => dispatch(['value', ...argv]);
const validate = (argv: readonly string[]): Promise<number> => dispatch(['entities', 'validate', ...argv]);

// The worked examples are read where they live; scratch files go to a temp dir, never the repo.
const examples = resolve(process.cwd(), '../shared/examples/valuation');
const MARKET = join(examples, 'market-2025-10-01.json');
const GRANITE = join(examples, 'granite-mining.json');
const NORTHWIND = join(examples, 'northwind-neocloud.json');
const scratch = mkdtempSync(join(tmpdir(), 'ccm-cli-value-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let stdout: string[];
let stderr: string[];
beforeEach(() => {
  stdout = [];
  stderr = [];
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void stdout.push(a.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void stderr.push(a.join(' ')));
});
afterEach(() => vi.restoreAllMocks());

const writeScratch = (name: string, content: unknown): string => {
  const p = join(scratch, name);
  writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content));
  return p;
};
const granite = (): Record<string, any> => JSON.parse(readFileSync(GRANITE, 'utf8')); // eslint-disable-line @typescript-eslint/no-explicit-any
const noStackTrace = (): void => expect(stderr.join('\n')).not.toMatch(/\n\s+at /);

describe('ccm value', () => {
  it('prints the valuation JSON of a worked example and exits 0', async () => {
    expect(await value(['--entity', GRANITE, '--market', MARKET, '--json'])).toBe(0);
    const v = JSON.parse(stdout.join('\n'));
    expect(v.entity).toBe('granite-mining');
    expect(v.at).toBe('2025-10-01T00:00:00.000Z');
    expect(v.dscrStatus).toBe('breach');
    expect(v.facilities.map((f: { status: string }) => f.status)).toEqual(['margin_call', 'margin_call', 'ok']);
    expect(stderr).toEqual([]);
  });

  it('prints a readable table with totals, facilities and stress without --json', async () => {
    expect(await value(['--entity', NORTHWIND, '--market', MARKET])).toBe(0);
    const text = stdout.join('\n');
    expect(text).toContain('northwind-neocloud at 2025-10-01T00:00:00.000Z');
    expect(text).toMatch(/ddtl-1 .* margin_call/);
    expect(text).toMatch(/compute_glut .* liquidation/);
  });

  it('values at --at instead of the market time, amortising the loan further', async () => {
    expect(await value(['--entity', NORTHWIND, '--market', MARKET, '--at', '2026-10-01', '--json'])).toBe(0);
    const v = JSON.parse(stdout.join('\n'));
    expect(v.at).toBe('2026-10-01T00:00:00.000Z');
    expect(v.facilities[0].outstanding).toBeCloseTo(640_000_000, 0);
  });

  it('values the version of a multi-version sheet in force at the instant', async () => {
    const later = { ...granite(), effectiveFrom: '2025-09-01', cash: 1 };
    const file = writeScratch('versions.json', { versions: [granite(), later] });
    expect(await value(['--entity', file, '--market', MARKET, '--json', '--at', '2025-08-31'])).toBe(0);
    expect(JSON.parse(stdout.join('\n')).cash).toBe(90_000_000);
    stdout = [];
    expect(await value(['--entity', file, '--market', MARKET, '--json'])).toBe(0);
    expect(JSON.parse(stdout.join('\n')).cash).toBe(1);
  });

  it('exits 2 with file: path: reason for an invalid sheet, without a stack trace', async () => {
    const bad = granite();
    bad.facilities[0].rate = 1.5;
    const file = writeScratch('bad-rate.json', bad);
    expect(await value(['--entity', file, '--market', MARKET])).toBe(2);
    expect(stderr).toEqual([`${file}: facilities[0].rate: must be a number between 0 and 1`]);
    expect(stdout).toEqual([]);
    noStackTrace();
  });

  it('exits 2 for an invalid market file, naming the field', async () => {
    const file = writeScratch('bad-market.json', { at: '2025-10-01T00:00:00Z', crypto: { BTC: -1 } });
    expect(await value(['--entity', GRANITE, '--market', file])).toBe(2);
    expect(stderr.join('\n')).toContain(`${file}: crypto.BTC: `);
    noStackTrace();
  });

  it('exits 2 for a sheet that is not YAML, a missing file, or missing options', async () => {
    const file = writeScratch('broken.yaml', 'id: [unclosed');
    expect(await value(['--entity', file, '--market', MARKET])).toBe(2);
    expect(stderr.join('\n')).toContain(`${file}: (root): not valid YAML or JSON`);
    stderr = [];
    expect(await value(['--entity', join(scratch, 'nope.yaml'), '--market', MARKET])).toBe(2);
    expect(stderr.join('\n')).toContain('nope.yaml: (root): no such file or directory');
    stderr = [];
    expect(await value(['--entity', GRANITE])).toBe(2);
    expect(stderr.join('\n')).toContain("required option '--market <file>' not specified");
    noStackTrace();
  });

  it('exits 2 when no version of the sheet is in force at --at', async () => {
    const file = writeScratch('future.json', { ...granite(), effectiveFrom: '2030-01-01' });
    expect(await value(['--entity', file, '--market', MARKET])).toBe(2);
    expect(stderr).toEqual([`${file}: effectiveFrom: no version is in force at 2025-10-01T00:00:00.000Z`]);
  });
});

describe('ccm entities validate', () => {
  it('prints how many sheets are valid and exits 0', async () => {
    const dir = mkdtempSync(join(scratch, 'ok-'));
    writeFileSync(join(dir, 'granite.json'), readFileSync(GRANITE));
    writeFileSync(join(dir, 'northwind.yaml'), readFileSync(NORTHWIND));
    writeFileSync(join(dir, 'notes.txt'), 'not a sheet');
    expect(await validate([dir])).toBe(0);
    expect(stdout).toEqual(['2 sheets valid']);
  });

  it('prints each problem as file: path: reason and exits 2', async () => {
    const dir = mkdtempSync(join(scratch, 'bad-'));
    const bad = granite();
    bad.facilities[1].collateral = ['fleet:h100-nowhere'];
    writeFileSync(join(dir, 'a.json'), JSON.stringify(bad));
    writeFileSync(join(dir, 'b.json'), readFileSync(GRANITE));
    expect(await validate([dir])).toBe(2);
    expect(stderr).toEqual([
      `${join(dir, 'a.json')}: facilities[1].collateral[0]: pledges fleet item "h100-nowhere" that does not exist`,
    ]);
    noStackTrace();
  });

  it('refuses the same entity id in two files', async () => {
    const dir = mkdtempSync(join(scratch, 'dup-'));
    writeFileSync(join(dir, 'a.json'), readFileSync(GRANITE));
    writeFileSync(join(dir, 'b.json'), readFileSync(GRANITE));
    expect(await validate([dir])).toBe(2);
    expect(stderr).toEqual([`${join(dir, 'b.json')}: id: duplicate entity id "granite-mining" (also in ${join(dir, 'a.json')})`]);
  });
});
