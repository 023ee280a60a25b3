import { readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { FILE_LIMITS, readStructuredFile } from './read-structured-file.ts';
import { CatalogSchema, toCatalog } from '../domain/sheet/catalog.ts';
import type { Catalog } from '../domain/sheet/catalog.ts';
import { parseDateMs } from '../domain/calendar.ts';
import { ErrorCode, MonitorError } from '../domain/errors.ts';
import type { Market } from '../domain/market/market.ts';
import { MarketSnapshotSchema, toMarket } from '../domain/market/market.ts';
import type { Entity } from '../domain/sheet/sheet.ts';
import { toProblemLines, validateSheetFile, type SheetValidationOptions } from '../domain/sheet/sheet-validate.ts';

/**
 * Reads balance sheets, the catalog and market snapshot files from disk (the I/O around the pure
 * validators of src/domain). Files are YAML (JSON is YAML too); problems read `file: path: reason`
 * with `file` as the caller spelled it, so `ccm entities validate config/entities` points at
 * `config/entities/northwind.yaml`. Files are read within FILE_LIMITS (read-structured-file.ts):
 * a hostile file is one problem line, never a stall or a crash.
 */

const SHEET_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/**
 * Loads sheet files: one file, or every .yaml/.yml/.json file of a directory (not recursive,
 * sorted by name). Valid entities come back with the problems of the others; an entity id found
 * in two files is a problem of the second.
 */
export async function loadSheets(pathOrDir: string, options: SheetValidationOptions = {}): Promise<{ entities: Entity[]; problems: string[] }> {
  let files: string[];
  try {
    const st = await stat(pathOrDir);
    if (st.isDirectory()) {
      const names = (await readdir(pathOrDir)).filter((n) => SHEET_EXTENSIONS.has(extname(n).toLowerCase())).sort();
      files = names.map((n) => join(pathOrDir, n));
    } else files = [pathOrDir];
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { entities: [], problems: [`${pathOrDir}: (root): ${code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`] };
  }
  const entities: Entity[] = [];
  const problems: string[] = [];
  const seen = new Map<string, string>();
  for (const file of files) {
    const parsed = await readStructuredFile(file, FILE_LIMITS.sheetBytes);
    if (!parsed.ok) {
      problems.push(parsed.problem);
      continue;
    }
    const r = validateSheetFile(parsed.value, file, options);
    if (!r.ok) {
      problems.push(...r.problems);
      continue;
    }
    const first = seen.get(r.entity.id);
    if (first !== undefined) {
      problems.push(`${file}: id: duplicate entity id "${r.entity.id}" (also in ${first})`);
      continue;
    }
    seen.set(r.entity.id, file);
    entities.push(r.entity);
  }
  return { entities, problems };
}

async function readStructured(file: string, code: ErrorCode): Promise<unknown> {
  const parsed = await readStructuredFile(file, FILE_LIMITS.configBytes);
  if (!parsed.ok) throw new MonitorError(parsed.problem, { code, problems: [parsed.problem] });
  return parsed.value;
}

/** Loads a market snapshot file (shared/DOMAIN.md "Market state"); MARKET_INVALID with `file: path: reason`. */
export async function loadMarketFile(path: string): Promise<{ market: Market; atMs: number }> {
  const raw = await readStructured(path, ErrorCode.MARKET_INVALID);
  const r = MarketSnapshotSchema.safeParse(raw);
  if (!r.success) {
    const problems = toProblemLines(r.error.issues).map((l) => `${path}: ${l}`);
    throw new MonitorError(problems.join('\n'), { code: ErrorCode.MARKET_INVALID, problems });
  }
  const atMs = parseDateMs(r.data.at);
  if (Number.isNaN(atMs)) {
    const problem = `${path}: at: must be an ISO date-time`;
    throw new MonitorError(problem, { code: ErrorCode.MARKET_INVALID, problems: [problem] });
  }
  return { market: toMarket(r.data), atMs };
}

/** Loads the model catalog (config/catalog.yaml); CONFIG_INVALID with `file: key: reason`. */
export async function loadCatalog(path: string): Promise<Catalog> {
  const raw = await readStructured(path, ErrorCode.CONFIG_INVALID);
  const r = CatalogSchema.safeParse(raw);
  if (!r.success) {
    const problems = toProblemLines(r.error.issues).map((l) => `${path}: ${l}`);
    throw new MonitorError(problems.join('\n'), { code: ErrorCode.CONFIG_INVALID, problems });
  }
  return toCatalog(r.data);
}

/** A catalog with no models: every model is then valued from the sheet and DOMAIN.md defaults. */
export const emptyCatalog = (): Catalog => ({ models: new Map(), aliases: new Map() });
