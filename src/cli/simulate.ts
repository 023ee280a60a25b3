import { parseArgs } from 'node:util';
import { exitCodeOf, isMonitorError } from '../domain/errors.ts';
import { writeStreamFile } from '../bus/stream-file.ts';
import { DEFAULT_SCENARIOS_PATH, loadScenariosFile, simulateQuotes } from '../ingest/simulate/index.ts';

/**
 * `ccm simulate --scenario NAME --seed N --from ISO --days D --out FILE [--cadence-s N]
 *  [--scenarios FILE]`: a seeded scenario stream file (gzip NDJSON of quotes in event-time
 * order). The same arguments give the same bytes. Model and scenarios: config/scenarios.yaml.
 */
const USAGE = `usage: ccm simulate --scenario NAME --out FILE.ndjson.gz [options]

  --scenario NAME    calm, crypto_crash, compute_glut, double_leverage (or any in the scenarios file)
  --out FILE         the stream file to write (gzip NDJSON)
  --seed N           integer seed (default 42); the same seed gives the same file byte for byte
  --from ISO         start of event time (default 2025-10-01T00:00:00Z)
  --days D           days of event time to generate (default 30)
  --cadence-s N      seconds between two quotes of one source for a crypto instrument (default
                     from the scenarios file, 600); the other kinds scale by the same factor
  --scenarios FILE   the scenarios file (default ${DEFAULT_SCENARIOS_PATH})`;

export async function main(argv: readonly string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        scenario: { type: 'string' },
        seed: { type: 'string', default: '42' },
        from: { type: 'string', default: '2025-10-01T00:00:00Z' },
        days: { type: 'string', default: '30' },
        out: { type: 'string' },
        'cadence-s': { type: 'string' },
        scenarios: { type: 'string', default: DEFAULT_SCENARIOS_PATH },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    console.error(`simulate: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  if (values.scenario === undefined || values.out === undefined) {
    console.error(`simulate: --scenario and --out are required\n\n${USAGE}`);
    return 2;
  }
  const seed = Number(values.seed);
  const fromMs = Date.parse(values.from);
  const days = Number(values.days);
  const cadenceS = values['cadence-s'] === undefined ? undefined : Number(values['cadence-s']);
  const problems: string[] = [];
  if (!Number.isSafeInteger(seed)) problems.push(`simulate: --seed: '${values.seed}' must be an integer`);
  if (!/^\d{4}-\d{2}-\d{2}/.test(values.from) || Number.isNaN(fromMs)) problems.push(`simulate: --from: '${values.from}' must be an ISO date or date-time`);
  if (!(days > 0) || !Number.isFinite(days)) problems.push(`simulate: --days: '${values.days}' must be a positive number`);
  if (cadenceS !== undefined && !(cadenceS > 0 && Number.isFinite(cadenceS))) problems.push(`simulate: --cadence-s: '${values['cadence-s']}' must be a positive number`);
  if (problems.length > 0) {
    for (const p of problems) console.error(p);
    return 2;
  }

  try {
    const file = await loadScenariosFile(values.scenarios);
    if (!(values.scenario in file.scenarios)) {
      console.error(`${values.scenarios}: scenarios.${values.scenario}: no such scenario (known: ${Object.keys(file.scenarios).join(', ')})`);
      return 2;
    }
    const toMs = fromMs + days * 86_400_000;
    const count = await writeStreamFile(values.out, simulateQuotes({ file, scenario: values.scenario, seed, fromMs, toMs, cadenceS }));
    console.log(`simulate: ${count} quotes, scenario ${values.scenario}, seed ${seed}, ${new Date(fromMs).toISOString()} to ${new Date(toMs).toISOString()} -> ${values.out}`);
    return 0;
  } catch (e) {
    if (isMonitorError(e) && exitCodeOf(e) === 2) {
      console.error(e.problems.length > 0 ? e.problems.join('\n') : `simulate: ${e.message}`);
      return 2;
    }
    throw e;
  }
}
