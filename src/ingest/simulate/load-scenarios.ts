import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { ErrorCode, MonitorError } from '../../domain/errors.ts';
import { ScenariosFileSchema, type ScenariosFile } from './scenario-schema.ts';

/** The default scenarios file, relative to the working directory. */
export const DEFAULT_SCENARIOS_PATH = 'config/scenarios.yaml';

/**
 * Reads and validates a scenarios file (config/scenarios.yaml). Throws a MonitorError
 * (CONFIG_INVALID) whose problems read `file: path: reason`.
 */
export async function loadScenariosFile(path: string = DEFAULT_SCENARIOS_PATH): Promise<ScenariosFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    const msg = `${path}: cannot be read (${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message})`;
    throw new MonitorError(msg, { code: ErrorCode.CONFIG_INVALID, cause, problems: [msg] });
  }
  return toScenariosFile(text, path);
}

/** Parses the text of a scenarios file (pure apart from YAML parsing); `path` names it in errors. */
export function toScenariosFile(text: string, path: string): ScenariosFile {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (cause) {
    const msg = `${path}: (root): not YAML (${(cause as Error).message.split('\n')[0]})`;
    throw new MonitorError(msg, { code: ErrorCode.CONFIG_INVALID, cause, problems: [msg] });
  }
  const r = ScenariosFileSchema.safeParse(raw);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => `${path}: ${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`);
  throw new MonitorError(problems[0] ?? `${path}: invalid`, { code: ErrorCode.CONFIG_INVALID, problems });
}
