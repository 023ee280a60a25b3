import { FILE_LIMITS, parseStructuredText, readBoundedText } from '../../config/read-structured-file.ts';
import { ErrorCode, MonitorError } from '../../domain/errors.ts';
import { ScenariosFileSchema, type ScenariosFile } from './scenario-schema.ts';

/** The default scenarios file, relative to the working directory. */
export const DEFAULT_SCENARIOS_PATH = 'config/scenarios.yaml';

/**
 * Reads and validates a scenarios file (config/scenarios.yaml). Throws a MonitorError
 * (CONFIG_INVALID) whose problems read `file: path: reason`.
 */
export async function loadScenariosFile(path: string = DEFAULT_SCENARIOS_PATH): Promise<ScenariosFile> {
  const text = await readBoundedText(path, FILE_LIMITS.configBytes);
  if (!text.ok) throw new MonitorError(text.problem, { code: ErrorCode.CONFIG_INVALID, problems: [text.problem] });
  return toScenariosFile(text.text, path);
}

/** Parses the text of a scenarios file (pure apart from YAML parsing); `path` names it in errors. */
export function toScenariosFile(text: string, path: string): ScenariosFile {
  const parsed = parseStructuredText(text, path);
  if (!parsed.ok) throw new MonitorError(parsed.problem, { code: ErrorCode.CONFIG_INVALID, problems: [parsed.problem] });
  const r = ScenariosFileSchema.safeParse(parsed.value);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => `${path}: ${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`);
  throw new MonitorError(problems[0] ?? `${path}: invalid`, { code: ErrorCode.CONFIG_INVALID, problems });
}
