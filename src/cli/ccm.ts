#!/usr/bin/env node
import { exitCodeOf, isMonitorError } from '../domain/errors.ts';

/**
 * `ccm`: the entry point. One file per command under src/cli/, loaded on demand so that
 * `ccm process` never loads ccxt (the ingestors' library). Each exports `main(argv)` -> exit code.
 */
interface Command {
  readonly summary: string;
  readonly load: () => Promise<{ main(argv: readonly string[]): Promise<number> }>;
}

export const COMMANDS: Readonly<Record<string, Command>> = {
  run: { summary: 'ingest, processor and sink in one process (the embedded default without config)', load: () => import('./run.ts') },
  process: { summary: 'the stream processor only: entities + quotes from Kafka to InfluxDB and output topics', load: () => import('./process.ts') },
  ingest: { summary: 'the ingestors only: exchanges, GPU marketplaces, resale feeds into Kafka', load: () => import('./ingest.ts') },
  backfill: { summary: 'page through exchange candles (ccxt fetchOHLCV) into a stream file or the history topic', load: () => import('./backfill.ts') },
  value: { summary: 'value one entity sheet against a market file', load: () => import('./value.ts') },
  'entities validate': { summary: 'check every sheet in a directory', load: () => import('./entities-validate.ts') },
  'entities publish': { summary: 'validate the sheets and publish each entity to the entities topic', load: () => import('./entities-publish.ts') },
  replay: { summary: 'replay stream files or a Kafka time range through the processor under a run name', load: () => import('./replay.ts') },
  'runs list': { summary: 'list runs (replay topics and InfluxDB series)', load: () => import('./runs.ts').then((m) => ({ main: (a: readonly string[]) => m.main(['list', ...a]) })) },
  'runs delete': { summary: 'delete a run (its replay topics and InfluxDB series)', load: () => import('./runs.ts').then((m) => ({ main: (a: readonly string[]) => m.main(['delete', ...a]) })) },
  record: { summary: 'write the quotes topic to stream files, one per day', load: () => import('./record.ts') },
  'market snapshot': { summary: 'write the market state of a run at an instant as a market file (for ccm value)', load: () => import('./market-snapshot.ts') },
  simulate: { summary: 'generate a scenario stream file (seeded, deterministic)', load: () => import('./simulate.ts') },
  'import-csv': { summary: 'turn a CSV of prices into a stream file', load: () => import('./import-csv.ts') },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(20)} ${c.summary}`);
  return ['usage: ccm <command> [options]', '', 'commands:', ...lines, '', 'Run `ccm <command> --help` for its options.'].join('\n');
}

export async function dispatch(argv: readonly string[]): Promise<number> {
  const [first, second, ...rest] = argv;
  if (!first || first === '--help' || first === '-h' || first === 'help') {
    console.log(usage());
    return first ? 0 : 2;
  }
  const two = second !== undefined ? `${first} ${second}` : '';
  const name = two && COMMANDS[two] ? two : first;
  const args = two && COMMANDS[two] ? rest : argv.slice(1);
  const command = COMMANDS[name];
  if (!command) {
    console.error(`ccm: unknown command '${first}'\n\n${usage()}`);
    return 2;
  }
  try {
    const mod = await command.load();
    return await mod.main(args);
  } catch (e) {
    if (isMonitorError(e)) {
      console.error(e.problems.length > 0 ? e.problems.join('\n') : e.message);
      if (e.cause && exitCodeOf(e) !== 2) console.error(`cause: ${(e.cause as Error).message ?? String(e.cause)}`);
    } else {
      console.error(`ccm ${name}: ${(e as Error).stack ?? String(e)}`);
    }
    return exitCodeOf(e);
  }
}

const isMain = process.argv[1] !== undefined && /(^|[\\/])(ccm\.(ts|js)|ccm)$/.test(process.argv[1]);
if (isMain) {
  dispatch(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
      // A command is done once main returns; a client still retrying in the background (kafkajs
      // reconnecting after a broker restart) must not keep the process alive past its shutdown.
      setTimeout(() => process.exit(code), 1000).unref();
    },
    (e: unknown) => {
      console.error(e);
      process.exitCode = 1;
    },
  );
}
