import type { Command } from 'commander';
import { loadCatalog, loadSheets } from '../config/load-sheets.ts';
import type { CommandAction } from './options.ts';

/**
 * `ccm entities validate [DIR] [--catalog FILE]` (default config/entities, config/catalog.yaml):
 * checks every sheet file of a directory (or one file), each fleet model against the catalog and
 * the limits of docs/reliability.md "Hostile files". Prints each problem as `file: path: reason`
 * and exits 2 if there is any, else prints `N sheets valid` and exits 0.
 */
const DEFAULT_DIR = 'config/entities';
const DEFAULT_CATALOG = 'config/catalog.yaml';

export function define(cmd: Command): CommandAction {
  cmd
    .argument('[dir]', `a directory of sheets, or one sheet file (default ${DEFAULT_DIR})`)
    .option('--catalog <file>', 'the model catalog every fleet model must be in', DEFAULT_CATALOG);
  return async () => {
    const [dir] = cmd.processedArgs as [string | undefined];
    // a bad catalog file is a MonitorError (CONFIG_INVALID): ccm prints `file: key: reason`, exit 2
    const catalog = await loadCatalog(cmd.opts<{ catalog: string }>().catalog);
    const { entities, problems } = await loadSheets(dir ?? DEFAULT_DIR, { catalog });
    if (problems.length > 0) {
      for (const p of problems) console.error(p);
      return 2;
    }
    console.log(`${entities.length} sheets valid`);
    return 0;
  };
}
