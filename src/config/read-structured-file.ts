import { open } from 'node:fs/promises';
import { parseDocument } from 'yaml';

/**
 * Reads a YAML or JSON file a person wrote (a sheet, the config, the catalog, a market file, the
 * scenarios) within limits that keep a hostile file from stalling or crashing the process
 * (docs/reliability.md "Hostile files"). Every refusal is one `file: (root): reason` line; nothing
 * throws.
 *
 * - Size: the file's size is asked of the file system first, and only the limit's worth is ever
 *   read, so a 50 MB file costs a `stat`, not 50 MB of memory and a parse. The yaml library parses
 *   some 0.2 to 0.5 MB/s on a loaded machine, so the limits keep a parse well under a second.
 * - Nesting: flow collections (`[`, `{`) nested deeper than `MAX_FLOW_DEPTH` are refused before the
 *   parser sees them (about 8,000 levels made the yaml parser exhaust the process's memory: a
 *   fatal V8 error no `catch` sees). Block nesting is bounded by the size: its indentation grows
 *   with the square of the depth.
 * - Aliases: a YAML alias bomb (anchors that expand to each other, "billion laughs") is stopped
 *   by the parser's `maxAliasCount` when it is turned into values, and reported as such.
 * - JSON is YAML: `.json` files go through the same parser, so errors look the same.
 */
export const FILE_LIMITS = {
  /**
   * A balance sheet: the largest sample is 6 KB; a 1,000-item fleet (the most a sheet may hold) in
   * block YAML is about 96 KB. The biggest file allowed parses in about half a second on a loaded
   * machine (docs/reliability.md).
   */
  sheetBytes: 128 * 1024,
  /** config/default.yaml, a --config file, the catalog (9 KB), the scenarios (7 KB), a market file. */
  configBytes: 128 * 1024,
  maxFlowDepth: 64,
  /** Alias nodes resolved per document (the yaml library's default, stated here so it is a decision). */
  maxAliasCount: 100,
} as const;

export type ReadResult = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly problem: string };

const MIB = 1024 * 1024;
const sizeText = (bytes: number): string => (bytes >= MIB ? `${(bytes / MIB).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(bytes >= 10 * 1024 ? 0 : 1)} KiB`);

/** Reads at most `maxBytes` + 1 bytes of a file; refuses a bigger one without reading the rest. */
export async function readBoundedText(file: string, maxBytes: number): Promise<{ ok: true; text: string } | { ok: false; problem: string }> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (e) {
    return { ok: false, problem: `${file}: (root): ${errnoText(e)}` };
  }
  try {
    const st = await handle.stat();
    if (st.isDirectory()) return { ok: false, problem: `${file}: (root): is a directory` };
    if (st.size > maxBytes) return { ok: false, problem: `${file}: (root): the file is ${sizeText(st.size)}, more than the ${sizeText(maxBytes)} such a file may hold` };
    // A file that grows between the stat and the read (or a device) is still read only to the limit.
    const buf = Buffer.alloc(maxBytes + 1);
    const { bytesRead } = await handle.read(buf, 0, maxBytes + 1, 0);
    if (bytesRead > maxBytes) return { ok: false, problem: `${file}: (root): the file is more than the ${sizeText(maxBytes)} such a file may hold` };
    return { ok: true, text: buf.subarray(0, bytesRead).toString('utf8') };
  } catch (e) {
    return { ok: false, problem: `${file}: (root): ${errnoText(e)}` };
  } finally {
    await handle.close();
  }
}

/**
 * The deepest nesting of flow collections in YAML/JSON text, skipping quoted strings and comments;
 * stops counting as soon as `limit` is passed. Conservative: a bracket inside a plain scalar counts.
 */
export function flowDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote === '"') {
      if (c === '\\') i++;
      else if (c === '"') quote = null;
      continue;
    }
    if (quote === "'") {
      if (c === "'") {
        if (text[i + 1] === "'") i++;
        else quote = null;
      }
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(text[i - 1]))) {
      const nl = text.indexOf('\n', i);
      i = nl < 0 ? text.length : nl;
    } else if (c === '[' || c === '{') {
      if (++depth > limit) return true;
    } else if ((c === ']' || c === '}') && depth > 0) depth--;
  }
  return false;
}

/** Parses YAML/JSON text within the nesting and alias limits. */
export function parseStructuredText(text: string, file: string): ReadResult {
  if (flowDepthExceeds(text, FILE_LIMITS.maxFlowDepth)) {
    return { ok: false, problem: `${file}: (root): brackets nested more than ${FILE_LIMITS.maxFlowDepth} deep` };
  }
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const where = e.linePos?.[0] ? ` (line ${e.linePos[0].line}, column ${e.linePos[0].col})` : '';
    return { ok: false, problem: `${file}: (root): not valid YAML or JSON: ${e.message.split('\n')[0]}${where}` };
  }
  try {
    return { ok: true, value: doc.toJS({ maxAliasCount: FILE_LIMITS.maxAliasCount }) as unknown };
  } catch (e) {
    // yaml throws a ReferenceError for an alias expansion past maxAliasCount
    const message = (e as Error).message;
    const reason = /alias/i.test(message) ? `YAML aliases expand to more than ${FILE_LIMITS.maxAliasCount} nodes (an alias bomb?)` : `cannot be read as YAML or JSON: ${message.split('\n')[0]}`;
    return { ok: false, problem: `${file}: (root): ${reason}` };
  }
}

/** Reads and parses a YAML/JSON file within the limits (size first, then nesting and aliases). */
export async function readStructuredFile(file: string, maxBytes: number): Promise<ReadResult> {
  const text = await readBoundedText(file, maxBytes);
  if (!text.ok) return text;
  return parseStructuredText(text.text, file);
}

function errnoText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EISDIR') return 'is a directory';
  if (code === 'EACCES') return 'permission denied';
  return (e as Error).message;
}
