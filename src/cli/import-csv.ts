import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import type { Command } from 'commander';
import { isMonitorError } from '../domain/errors.ts';
import { loadCatalog } from '../config/load-sheets.ts';
import { resolveModel, type Catalog } from '../domain/sheet/catalog.ts';
import { CRYPTO, rentalId, resaleId } from '../domain/market/instruments.ts';
import { assertWritableFile } from './output-paths.ts';
import { collect, finiteNumber, type CommandAction } from './options.ts';
import { writeStreamFile } from '../bus/stream-file.ts';
import { toCsvFilter, toImportRecords, type CsvFilter } from '../ingest/import-csv.ts';

/**
 * `ccm import-csv --instrument ID --file F --out FILE [--date-col C] [--value-col C]
 *  [--shift-days N] [--source NAME] [--where COL=VALUE ...] [--drop-last]`:
 * a CSV of prices -> a stream file of quotes (gzip NDJSON, event-time order). Parsing rules in
 * src/ingest/import-csv.ts. Exit 2 with `file: reason` on stderr for bad input.
 */
const DEFAULT_CATALOG = 'config/catalog.yaml';

interface ImportCsvCliOptions {
  readonly instrument: string;
  readonly file: string;
  readonly out: string;
  readonly dateCol?: string;
  readonly valueCol?: string;
  readonly shiftDays: number;
  readonly source?: string;
  readonly where?: string[];
  readonly dropLast?: boolean;
  readonly catalog: string;
}

export function define(cmd: Command): CommandAction {
  cmd
    .requiredOption('--instrument <id>', 'BTC, ETH, hashprice, rental:<model> or resale:<model> (a catalog id; an unknown one is refused with the list)')
    .requiredOption('--file <csv>', 'the CSV to read (a header row, then one price per row)')
    .requiredOption('--out <file>', 'the stream file to write (gzip NDJSON)')
    .option('--date-col <c>', 'date column (default: the first named date, Date, open_time, month or timestamp)')
    .option('--value-col <c>', 'value column (default: close if present, else the second column)')
    .option('--shift-days <n>', 'add N days to every date (Coinbase daily files: 1)', finiteNumber, 0)
    .option('--source <name>', "the quotes' source (default: csv:<file name>)")
    .option('--where <col=value>', 'keep only rows where COL equals VALUE (repeatable; e.g. gpu=H100)', collect)
    .option('--drop-last', 'drop the last row with a value (a partial day at the end of an export)')
    .option('--catalog <file>', 'the GPU/ASIC catalog that says which models exist', DEFAULT_CATALOG);
  return () => importCsv(cmd.opts<ImportCsvCliOptions>());
}

/** The instrument ids the catalog knows, in the grammar of ARCHITECTURE.md "Identifiers". */
export function knownInstruments(catalog: Catalog): string[] {
  const models = [...catalog.models.values()];
  return [...CRYPTO, 'hashprice', ...models.filter((m) => m.class === 'gpu').map((m) => rentalId(m.id)), ...models.map((m) => resaleId(m.id))];
}

/** Why an instrument id is refused, or null when the catalog knows it. */
export function unknownInstrumentReason(id: string, catalog: Catalog): string | null {
  const known = knownInstruments(catalog);
  if (known.includes(id)) return null;
  const suggestion = nearestInstrument(id, catalog, known);
  const hint = suggestion === null ? '' : ` (did you mean ${suggestion}?)`;
  return `--instrument: '${id}' is not a known instrument${hint}; known: ${known.join(', ')}`;
}

/** The known id a mistyped one most likely means: another case, or a model spelled as a source spells it. */
function nearestInstrument(id: string, catalog: Catalog, known: readonly string[]): string | null {
  const sameLetters = known.find((k) => k.toLowerCase() === id.toLowerCase());
  if (sameLetters !== undefined) return sameLetters;
  const i = id.indexOf(':');
  if (i < 0) return null;
  const model = resolveModel(catalog, id.slice(i + 1));
  if (model === null) return null;
  const prefix = id.slice(0, i).toLowerCase();
  const candidate = prefix === 'rental' ? rentalId(model) : prefix === 'resale' ? resaleId(model) : null;
  return candidate !== null && known.includes(candidate) ? candidate : null;
}

async function importCsv(values: ImportCsvCliOptions): Promise<number> {
  const { instrument, file, out } = values;
  const catalog = await loadCatalog(values.catalog);
  await assertWritableFile(out);
  const refused = unknownInstrumentReason(instrument, catalog);
  if (refused !== null) {
    console.error(`import-csv: ${refused}`);
    return 2;
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    console.error(`${file}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    return 2;
  }
  let result;
  try {
    const where: CsvFilter[] = (values.where ?? []).map(toCsvFilter);
    result = toImportRecords(text, {
      instrument,
      dateCol: values.dateCol,
      valueCol: values.valueCol,
      shiftDays: values.shiftDays,
      source: values.source ?? `csv:${basename(file, extname(file))}`,
      where,
      dropLast: values.dropLast === true,
    });
  } catch (e) {
    if (isMonitorError(e)) {
      console.error(`${file}: ${e.message}`);
      return 2;
    }
    throw e;
  }
  if (values.valueCol === undefined) console.error(columnChoice(result.valueColumn, result.header, result.dateColumn));
  await writeStreamFile(out, result.records);
  const first = result.records[0];
  const last = result.records.at(-1);
  const span = first && last ? ` from ${new Date(first.ts).toISOString()} to ${new Date(last.ts).toISOString()}` : '';
  console.log(
    `import-csv: ${result.records.length} quotes of ${instrument}${span} -> ${out} ` +
      `(${result.rows} rows; date column ${result.dateColumn}, value column ${result.valueColumn}; ` +
      `skipped without a value: ${result.skippedNoValue}; filtered out: ${result.filteredOut}; dropped last: ${result.dropped})`,
  );
  return 0;
}

/** Says which column became the price when the user did not name one, and how to take another. */
function columnChoice(valueColumn: string, header: readonly string[], dateColumn: string): string {
  const others = header.filter((h) => h !== valueColumn && h !== dateColumn);
  const why = valueColumn.trim().toLowerCase() === 'close' ? "the 'close' column" : 'the second column (no close column)';
  return `import-csv: took '${valueColumn}' as the price, ${why}${others.length > 0 ? `; to take another, --value-col ${others.map((o) => `'${o}'`).join(' or ')}` : ''}`;
}
