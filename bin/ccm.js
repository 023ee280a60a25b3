#!/usr/bin/env node
// Installed entry point: runs the compiled CLI when built (npm run build), else the TypeScript
// sources through tsx, so `ccm` works from a checkout and from an installed package alike.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const built = join(root, 'dist', 'cli', 'ccm.js');
if (existsSync(built)) {
  await import(pathToFileURL(built).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(join(root, 'src', 'cli', 'ccm.ts')).href);
}
