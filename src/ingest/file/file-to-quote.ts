import type { Catalog } from '../../domain/sheet/catalog.ts';
import type { Mapped } from '../quote-source.ts';
import { quoted, rejected } from '../quote-source.ts';
import { toModelInstrument } from '../model-instrument.ts';
import { toEpochMs, toNumber } from '../json-path.ts';

/**
 * Broker quotes and auction results dropped into a watched directory (ingest.files[]), as CSV with
 * a header row or JSON (an array of rows, or `{ "quotes": [...] }`). Columns / keys:
 * `model` (required, any spelling the catalog knows), `price` (required, USD for the whole lot),
 * `units` (optional, price / units = per unit; default 1), `currency` (optional, must be USD, USDT or USDC),
 * `ts` (optional ISO or epoch; else the receipt time). Rows that fail are rejected one by one.
 */
export interface FileRow {
  readonly [k: string]: unknown;
}

/** RFC 4180-ish CSV: commas, double quotes with "" escapes, CRLF or LF. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let inQuotes = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inQuotes) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') inQuotes = false;
      else cell += c;
    } else if (c === '"') inQuotes = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      if (row.some((x) => x.trim() !== '')) rows.push(row);
      row = [];
      cell = '';
    } else cell += c;
  }
  row.push(cell);
  if (row.some((x) => x.trim() !== '')) rows.push(row);
  return rows;
}

/** Decodes a file's text into rows; a file that cannot be read as rows is one rejection. */
export function fileRows(fileName: string, text: string): { ok: true; rows: FileRow[] } | { ok: false; reason: string } {
  if (/\.json$/i.test(fileName)) {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      return { ok: false, reason: `${fileName}: not JSON (${(e as Error).message})` };
    }
    const rows = Array.isArray(v) ? v : (v as { quotes?: unknown } | null)?.quotes;
    if (!Array.isArray(rows)) return { ok: false, reason: `${fileName}: expected an array of rows or { "quotes": [...] }` };
    return { ok: true, rows: rows as FileRow[] };
  }
  if (/\.csv$/i.test(fileName)) {
    const [header, ...body] = parseCsv(text);
    if (!header) return { ok: false, reason: `${fileName}: empty CSV` };
    const cols = header.map((h) => h.trim().toLowerCase());
    if (!cols.includes('model') || !cols.includes('price')) return { ok: false, reason: `${fileName}: CSV header needs model and price columns` };
    return { ok: true, rows: body.map((cells) => Object.fromEntries(cols.map((c, i) => [c, cells[i]?.trim() ?? '']))) };
  }
  return { ok: false, reason: `${fileName}: only .csv and .json files are read` };
}

export function fileToQuotes(fileName: string, text: string, o: { catalog: Catalog; kind: 'rental' | 'resale'; source: string; receivedAt: number }): Mapped[] {
  const decoded = fileRows(fileName, text);
  if (!decoded.ok) return [rejected(decoded.reason, text.slice(0, 10_000))];
  return decoded.rows.map((row, i): Mapped => {
    const where = `${fileName}: row ${i + 1}`;
    const model = row?.model;
    if (typeof model !== 'string' || model.trim() === '') return rejected(`${where}: no model`, row);
    if (row.price === undefined || row.price === '') return rejected(`${where}: no price`, row);
    const currency = row.currency === undefined || row.currency === '' ? 'USD' : String(row.currency).toUpperCase();
    if (!['USD', 'USDT', 'USDC'].includes(currency)) return rejected(`${where}: currency ${currency} is not USD`, row);
    const units = row.units === undefined || row.units === '' ? 1 : toNumber(row.units);
    if (!Number.isFinite(units) || units <= 0) return rejected(`${where}: units must be a positive number`, row);
    let ts = o.receivedAt;
    let tsSource: 'source' | 'receipt' = 'receipt';
    if (row.ts !== undefined && row.ts !== '') {
      const t = toEpochMs(row.ts);
      if (t === null) return rejected(`${where}: unreadable ts ${JSON.stringify(row.ts)}`, row);
      ts = t;
      tsSource = 'source';
    }
    const m = toModelInstrument(o.catalog, o.kind, model.trim());
    return quoted(
      { v: 1, instrument: m.instrument, price: toNumber(row.price) / units, source: o.source, ts, tsSource, receivedAt: o.receivedAt, ...(m.unknownModel ? { unknownModel: m.unknownModel } : {}) },
      { file: fileName, row },
    );
  });
}
