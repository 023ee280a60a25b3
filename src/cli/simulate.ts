import { Option, type Command } from 'commander';
import { writeStreamFile } from '../bus/stream-file.ts';
import { DEFAULT_SCENARIOS_PATH, loadScenariosFile, simulateQuotes } from '../ingest/simulate/index.ts';
import { assertWritableFile } from './output-paths.ts';
import { integer, isoTime, positiveNumber, scenarioHelp, type CommandAction } from './options.ts';

/**
 * `ccm simulate --scenario NAME --seed N --from ISO --days D --out FILE [--cadence-s N]
 *  [--scenarios FILE]`: a seeded scenario stream file (gzip NDJSON of quotes in event-time
 * order). The same arguments give the same bytes. Model and scenarios: config/scenarios.yaml.
 */
const DEFAULT_FROM = '2025-10-01T00:00:00Z';

interface SimulateOptions {
  readonly scenario: string;
  readonly out: string;
  readonly seed: number;
  readonly from: number;
  readonly days: number;
  readonly cadenceS?: number;
  readonly scenarios: string;
}

export function define(cmd: Command): CommandAction {
  cmd
    .requiredOption('--scenario <name>', 'a scenario of the scenarios file (listed below)')
    .requiredOption('--out <file>', 'the stream file to write (gzip NDJSON)')
    .option('--seed <n>', 'integer seed; the same seed gives the same file byte for byte', integer, 42)
    .addOption(new Option('--from <iso>', 'start of event time').argParser(isoTime).default(Date.parse(DEFAULT_FROM), DEFAULT_FROM))
    .option('--days <d>', 'days of event time to generate', positiveNumber, 30)
    .option('--cadence-s <s>', 'seconds between two quotes of one source for a crypto instrument (default from the scenarios file, 600); the other kinds scale by the same factor', positiveNumber)
    .option('--scenarios <file>', 'the scenarios file', DEFAULT_SCENARIOS_PATH)
    .addHelpText('after', () => scenarioHelp(cmd.opts<Partial<SimulateOptions>>().scenarios ?? DEFAULT_SCENARIOS_PATH));
  return () => simulate(cmd.opts<SimulateOptions>());
}

async function simulate(values: SimulateOptions): Promise<number> {
  const { seed, from: fromMs, days } = values;
  await assertWritableFile(values.out);
  const file = await loadScenariosFile(values.scenarios);
  if (!(values.scenario in file.scenarios)) {
    console.error(`${values.scenarios}: scenarios.${values.scenario}: no such scenario (known: ${Object.keys(file.scenarios).join(', ')})`);
    return 2;
  }
  const toMs = fromMs + days * 86_400_000;
  const count = await writeStreamFile(values.out, simulateQuotes({ file, scenario: values.scenario, seed, fromMs, toMs, cadenceS: values.cadenceS }));
  console.log(`simulate: ${count} quotes, scenario ${values.scenario}, seed ${seed}, ${new Date(fromMs).toISOString()} to ${new Date(toMs).toISOString()} -> ${values.out}`);
  return 0;
}
