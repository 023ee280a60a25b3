import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadCatalog, loadSheets } from '../src/config/load-sheets.ts';

/**
 * The `files` section (docs/reliability.md "Hostile files"): how long a hostile sheet takes to be
 * refused. For each file: the median of `runs` in-process `loadSheets` calls with the catalog (what
 * the limits bound), and the wall time of one `ccm entities validate FILE` process against the same
 * process printing `--help` (Node and tsx start-up, which no limit changes). The files are made
 * here, in a temporary directory.
 */
export interface HostileFilesOptions {
  readonly runs?: number;
  readonly log?: (line: string) => void;
}

interface FileTiming {
  readonly file: string;
  readonly bytes: number;
  readonly problem: string;
  readonly loadMedianMs: number;
  readonly loadMaxMs: number;
  readonly cliExitCode: number | null;
  readonly cliWallMs: number;
}

export interface HostileFilesResult {
  readonly runs: number;
  readonly cliHelpWallMs: number;
  readonly files: readonly FileTiming[];
}

const item = (i: number, over: Record<string, unknown> = {}) => ({ id: `i${i}`, model: 'H100-SXM', count: 1, costPerUnit: 30000, acquiredAt: '2024-06-01', ...over });
const sheet = (over: Record<string, unknown> = {}) => ({
  id: 'hostile',
  name: 'Hostile',
  type: 'neocloud',
  cash: 1_000_000,
  holdings: { BTC: 10, ETH: 0 },
  fleet: [item(0)],
  facilities: [{ id: 'loan', kind: 'gpu_term_loan', principal: 1_000_000, rate: 0.1, start: '2024-06-01', maturity: '2027-06-01', collateral: ['fleet:i0'] }],
  ...over,
});
const ALIAS_BOMB = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]', ...'bcdefghi'.split('').map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`)].join('\n');

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function cliWall(args: readonly string[]): { code: number | null; ms: number } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/ccm.ts', ...args], { stdio: 'ignore' });
  return { code: r.status, ms: Math.round(performance.now() - t0) };
}

export async function runHostileFiles(opts: HostileFilesOptions = {}): Promise<HostileFilesResult> {
  const runs = opts.runs ?? 5;
  const log = opts.log ?? (() => undefined);
  const dir = mkdtempSync(join(tmpdir(), 'ccm-bench-hostile-'));
  try {
    const files: Array<[string, () => void]> = [
      ['well-formed.json', () => writeFileSync(join(dir, 'well-formed.json'), JSON.stringify(sheet()))],
      ['alias-bomb.yaml', () => writeFileSync(join(dir, 'alias-bomb.yaml'), ALIAS_BOMB)],
      ['sheet-50mb.yaml', () => (writeFileSync(join(dir, 'sheet-50mb.yaml'), ''), truncateSync(join(dir, 'sheet-50mb.yaml'), 50 * 1024 * 1024))],
      ['fleet-40000.json', () => writeFileSync(join(dir, 'fleet-40000.json'), JSON.stringify(sheet({ fleet: Array.from({ length: 40_000 }, (_, i) => item(i)) })))],
      ['fleet-1100-flow.yaml', () => writeFileSync(join(dir, 'fleet-1100-flow.yaml'), JSON.stringify(sheet({ fleet: [] })).replace('"fleet":[]', `"fleet":[${Array.from({ length: 1100 }, (_, i) => `{id: i${i}, model: H100-SXM, count: 1, costPerUnit: 1, acquiredAt: 2024-06-01}`).join(',')}]`))],
      ['limit-size-block.yaml', () => writeFileSync(join(dir, 'limit-size-block.yaml'), stringify(sheet({ fleet: Array.from({ length: 1000 }, (_, i) => item(i, { model: 'H100-SXM', costPerUnit: 30000.5, opexPerUnitHour: 0.25 })) })).padEnd(128 * 1024 - 64, '\n# padding to the size limit'))],
      ['fleet-1000-block.yaml', () => writeFileSync(join(dir, 'fleet-1000-block.yaml'), stringify(sheet({ fleet: Array.from({ length: 1000 }, (_, i) => item(i)) })))],
      ['nested-10000.yaml', () => writeFileSync(join(dir, 'nested-10000.yaml'), `${'['.repeat(10_000)}${']'.repeat(10_000)}`)],
      ['holdings-1e308.json', () => writeFileSync(join(dir, 'holdings-1e308.json'), JSON.stringify(sheet({ holdings: { BTC: 1e308, ETH: 0 } })))],
      ['maturity-9999.json', () => writeFileSync(join(dir, 'maturity-9999.json'), JSON.stringify(sheet({ facilities: [{ ...sheet().facilities[0], maturity: '9999-12-31' }] })))],
      ['model-typo.json', () => writeFileSync(join(dir, 'model-typo.json'), JSON.stringify(sheet({ fleet: [item(0, { model: 'H100-SMX' })] })))],
    ];
    const catalog = await loadCatalog('config/catalog.yaml');
    const help = cliWall(['--help']);
    log(`files: ccm --help ${help.ms} ms`);
    const out: FileTiming[] = [];
    for (const [name, make] of files) {
      make();
      const path = join(dir, name);
      const times: number[] = [];
      let problem = '';
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        const r = await loadSheets(path, { catalog });
        times.push(performance.now() - t0);
        problem = r.problems[0]?.replace(`${dir}/`, '') ?? '';
      }
      const cli = cliWall(['entities', 'validate', path]);
      const { size } = await import('node:fs').then((fs) => fs.statSync(path));
      const t: FileTiming = { file: name, bytes: size, problem, loadMedianMs: Math.round(median(times) * 10) / 10, loadMaxMs: Math.round(Math.max(...times) * 10) / 10, cliExitCode: cli.code, cliWallMs: cli.ms };
      log(`files: ${name}: load median ${t.loadMedianMs} ms (max ${t.loadMaxMs}), ccm entities validate exit ${t.cliExitCode} in ${t.cliWallMs} ms: ${problem.slice(0, 120)}`);
      out.push(t);
    }
    return { runs, cliHelpWallMs: help.ms, files: out };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
