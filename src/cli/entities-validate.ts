import { parseArgs } from 'node:util';
import { loadSheets } from '../config/load-sheets.ts';

/**
 * `ccm entities validate [DIR]` (default config/entities): checks every sheet file of a directory
 * (or one file). Prints each problem as `file: path: reason` and exits 2 if there is any, else
 * prints `N sheets valid` and exits 0.
 */
const USAGE = 'usage: ccm entities validate [DIR]';

export async function main(argv: readonly string[]): Promise<number> {
  let positionals: string[];
  try {
    const parsed = parseArgs({ args: [...argv], options: { help: { type: 'boolean', short: 'h', default: false } }, allowPositionals: true, strict: true });
    if (parsed.values.help) {
      console.log(USAGE);
      return 0;
    }
    positionals = parsed.positionals;
  } catch (e) {
    console.error(`ccm entities validate: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (positionals.length > 1) {
    console.error(`ccm entities validate: one directory at most\n${USAGE}`);
    return 2;
  }
  const { entities, problems } = await loadSheets(positionals[0] ?? 'config/entities');
  if (problems.length > 0) {
    for (const p of problems) console.error(p);
    return 2;
  }
  console.log(`${entities.length} sheets valid`);
  return 0;
}
