import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { parseArgs } from 'node:util';
import { isMonitorError } from '../domain/errors.ts';
import { writeStreamFile } from '../bus/stream-file.ts';
import { toCsvFilter, toImportRecords, type CsvFilter } from '../ingest/import-csv.ts';

/**
 * `ccm import-csv --instrument ID --file F --out FILE [--date-col C] [--value-col C]
 *  [--shift-days N] [--source NAME] [--where COL=VALUE ...] [--drop-last]`:
 * a CSV of prices -> a stream file of quotes (gzip NDJSON, event-time order). Parsing rules in
 * src/ingest/import-csv.ts. Exit 2 with `file: reason` on stderr for bad input.
 */
const USAGE = `usage: ccm import-csv --instrument ID --file CSV --out FILE.ndjson.gz [options]

  --instrument ID     BTC, ETH, rental:<model>, resale:<model> or hashprice
  --file CSV          the CSV to read (a header row, then one price per row)
  --out FILE          the stream file to write (gzip NDJSON; .ndjson/.jsonl names are still gzip)
  --date-col C        date column (default: the first named date, Date, open_time, month, timestamp)
  --value-col C       value column (default: close if present, else the second column)
  --shift-days N      add N days to every date (Coinbase daily files: 1)
  --source NAME       the quotes' source (default: csv:<file name>)
  --where COL=VALUE   keep only rows where COL equals VALUE (repeatable; e.g. gpu=H100)
  --drop-last         drop the last row with a value (a partial day at the end of an export)`;

export async function main(argv: readonly string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        instrument: { type: 'string' },
        file: { type: 'string' },
        out: { type: 'string' },
        'date-col': { type: 'string' },
        'value-col': { type: 'string' },
        'shift-days': { type: 'string' },
        source: { type: 'string' },
        where: { type: 'string', multiple: true },
        'drop-last': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    console.error(`import-csv: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  const { instrument, file, out } = values;
  if (instrument === undefined || file === undefined || out === undefined) {
    console.error(`import-csv: --instrument, --file and --out are required\n\n${USAGE}`);
    return 2;
  }
  const shiftDays = values['shift-days'] === undefined ? 0 : Number(values['shift-days']);
  if (!Number.isFinite(shiftDays)) {
    console.error(`import-csv: --shift-days: '${values['shift-days']}' must be a number`);
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
      dateCol: values['date-col'],
      valueCol: values['value-col'],
      shiftDays,
      source: values.source ?? `csv:${basename(file, extname(file))}`,
      where,
      dropLast: values['drop-last'] === true,
    });
  } catch (e) {
    if (isMonitorError(e)) {
      console.error(`${file}: ${e.message}`);
      return 2;
    }
    throw e;
  }
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
