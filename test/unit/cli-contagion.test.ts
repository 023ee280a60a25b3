import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ccm } from '../support/cli.ts';

/**
 * `ccm contagion` on the sample book (config/entities) against the worked examples' market, and
 * on a small book written here whose cascade is worked by hand in test/unit/contagion.test.ts.
 */
// what the last command printed
let stdout: string[] = [];
let stderr: string[] = [];
const contagion = async (argv: readonly string[]): Promise<number> => {
  const r = await ccm(['contagion', ...argv]);
  stdout = r.stdout === '' ? [] : [r.stdout];
  stderr = r.stderr === '' ? [] : [r.stderr];
  return r.code;
};
const MARKET = join(resolve(process.cwd(), '../shared/examples/valuation'), 'market-2025-10-01.json');
const scratch = mkdtempSync(join(tmpdir(), 'ccm-cli-contagion-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

beforeEach(() => {
  stdout = [];
  stderr = [];
});

const sheet = (id: string, units: number, principal: number, lender: string) => ({
  id,
  name: id,
  type: 'neocloud',
  cash: 0,
  fleet: [{ id: `${id}-gpus`, model: 'H100-SXM', count: units, costPerUnit: 30000, acquiredAt: '2024-01-01' }],
  facilities: [
    {
      id: `${id}-loan`,
      kind: 'gpu_term_loan',
      principal,
      rate: 0.1,
      start: '2025-01-01',
      maturity: '2029-01-01',
      lender,
      collateral: [`fleet:${id}-gpus`],
      covenants: { ltvWarn: 0.65, ltvMarginCall: 0.75, ltvLiquidation: 0.85 },
    },
  ],
});
const book = join(scratch, 'book');
mkdirSync(book);
writeFileSync(join(book, 'big.yaml'), stringify(sheet('big', 40_000, 900e6, 'bank-a')));
writeFileSync(join(book, 'mid.yaml'), stringify(sheet('mid', 1000, 17.5e6, 'bank-a')));
writeFileSync(join(book, 'safe.yaml'), stringify(sheet('safe', 1000, 10e6, 'bank-b')));
const market = join(scratch, 'market.json');
writeFileSync(market, JSON.stringify({ at: '2025-10-01T00:00:00Z', resale: { 'H100-SXM': 25_000 } }));
const catalog = join(scratch, 'catalog.yaml');
writeFileSync(catalog, stringify({ models: [{ id: 'H100-SXM', class: 'gpu', releaseDate: '2023-03-01', economicLifeMonths: 36, depreciation: 0.3, liquidity: { depthPerMonth: 8000, h0: 0.1, k: 0.05, hmax: 0.8 }, generation: 3 }] }));

describe('ccm contagion', () => {
  it('prints the DOMAIN.md JSON of the cascade', async () => {
    expect(await contagion(['--entities', book, '--market', market, '--catalog', catalog, '--json'])).toBe(0);
    const r = JSON.parse(stdout.join('\n'));
    expect(Object.keys(r)).toEqual(['at', 'rounds', 'converged', 'models', 'entities', 'lenders']);
    expect(r).toMatchObject({ at: '2025-10-01T00:00:00.000Z', rounds: 1, converged: true });
    expect(r.entities.map((e: { entity: string; defaultRound: number | null }) => [e.entity, e.defaultRound])).toEqual([
      ['big', 0],
      ['mid', 1],
      ['safe', null],
    ]);
    expect(r.models[0]).toMatchObject({ model: 'H100-SXM', seizedUnits: 41_000, resaleBefore: 25_000 });
    expect(Object.keys(r.entities[0].facilities[0])).toEqual(['id', 'ltvBefore', 'ltvAfter', 'statusBefore', 'statusAfter']);
  });

  it('prints the rounds, who defaults and why, the fire sales and the lenders as tables', async () => {
    expect(await contagion(['--entities', book, '--market', market, '--catalog', catalog])).toBe(0);
    const text = stdout.join('\n');
    expect(text).toContain('1 in default at round 0, 1 pulled in by the fire sales; settled after round 1');
    expect(text).toMatch(/0\s+big\s+0\.9000\s+\S+\s+big-loan LTV 0\.9000 >= liquidation 0\.85 at today's prices/);
    expect(text).toMatch(/1\s+mid\s+0\.7000\s+0\.9412\s+mid-loan LTV 0\.9333 >= liquidation 0\.85 after the fire sales of round 0/);
    expect(text).toMatch(/H100-SXM\s+41,000\s+25\.6%\s+25,000\s+18,594/);
    expect(text).toMatch(/bank-b\s+10,000,000\s+0\s+0/);
  });

  it('starts a cascade from a chosen borrower with --default, repeatable', async () => {
    expect(await contagion(['--entities', 'config/entities', '--market', MARKET, '--json', '--default', 'alpha-neocloud'])).toBe(0);
    const r = JSON.parse(stdout.join('\n'));
    const round = (id: string) => r.entities.find((e: { entity: string }) => e.entity === id).defaultRound;
    expect(round('alpha-neocloud')).toBe(0);
    expect(r.entities.filter((e: { defaultRound: number | null }) => (e.defaultRound ?? 0) >= 1).length).toBeGreaterThan(0);
    stdout.length = 0;
    expect(await contagion(['--entities', 'config/entities', '--market', MARKET, '--json', '--default', 'alpha-neocloud', '--default', 'beta-neocloud'])).toBe(0);
    const two = JSON.parse(stdout.join('\n'));
    expect(two.entities.find((e: { entity: string }) => e.entity === 'beta-neocloud').defaultRound).toBe(0);
  });

  it('refuses an unknown --default with the list of known borrowers, exit 2', async () => {
    expect(await contagion(['--entities', book, '--market', market, '--default', 'nobody'])).toBe(2);
    expect(stderr.join('\n')).toBe(`--default: nobody: no such entity in ${book} (known: big, mid, safe)`);
  });

  it('refuses a missing or malformed file with file: path: reason, exit 2, no stack trace', async () => {
    expect(await contagion(['--entities', book, '--market', join(scratch, 'none.json')])).toBe(2);
    expect(stderr.join('\n')).toBe(`${join(scratch, 'none.json')}: (root): no such file`);
    stderr.length = 0;
    const bad = join(scratch, 'bad-market.json');
    writeFileSync(bad, JSON.stringify({ at: 'yesterday', resale: { 'H100-SXM': -1 } }));
    expect(await contagion(['--entities', book, '--market', bad])).toBe(2);
    expect(stderr.join('\n')).toMatch(new RegExp(`^${bad}: `));
    expect(stderr.join('\n')).not.toMatch(/\n\s+at /);
  });
});
