import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { runCore } from './core.ts';
import { runFold } from './fold.ts';
import { runPipeline } from './pipeline.ts';
import { runLatency, runMemory } from './latency.ts';
import { runLimits } from './limits.ts';
import { runReplayBench } from './replay-bench.ts';
import { runHostileFiles } from './hostile-files.ts';
import { runBoardBench } from './board.ts';

/**
 * `npm run bench -- <section...> [--quick] [--no-write] [--out DIR]`: runs benchmark sections and
 * merges their results into bench/results/<YYYY-MM-DD>.json (schema in bench/README.md).
 * Sections register in SECTIONS; only implemented ones are listed.
 */

/** Sizes of the service sections (bench/pipeline.ts, bench/latency.ts, bench/replay-bench.ts); undefined = their defaults. */
export interface SectionFlags {
  readonly quotes?: number;
  readonly replayEvents?: number;
  readonly latencySeconds?: number;
  /** Offered quotes/s of the latency section (default 2,000, the issue's load). */
  readonly latencyRate?: number;
  /** Book sizes of the pipeline section (comma-separated). */
  readonly entities?: readonly number[];
  readonly cadenceMs?: number;
}

type Section = (opts: { quick: boolean; log: (line: string) => void; flags: SectionFlags }) => Promise<unknown>;

const SECTIONS: Readonly<Record<string, Section>> = {
  core: ({ quick, log }) =>
    runCore(quick ? { entities: 1_000, fullQuotes: 5, incrementalQuotes: 50, stepQuotes: 100, growth: [0, 1_000, 5_000], growthQuotes: 100, log } : { log }),
  fold: ({ quick, log, flags }) => runFold(quick ? { entityCounts: [50, 200], quotes: () => 200, log } : { entityCounts: flags.entities, log }),
  pipeline: ({ quick, log, flags }) => runPipeline(quick ? { entityCounts: [20, 50], quotes: 200, rawAt: 50, log } : { quotes: flags.quotes, entityCounts: flags.entities, cadenceMs: flags.cadenceMs, log }),
  latency: ({ quick, log, flags }) => runLatency(quick ? { entities: 20, rate: 200, seconds: 2, warmUpSeconds: 1, log } : { seconds: flags.latencySeconds, rate: flags.latencyRate, log }),
  memory: ({ quick, log }) => runMemory(quick ? { entities: 50, seconds: 2, log } : { log }),
  limits: ({ quick, log }) => runLimits(quick ? { messages: 2_000, log } : { log }),
  files: ({ quick, log }) => runHostileFiles({ runs: quick ? 1 : 5, log }),
  replay: ({ quick, log, flags }) => runReplayBench(quick ? { events: 300, entities: 30, log } : { events: flags.replayEvents, cadenceMs: flags.cadenceMs, log }),
  board: ({ quick, log }) => runBoardBench(quick ? { entities: 50, rate: 200, seconds: 2, clients: 5, borrowers: 200, repeats: 2, log } : { log }),
};

export interface ResultsFile {
  readonly schema: 1;
  readonly date: string;
  readonly machine: { readonly cores: number; readonly memoryGb: number; readonly node: string; readonly cpuModel: string };
  readonly sections: Record<string, unknown>;
}

export const machine = (): ResultsFile['machine'] => ({
  cores: cpus().length,
  memoryGb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
  node: process.version,
  cpuModel: cpus()[0]?.model ?? 'unknown',
});

/** Merges one section into the day's results file (same date: sections replace their namesakes). */
export function mergeResults(dir: string, date: string, section: string, result: unknown): string {
  mkdirSync(dir, { recursive: true });
  const path = `${dir}/${date}.json`;
  let sections: Record<string, unknown> = {};
  if (existsSync(path)) {
    const old = JSON.parse(readFileSync(path, 'utf8')) as Partial<ResultsFile>;
    if (old.schema === 1 && old.sections !== undefined) sections = { ...old.sections };
  }
  sections[section] = result;
  const file: ResultsFile = { schema: 1, date, machine: machine(), sections };
  writeFileSync(path, `${JSON.stringify(file, null, 2)}\n`);
  return path;
}

export async function main(argv: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        quick: { type: 'boolean', default: false },
        quotes: { type: 'string' },
        'replay-events': { type: 'string' },
        'latency-seconds': { type: 'string' },
        'latency-rate': { type: 'string' },
        entities: { type: 'string' },
        'cadence-ms': { type: 'string' },
        'no-write': { type: 'boolean', default: false },
        out: { type: 'string', default: new URL('./results', import.meta.url).pathname },
      },
    });
  } catch (e) {
    process.stderr.write(`bench: ${(e as Error).message}\n`);
    return 2;
  }
  const names = parsed.positionals;
  const num = (flag: string, v: string | boolean | undefined): number | undefined => {
    if (typeof v !== 'string') return undefined;
    const n = Number(v.replace(/_/g, ''));
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${flag} must be a positive integer, got '${v}'`);
    return n;
  };
  let flags: SectionFlags;
  try {
    const entities = parsed.values.entities;
    flags = {
      quotes: num('quotes', parsed.values.quotes),
      replayEvents: num('replay-events', parsed.values['replay-events']),
      latencySeconds: num('latency-seconds', parsed.values['latency-seconds']),
      latencyRate: num('latency-rate', parsed.values['latency-rate']),
      cadenceMs: num('cadence-ms', parsed.values['cadence-ms']),
      entities: typeof entities === 'string' ? entities.split(',').map((e) => num('entities', e) as number) : undefined,
    };
  } catch (e) {
    process.stderr.write(`bench: ${(e as Error).message}\n`);
    return 2;
  }
  const unknown = names.filter((n) => !(n in SECTIONS));
  if (names.length === 0 || unknown.length > 0) {
    process.stderr.write(`bench: ${unknown.length > 0 ? `unknown section ${unknown.join(', ')}; ` : ''}usage: npm run bench -- <${Object.keys(SECTIONS).join('|')}>... [--quick] [--no-write] [--out DIR] [--quotes N] [--entities N,N] [--cadence-ms MS] [--replay-events N] [--latency-seconds S] [--latency-rate N]\n`);
    return 2;
  }
  const date = new Date().toISOString().slice(0, 10);
  for (const name of names) {
    const result = await SECTIONS[name]({ quick: parsed.values.quick === true, flags, log: (line) => process.stderr.write(`${line}\n`) });
    // A latency run at another offered load is kept beside the 2,000/s one, not over it.
    const key = name === 'latency' && flags.latencyRate !== undefined && flags.latencyRate !== 2_000 && parsed.values.quick !== true ? `latency-${flags.latencyRate}` : name;
    process.stdout.write(`${JSON.stringify({ section: key, result }, null, 2)}\n`);
    if (parsed.values['no-write'] !== true) process.stderr.write(`bench: ${key} written to ${mergeResults(parsed.values.out as string, date, key, result)}\n`);
  }
  return 0;
}

if (process.argv[1] !== undefined && new URL(import.meta.url).pathname === process.argv[1]) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
