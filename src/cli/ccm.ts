#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { exitCodeOf, isMonitorError } from '../domain/errors.ts';
import type { DefineCommand } from './options.ts';
import { systemErrorLine } from './system-errors.ts';

/**
 * `ccm`: the entry point, on commander. The registry below names every command with a one-line
 * summary and how to load its module; only the module of the command being run (or asked for
 * `--help`) is loaded, so `ccm process` never loads ccxt (the ingestors' library; a
 * dependency-cruiser rule checks it) and `ccm --help` loads none. A command module exports a
 * `define(cmd)` that declares its options on the commander `Command` made here and returns the
 * action, which resolves to the exit code: 0, 1 when something failed for good, 2 for bad usage
 * or input (`file: key: reason` on stderr, never a stack trace).
 *
 * To add a command: write `src/cli/<name>.ts` exporting `define`, and add one line here.
 */
interface CommandEntry {
  readonly summary: string;
  readonly load: () => Promise<DefineCommand>;
}

export const COMMANDS: Readonly<Record<string, CommandEntry>> = {
  run: { summary: 'ingest, processor and sink in one process (the embedded default without config)', load: () => import('./run.ts').then((m) => m.define) },
  process: { summary: 'the stream processor only: entities + quotes from Kafka to InfluxDB and output topics', load: () => import('./process.ts').then((m) => m.define) },
  ingest: { summary: 'the ingestors only: exchanges, GPU marketplaces, resale feeds into Kafka', load: () => import('./ingest.ts').then((m) => m.define) },
  backfill: { summary: 'page through exchange candles (ccxt fetchOHLCV) into a stream file or the history topic', load: () => import('./backfill.ts').then((m) => m.define) },
  value: { summary: 'value one entity sheet against a market file', load: () => import('./value.ts').then((m) => m.define) },
  contagion: { summary: 'the fire-sale cascade of a book against a market file: who follows a default', load: () => import('./contagion.ts').then((m) => m.define) },
  'entities validate': { summary: 'check every sheet in a directory', load: () => import('./entities-validate.ts').then((m) => m.define) },
  'entities publish': { summary: 'validate the sheets and publish each entity to the entities topic', load: () => import('./entities-publish.ts').then((m) => m.define) },
  replay: { summary: 'replay stream files or a Kafka time range through the processor under a run name', load: () => import('./replay.ts').then((m) => m.define) },
  'runs list': { summary: 'list the runs: events, time range, alerts, when made, size', load: () => import('./runs.ts').then((m) => m.defineList) },
  'runs delete': { summary: 'delete a run (its replay topics and InfluxDB series)', load: () => import('./runs.ts').then((m) => m.defineDelete) },
  record: { summary: 'write the quotes topic to stream files, one per day', load: () => import('./record.ts').then((m) => m.define) },
  'market snapshot': { summary: 'write the market state of a run at an instant as a market file (for ccm value)', load: () => import('./market-snapshot.ts').then((m) => m.define) },
  simulate: { summary: 'generate a scenario stream file (seeded, deterministic)', load: () => import('./simulate.ts').then((m) => m.define) },
  'import-csv': { summary: 'turn a CSV of prices into a stream file', load: () => import('./import-csv.ts').then((m) => m.define) },
};

/** The parents of two-word commands (`ccm runs list`). */
const GROUPS: Readonly<Record<string, string>> = {
  entities: 'entity sheets: validate them, publish them to Kafka',
  runs: 'the runs (replays, the demo, live): list them, delete one',
  market: 'the market of a run',
};

const DESCRIPTION = 'compute-credit-monitor: the credit risk of GPU- and crypto-backed loans, streamed';

function version(): string {
  // package.json sits two levels up from src/cli/ and from dist/cli/ alike
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** The command named by the first words of argv (after an optional `help`), if any. */
function targetOf(argv: readonly string[]): string | null {
  const words = argv[0] === 'help' ? argv.slice(1) : argv;
  const two = words.length >= 2 ? `${words[0]} ${words[1]}` : '';
  if (two !== '' && COMMANDS[two]) return two;
  if (words[0] !== undefined && COMMANDS[words[0]]) return words[0];
  return null;
}

/** commander's `error: option '--from <iso>' argument 'x' is invalid. must be...` as `--from: 'x' must be...`. */
export function toUsageLine(message: string): string {
  const s = message.replace(/^error: /, '');
  const m = /^option '(--[\w-]+)[^']*' argument '(.*)' is invalid\. (.*)$/s.exec(s);
  return m ? `${m[1]}: '${m[2]}' ${m[3]}` : s;
}

function buildProgram(): { program: Command; leaves: Map<string, Command> } {
  const program = new Command('ccm')
    .description(DESCRIPTION)
    .version(version(), '-V, --version', 'print the version')
    .exitOverride()
    .showSuggestionAfterError()
    .configureOutput({
      // console.* so that tests (and anything redirecting the console) capture the output
      writeOut: (s) => console.log(s.replace(/\n$/, '')),
      writeErr: (s) => console.error(s.replace(/\n$/, '')),
      outputError: (s, write) => write(s.replace(/^error: /, 'ccm: ')),
    });
  program.addHelpText('after', '\nRun `ccm <command> --help` for the options of a command.');
  const leaves = new Map<string, Command>();
  const groups = new Map<string, Command>();
  for (const [name, entry] of Object.entries(COMMANDS)) {
    const [first, second] = name.split(' ');
    let parent = program;
    if (second !== undefined) {
      let group = groups.get(first);
      if (!group) {
        group = program.command(first).description(GROUPS[first] ?? '');
        groups.set(first, group);
      }
      parent = group;
    }
    const leaf = parent.command(second ?? first).description(entry.summary);
    leaf.configureOutput({ ...program.configureOutput(), outputError: (s, write) => write(`ccm ${name}: ${toUsageLine(s)}`) });
    leaf.showHelpAfterError(`(ccm ${name} --help lists its options)`);
    leaves.set(name, leaf);
  }
  return { program, leaves };
}

export async function dispatch(argv: readonly string[]): Promise<number> {
  const { program, leaves } = buildProgram();
  const target = targetOf(argv);
  let code = 0;
  try {
    if (target !== null) {
      const leaf = leaves.get(target) as Command;
      const action = (await (COMMANDS[target] as CommandEntry).load())(leaf);
      leaf.action(async () => {
        code = await action();
      });
    }
    if (argv.length === 0) {
      program.outputHelp({ error: true });
      return 2;
    }
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    return reportFailure(e, target ?? argv[0] ?? '');
  }
}

/** One line (or the `file: key: reason` lines) for what stops a command; a stack only for a bug. */
function reportFailure(e: unknown, name: string): number {
  if (isMonitorError(e)) {
    console.error(e.problems.length > 0 ? e.problems.join('\n') : e.message);
    if (e.cause && exitCodeOf(e) !== 2) console.error(`cause: ${(e.cause as Error).message ?? String(e.cause)}`);
    return exitCodeOf(e);
  }
  const line = systemErrorLine(e);
  if (line !== null) {
    console.error(line);
    return 2;
  }
  console.error(`ccm ${name}: ${(e as Error).stack ?? String(e)}`);
  return 1;
}

const isMain = process.argv[1] !== undefined && /(^|[\\/])(ccm\.(ts|js)|ccm)$/.test(process.argv[1]);
if (isMain) {
  // `ccm help run | head`: the reader closing the pipe early ends the output, not the process with a stack
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
      process.exit(process.exitCode ?? 0);
    });
  }
  dispatch(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
      // A command is done once its action returns; a client still retrying in the background
      // (kafkajs reconnecting after a broker restart) must not keep the process alive past it.
      setTimeout(() => process.exit(code), 1000).unref();
    },
    (e: unknown) => {
      console.error(e);
      process.exitCode = 1;
    },
  );
}
