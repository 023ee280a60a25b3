import type { Command } from 'commander';
import { loadSheets } from '../config/load-sheets.ts';
import type { CommandAction } from './options.ts';

/**
 * `ccm entities validate [DIR]` (default config/entities): checks every sheet file of a directory
 * (or one file). Prints each problem as `file: path: reason` and exits 2 if there is any, else
 * prints `N sheets valid` and exits 0.
 */
const DEFAULT_DIR = 'config/entities';

export function define(cmd: Command): CommandAction {
  cmd.argument('[dir]', `a directory of sheets, or one sheet file (default ${DEFAULT_DIR})`);
  return async () => {
    const [dir] = cmd.processedArgs as [string | undefined];
    const { entities, problems } = await loadSheets(dir ?? DEFAULT_DIR);
    if (problems.length > 0) {
      for (const p of problems) console.error(p);
      return 2;
    }
    console.log(`${entities.length} sheets valid`);
    return 0;
  };
}
