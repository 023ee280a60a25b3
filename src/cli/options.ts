import { readFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { parseDateMs } from '../domain/calendar.ts';
import { DEFAULT_SCENARIOS_PATH, toScenariosFile } from '../ingest/simulate/load-scenarios.ts';

/**
 * The option vocabulary every command shares: typed parsers (commander calls them on the raw
 * text, and an InvalidArgumentError becomes `ccm <command>: option '--x <n>' argument 'abc' is
 * invalid. <reason>`, exit 2) and the options several commands declare alike.
 */

/** What a command module exports (see ccm.ts): it declares its options and arguments on the command, and returns the action. */
export type CommandAction = () => Promise<number>;
export type DefineCommand = (cmd: Command) => CommandAction;

export function positiveNumber(raw: string): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number');
  return n;
}

export function positiveInteger(raw: string): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

export function integer(raw: string): number {
  const n = Number(raw);
  if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('must be an integer');
  return n;
}

export function finiteNumber(raw: string): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError('must be a number');
  return n;
}

/** An ISO date (`2025-10-01`, UTC midnight) or date-time (no offset means UTC), as epoch ms. */
export function isoTime(raw: string): number {
  const t = parseDateMs(raw.trim());
  if (Number.isNaN(t)) throw new InvalidArgumentError('must be an ISO date or date-time (2025-10-01 or 2025-10-01T12:00:00Z)');
  return t;
}

export function oneOf<T extends string>(values: readonly T[]): (raw: string) => T {
  return (raw) => {
    if (!(values as readonly string[]).includes(raw)) throw new InvalidArgumentError(`must be one of ${values.join(', ')}`);
    return raw as T;
  };
}

/** Accumulates a repeatable option (`--where a=1 --where b=2`). */
export const collect = (raw: string, previous: readonly string[] | undefined): string[] => [...(previous ?? []), raw];

/** `--config FILE`: merged over config/default.yaml, then the CCM_* environment (README "Configuration"). */
export function addConfigOption(cmd: Command): Command {
  return cmd.option('--config <file>', 'config file merged over config/default.yaml (then the CCM_* environment)');
}

const HELP_DESCRIPTION_CHARS = 90;
const shorten = (s: string, n: number): string => (s.length <= n ? s : `${s.slice(0, n - 1).trimEnd()}…`);

/**
 * The scenarios of a scenarios file, one line each with its description, for help texts. Read
 * when the help is shown, so the list is the file's, not a copy; an unreadable file says so.
 */
export function scenarioHelp(path: string = DEFAULT_SCENARIOS_PATH): string {
  let names: Array<[string, string]>;
  try {
    const file = toScenariosFile(readFileSync(path, 'utf8'), path);
    names = Object.entries(file.scenarios).map(([name, s]) => [name, shorten(s.description.replace(/\s+/g, ' '), HELP_DESCRIPTION_CHARS)]);
  } catch (e) {
    return `\nScenarios: ${path} cannot be read (${(e as Error).message.split('\n')[0]})`;
  }
  const w = Math.max(...names.map(([n]) => n.length));
  return [`\nScenarios (${path}):`, ...names.map(([n, d]) => `  ${n.padEnd(w)}  ${d}`)].join('\n');
}
