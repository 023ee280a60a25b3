import { isInstrumentId } from '../domain/market/instruments.ts';
import type { Quote } from '../domain/market/quote.ts';
import { ErrorCode, MonitorError } from '../domain/errors.ts';
import { topicNames } from '../bus/topics.ts';
import type { StreamRecord } from '../bus/stream-file.ts';

/**
 * CSV import (`ccm import-csv`): a CSV of prices -> quote records for one instrument, sorted by
 * event time, ready for `writeStreamFile`. Pure: text in, records and counts out.
 *
 * Dates: `YYYY-MM-DD` (00:00 UTC that day), `YYYY-MM` (00:00 UTC on the 1st), ISO date-times
 * (`2018-03-17 00:00:00+00:00`, `2024-01-01T00:00:00Z`; without an offset they are read as UTC),
 * or epoch numbers (seconds, or milliseconds above 1e11).
 * Columns: the date column is the first whose header looks like a date (`date`, `Date`,
 * `open_time`, `month`, `timestamp`, `time`, `datetime`); the value column is `close` when there
 * is one, else the second column. Rows whose value cell is empty are skipped and counted (the
 * GPU rate card leaves withheld months empty, shared/data/README.md).
 * Each quote: `{ v: 1, instrument, price, source, ts, tsSource: 'source', receivedAt: ts }`, in a
 * record `{ topic: 'quotes', key: instrument, ts, value }` (ARCHITECTURE.md stream files).
 */
export interface ImportCsvOptions {
  readonly instrument: string;
  readonly dateCol?: string;
  readonly valueCol?: string;
  /** Days added to every date (the Coinbase files date each candle one day early: +1). */
  readonly shiftDays?: number;
  /** The quote's `source`; default `csv`. */
  readonly source?: string;
  /** Keep only rows where every column equals its value (`gpu=H100`). */
  readonly where?: readonly CsvFilter[];
  /** Drop the last row that has a value (after filtering): a daily export's last row is often a partial day. */
  readonly dropLast?: boolean;
}

export interface CsvFilter {
  readonly column: string;
  readonly value: string;
}

export interface ImportCsvResult {
  readonly records: readonly StreamRecord[];
  /** Data rows read (after the header, blank lines left out). */
  readonly rows: number;
  /** Rows left out by `where`. */
  readonly filteredOut: number;
  /** Rows without a value (skipped). */
  readonly skippedNoValue: number;
  /** 1 when `dropLast` dropped a row. */
  readonly dropped: number;
  readonly dateColumn: string;
  readonly valueColumn: string;
  /** The header row, so a caller can name the columns it did not take. */
  readonly header: readonly string[];
}

const QUOTES_TOPIC = topicNames('').quotes;
const DAY_MS = 86_400_000;
const DATE_HEADERS = ['date', 'open_time', 'month', 'timestamp', 'time', 'datetime', 'day'];

const bad = (message: string): MonitorError => new MonitorError(message, { code: ErrorCode.USAGE, problems: [message] });

/** Parses `COL=VALUE`. */
export function toCsvFilter(s: string): CsvFilter {
  const i = s.indexOf('=');
  if (i <= 0) throw bad(`--where: '${s}' must be COLUMN=VALUE`);
  return { column: s.slice(0, i).trim(), value: s.slice(i + 1).trim() };
}

/** Splits CSV text into rows of cells (RFC 4180: quoted cells, doubled quotes, CRLF or LF). */
export function toCsvRows(text: string): string[][] {
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (quoted) {
      if (c === '"') {
        if (src[i + 1] === '"') {
          cell += '"';
          i++;
        } else quoted = false;
      } else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && src[i + 1] === '\n') i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += c;
  }
  if (cell !== '' || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows.filter((r) => !(r.length === 1 && r[0].trim() === ''));
}

/** Event time (ms UTC) of a date cell, or null when it is not a date. */
export function toEventTimeMs(cell: string): number | null {
  const s = cell.trim();
  if (/^\d+(\.\d+)?$/.test(s)) {
    const n = Number(s);
    return Math.round(n > 1e11 ? n : n * 1000);
  }
  let m = /^(\d{4})-(\d{2})$/.exec(s);
  if (m) return validUtc(Number(m[1]), Number(m[2]), 1);
  m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (m) return validUtc(Number(m[1]), Number(m[2]), Number(m[3]));
  if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/.test(s)) {
    const iso = s.replace(' ', 'T');
    // Without an offset the time is UTC (stream times are UTC), never the machine's zone.
    const withZone = /(Z|[+-]\d{2}:?\d{2})$/.test(iso) ? iso : `${iso}Z`;
    const t = Date.parse(withZone);
    return Number.isNaN(t) ? null : t;
  }
  return null;
}

function validUtc(y: number, mo: number, d: number): number | null {
  const t = Date.UTC(y, mo - 1, d);
  const back = new Date(t);
  return back.getUTCFullYear() === y && back.getUTCMonth() === mo - 1 && back.getUTCDate() === d ? t : null;
}

function pickDateColumn(header: readonly string[], wanted: string | undefined): number {
  if (wanted !== undefined) return header.indexOf(wanted);
  return header.findIndex((h) => DATE_HEADERS.includes(h.trim().toLowerCase()));
}

function pickValueColumn(header: readonly string[], wanted: string | undefined): number {
  if (wanted !== undefined) return header.indexOf(wanted);
  const close = header.findIndex((h) => h.trim().toLowerCase() === 'close');
  return close >= 0 ? close : header.length > 1 ? 1 : -1;
}

/**
 * Turns CSV text into quote records for one instrument, sorted by event time (a stable sort, so
 * rows of equal time keep their order). Throws a MonitorError (code USAGE, `line N: reason`) for
 * bad input: an unknown column, a date or a value that cannot be read, a price <= 0.
 */
export function toImportRecords(csvText: string, opts: ImportCsvOptions): ImportCsvResult {
  if (!isInstrumentId(opts.instrument)) throw bad(`--instrument: '${opts.instrument}' is not an instrument id (BTC, ETH, rental:<model>, resale:<model>, hashprice)`);
  const source = opts.source ?? 'csv';
  const shiftMs = Math.round((opts.shiftDays ?? 0) * DAY_MS);
  const all = toCsvRows(csvText);
  if (all.length === 0) throw bad('line 1: empty file, a header row is needed');
  const header = all[0].map((h) => h.trim());
  const dateIdx = pickDateColumn(header, opts.dateCol);
  if (dateIdx < 0) throw bad(opts.dateCol !== undefined ? `--date-col: no column '${opts.dateCol}' in the header (${header.join(', ')})` : `line 1: no date column (date, open_time, month, timestamp) in the header; name one with --date-col`);
  const valueIdx = pickValueColumn(header, opts.valueCol);
  if (valueIdx < 0) throw bad(opts.valueCol !== undefined ? `--value-col: no column '${opts.valueCol}' in the header (${header.join(', ')})` : 'line 1: no value column; name one with --value-col');
  const filters = (opts.where ?? []).map((f) => {
    const idx = header.indexOf(f.column);
    if (idx < 0) throw bad(`--where: no column '${f.column}' in the header (${header.join(', ')})`);
    return { idx, value: f.value };
  });

  let filteredOut = 0;
  let skippedNoValue = 0;
  const kept: Array<{ ts: number; price: number }> = [];
  for (let r = 1; r < all.length; r++) {
    const row = all[r];
    const line = r + 1;
    if (!filters.every((f) => (row[f.idx] ?? '').trim() === f.value)) {
      filteredOut++;
      continue;
    }
    const valueCell = (row[valueIdx] ?? '').trim();
    if (valueCell === '') {
      skippedNoValue++;
      continue;
    }
    const ts = toEventTimeMs(row[dateIdx] ?? '');
    if (ts === null) throw bad(`line ${line}: ${header[dateIdx]}: '${row[dateIdx] ?? ''}' is not a date (YYYY-MM-DD, YYYY-MM, ISO date-time or epoch)`);
    const price = Number(valueCell);
    if (!Number.isFinite(price) || price <= 0) throw bad(`line ${line}: ${header[valueIdx]}: '${valueCell}' must be a positive number`);
    kept.push({ ts: ts + shiftMs, price });
  }
  const dataRows = all.length - 1;
  let dropped = 0;
  if (opts.dropLast === true && kept.length > 0) {
    // The last row of the file (before sorting): the one an export cut mid-day.
    kept.pop();
    dropped = 1;
  }
  const sorted = kept.map((k, i) => ({ ...k, i })).sort((a, b) => a.ts - b.ts || a.i - b.i);
  const records = sorted.map(({ ts, price }): StreamRecord => {
    if (ts < 0) throw bad(`a date before 1970 cannot be an event time`);
    const value: Quote = { v: 1, instrument: opts.instrument, price, source, ts, tsSource: 'source', receivedAt: ts };
    return { topic: QUOTES_TOPIC, key: opts.instrument, ts, value };
  });
  return { records, rows: dataRows, filteredOut, skippedNoValue, dropped, dateColumn: header[dateIdx], valueColumn: header[valueIdx], header };
}
