/**
 * Hostile files (docs/reliability.md "Hostile files"): each gets one `file: path: reason` line and
 * `ccm entities validate` exits 2, whatever the file tries (an alias bomb, a 50 MB sheet, a
 * 40,000-item fleet, brackets nested 10,000 deep, 1e308 BTC, a maturity in year 9999, a typo in a
 * model). The config loader refuses the same files the same way.
 */
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { dispatch } from '../../src/cli/ccm.ts';
import { loadConfig } from '../../src/config/load-config.ts';
import { loadCatalog, loadSheets } from '../../src/config/load-sheets.ts';
import { FILE_LIMITS, flowDepthExceeds } from '../../src/config/read-structured-file.ts';
import { SHEET_LIMITS } from '../../src/domain/sheet/sheet.ts';
import { MAX_PROBLEMS_PER_FILE } from '../../src/domain/sheet/sheet-validate.ts';
import { isMonitorError } from '../../src/domain/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'ccm-hostile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const item = (i: number, over: Record<string, unknown> = {}) => ({ id: `i${i}`, model: 'H100-SXM', count: 1, costPerUnit: 30000, acquiredAt: '2024-06-01', ...over });
const sheet = (over: Record<string, unknown> = {}) => ({
  id: 'hostile',
  name: 'Hostile',
  type: 'neocloud',
  cash: 1_000_000,
  holdings: { BTC: 10, ETH: 0 },
  fleet: [item(0)],
  facilities: [{ id: 'loan', kind: 'gpu_term_loan', principal: 1_000_000, rate: 0.1, start: '2024-06-01', maturity: '2027-06-01', collateral: ['fleet:i0'], covenants: { ltvWarn: 0.7, ltvMarginCall: 0.8, ltvLiquidation: 0.9 } }],
  ...over,
});

function write(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

const ALIAS_BOMB = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]', ...'bcdefghi'.split('').map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`)].join('\n');

/** Runs `ccm entities validate FILE` in-process: its exit code and what it printed on stderr. */
async function validateFile(path: string): Promise<{ code: number; stderr: string[] }> {
  const stderr: string[] = [];
  const err = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void stderr.push(a.join(' ')));
  const out = vi.spyOn(console, 'log').mockImplementation(() => undefined);
  try {
    return { code: await dispatch(['entities', 'validate', path]), stderr };
  } finally {
    err.mockRestore();
    out.mockRestore();
  }
}

describe('ccm entities validate on hostile files', () => {
  it('accepts the well-formed sheet the hostile ones are made from', async () => {
    const r = await validateFile(write('ok.json', JSON.stringify(sheet())));
    expect(r).toEqual({ code: 0, stderr: [] });
  });

  it.each([
    ['a YAML alias bomb', 'bomb.yaml', () => ALIAS_BOMB, /bomb\.yaml: \(root\): YAML aliases expand to more than 100 nodes/],
    ['brackets nested 10,000 deep (a fatal out-of-memory in the yaml parser before)', 'deep.yaml', () => `${'['.repeat(10_000)}${']'.repeat(10_000)}`, /deep\.yaml: \(root\): brackets nested more than 64 deep/],
    ['a 40,000-item fleet', 'fleet40k.json', () => JSON.stringify(sheet({ fleet: Array.from({ length: 40_000 }, (_, i) => item(i)) })), /fleet40k\.json: \(root\): the file is \d\.\d MiB, more than the 128 KiB such a file may hold/],
    ['a 1,100-item fleet that fits the size limit', 'fleet1100.yaml', () => JSON.stringify(sheet({ fleet: [] })).replace('"fleet":[]', `"fleet":[${Array.from({ length: 1100 }, (_, i) => `{id: i${i}, model: H100-SXM, count: 1, costPerUnit: 1, acquiredAt: 2024-06-01}`).join(',')}]`), /fleet1100\.yaml: fleet: has 1,100 items, more than the 1,000 a sheet may hold/],
    ['1e308 BTC', 'holdings.json', () => JSON.stringify(sheet({ holdings: { BTC: 1e308, ETH: 0 } })), /holdings\.json: holdings\.BTC: must be at most 21,000,000 BTC/],
    ['infinite cash (.inf)', 'inf.yaml', () => stringify(sheet()).replace(/^cash: .*$/m, 'cash: .inf'), /inf\.yaml: cash: /],
    ['a maturity in year 9999', 'y9999.json', () => JSON.stringify(sheet({ facilities: [{ ...sheet().facilities[0], maturity: '9999-12-31' }] })), /y9999\.json: facilities\[0\]\.maturity: must be a date between the years 1970 and 2200/],
    ['a typo in a model', 'typo.json', () => JSON.stringify(sheet({ fleet: [item(0, { model: 'H100-SMX' })] })), /typo\.json: fleet\[0\]\.model: unknown model "H100-SMX" \(not in the catalog; did you mean H100-SXM\?\)/],
    ['a source spelling instead of the catalog id', 'alias.json', () => JSON.stringify(sheet({ fleet: [item(0, { model: 'H100 SXM5' })] })), /alias\.json: fleet\[0\]\.model: "H100 SXM5" is a spelling of H100-SXM; write the catalog id H100-SXM/],
    ['a 70,000-character name', 'name.json', () => JSON.stringify(sheet({ name: 'x'.repeat(70_000) })), /name\.json: name: must be at most 200 characters/],
  ])('refuses %s with one file: path: reason line and exit 2', async (_what, name, content, expected) => {
    const r = await validateFile(write(name, content()));
    expect(r.code).toBe(2);
    expect(r.stderr.join('\n')).toMatch(expected);
    expect(r.stderr.join('\n')).not.toMatch(/\n\s+at /);
  });

  it('refuses a 50 MB sheet from its size without reading it', async () => {
    const path = join(dir, 'big.yaml');
    writeFileSync(path, '');
    truncateSync(path, 50 * 1024 * 1024);
    const r = await validateFile(path);
    expect(r).toEqual({ code: 2, stderr: [`${path}: (root): the file is 50.0 MiB, more than the 128 KiB such a file may hold`] });
  });

  it('lists at most 50 problems of a file and counts the rest', async () => {
    const fleet = Array.from({ length: 300 }, (_, i) => item(i, { count: -1 }));
    const r = await validateFile(write('many.json', JSON.stringify(sheet({ fleet }))));
    expect(r.code).toBe(2);
    expect(r.stderr).toHaveLength(MAX_PROBLEMS_PER_FILE);
    expect(r.stderr.at(-1)).toMatch(/many\.json: \(root\): and 251 more problems$/);
  });

  it('checks models against the catalog only when it is given one', async () => {
    const path = write('typo2.json', JSON.stringify(sheet({ fleet: [item(0, { model: 'H100-SMX' })] })));
    expect((await loadSheets(path)).problems).toEqual([]);
    expect((await loadSheets(path, { catalog: await loadCatalog('config/catalog.yaml') })).problems).toHaveLength(1);
  });
});

describe('hostile config files', () => {
  it.each([
    ['an alias bomb', 'bomb-config.yaml', () => ALIAS_BOMB, 'YAML aliases expand to more than 100 nodes'],
    ['deep brackets', 'deep-config.yaml', () => `x: ${'['.repeat(5000)}`, 'brackets nested more than 64 deep'],
    ['a file over the limit', 'big-config.yaml', () => `# ${'x'.repeat(FILE_LIMITS.configBytes)}\n`, 'more than the 128 KiB such a file may hold'],
  ])('refuse %s as CONFIG_INVALID with file: (root): reason', async (_what, name, content, reason) => {
    const path = write(name, content());
    const e = await loadConfig({ configPath: path, env: {} }).then(
      () => null,
      (err: unknown) => err,
    );
    expect(isMonitorError(e) && e.code).toBe('CONFIG_INVALID');
    expect((e as Error).message).toBe(`${path}: (root): ${(e as Error).message.split(': (root): ')[1]}`);
    expect((e as Error).message).toContain(reason);
  });
});

describe('flow nesting scan', () => {
  it('counts brackets outside strings and comments only', () => {
    expect(flowDepthExceeds('a: "[[[[[["\nb: \'{{{{\'\n# [[[[[[\nc: [[1]]', 3)).toBe(false);
    expect(flowDepthExceeds('c: [[[[1]]]]', 3)).toBe(true);
    expect(flowDepthExceeds('c: "a\\"[[[[["', 3)).toBe(false);
  });

  it('stays within the stated limits for the limits themselves', () => {
    expect(SHEET_LIMITS.maxFleetItems).toBe(1000);
    expect(FILE_LIMITS.sheetBytes).toBe(128 * 1024);
  });
});
