import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

/**
 * The board's page, built once per process from the package itself (no CDN, no network): the HTML
 * and CSS as they are in src/board/page/, the script bundled by esbuild from page/main.ts with
 * uPlot from node_modules (a few hundred milliseconds, at the first request). A compiled install
 * (dist/) bundles the compiled page module, and the build copies the HTML and CSS beside it.
 */
const require = createRequire(import.meta.url);

export interface BoardPage {
  readonly html: string;
  readonly js: string;
  readonly css: string;
}

function pageDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return join(here, 'page');
}

let built: Promise<BoardPage> | null = null;

export function boardPage(): Promise<BoardPage> {
  built ??= build();
  built.catch(() => (built = null));
  return built;
}

async function build(): Promise<BoardPage> {
  const dir = pageDir();
  const { build: esbuild } = await import('esbuild');
  // from a checkout the TypeScript source; from a compiled install (dist/) its compiled module
  const entry = existsSync(join(dir, 'main.ts')) ? join(dir, 'main.ts') : join(dir, 'main.js');
  const result = await esbuild({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const uplotCss = await readFile(join(dirname(require.resolve('uplot/package.json')), 'dist', 'uPlot.min.css'), 'utf8');
  return {
    html: await readFile(join(dir, 'index.html'), 'utf8'),
    js: result.outputFiles[0].text,
    css: uplotCss + '\n' + (await readFile(join(dir, 'board.css'), 'utf8')),
  };
}
