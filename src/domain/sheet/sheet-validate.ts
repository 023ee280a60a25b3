import type { z } from 'zod';
import { parseDateMs } from '../calendar.ts';
import type { Entity, SheetVersion } from './sheet.ts';
import { SHEET_LIMITS, SheetVersionSchema } from './sheet.ts';
import type { Catalog } from './catalog.ts';
import { normaliseModelName } from './catalog.ts';

/**
 * Validation of a balance-sheet file (shared/DOMAIN.md "Balance sheet"): the zod schema of
 * src/domain/sheet/sheet.ts for shapes and ranges, then the cross-field rules the schema cannot express.
 * Every problem reads `file: path: reason`, path in the style `fleet[1].liquidity.h0` or
 * `versions[2].facilities[0].collateral[1]`, so an analyst can find the line without a stack trace.
 *
 * Cross-field rules: unknown fields (strict schemas); covenant thresholds in order (schema);
 * dates that are real calendar dates; duplicate fleet or facility ids; maturity after start;
 * a pledge of a fleet item or asset that does not exist; one asset pledged twice in one facility;
 * partial pledges of one asset adding up to more than is held; a whole-asset pledge beside a
 * partial one of the same asset; `ltvRestore` at or above `ltvMarginCall` (a cure that leaves the
 * loan in margin call). Multi-version files: every version after the first has `effectiveFrom`,
 * no two share one, and all share the entity id.
 */

export type SheetValidation = { ok: true; entity: Entity } | { ok: false; problems: string[] };

/** `fleet[1].liquidity.h0` from a zod path. */
export function formatPath(path: readonly PropertyKey[]): string {
  let s = '';
  for (const seg of path) {
    if (typeof seg === 'number') s += `[${seg}]`;
    else s += s === '' ? String(seg) : `.${String(seg)}`;
  }
  return s === '' ? '(root)' : s;
}

const join = (prefix: string, path: string): string => (prefix === '' ? path : path === '(root)' ? prefix : `${prefix}.${path}`);

const DEFAULT_MESSAGE = /^(Invalid|Too small|Too big|Unrecognized)/;

/** One zod issue as `path: reason` lines (unknown keys give one line each). */
function issueLines(issue: z.core.$ZodIssue, prefix: string): string[] {
  const path = formatPath(issue.path);
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((k) => `${join(prefix, formatPath([...issue.path, k]))}: unknown field`);
    case 'invalid_type': {
      if (!DEFAULT_MESSAGE.test(issue.message)) return [`${join(prefix, path)}: ${issue.message}`];
      if (/received undefined$/.test(issue.message)) return [`${join(prefix, path)}: is required`];
      const expected = issue.expected === 'array' ? 'list' : issue.expected === 'object' ? 'mapping' : issue.expected;
      return [`${join(prefix, path)}: must be a ${expected}`];
    }
    case 'invalid_value':
      return [`${join(prefix, path)}: must be one of ${issue.values.map(String).join(', ')}`];
    case 'invalid_union': {
      const options = (issue as { options?: unknown[] }).options;
      return [`${join(prefix, path)}: ${Array.isArray(options) ? `must be one of ${options.map(String).join(', ')}` : 'is not valid'}`];
    }
    case 'too_small':
      if (!DEFAULT_MESSAGE.test(issue.message)) return [`${join(prefix, path)}: ${issue.message}`];
      if (issue.origin === 'array') return [`${join(prefix, path)}: must not be empty`];
      return [`${join(prefix, path)}: must be ${issue.inclusive ? 'at least' : 'greater than'} ${String(issue.minimum)}`];
    case 'too_big':
      if (!DEFAULT_MESSAGE.test(issue.message)) return [`${join(prefix, path)}: ${issue.message}`];
      return [`${join(prefix, path)}: must be ${issue.inclusive ? 'at most' : 'less than'} ${String(issue.maximum)}`];
    default:
      return [`${join(prefix, path)}: ${DEFAULT_MESSAGE.test(issue.message) ? 'is not valid' : issue.message}`];
  }
}

/** Zod issues as `path: reason` lines, paths under `prefix` (used for the catalog and market files too). */
export const toProblemLines = (issues: readonly z.core.$ZodIssue[], prefix = ''): string[] => issues.flatMap((i) => issueLines(i, prefix));

const isRecord = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === 'object' && !Array.isArray(x);

/** The cross-field rules of one parsed version; lines `path: reason` under `prefix`. */
function crossFieldProblems(v: SheetVersion, prefix: string): string[] {
  const problems: string[] = [];
  const at = (path: string): string => join(prefix, path);
  const checkDate = (s: string | undefined, path: string): void => {
    if (s !== undefined && Number.isNaN(parseDateMs(s))) problems.push(`${at(path)}: must be a date (YYYY-MM-DD) or ISO date-time`);
  };
  checkDate(v.effectiveFrom, 'effectiveFrom');

  const fleetIds = new Set<string>();
  v.fleet.forEach((item, i) => {
    if (fleetIds.has(item.id)) problems.push(`${at(`fleet[${i}].id`)}: duplicate id "${item.id}"`);
    fleetIds.add(item.id);
    checkDate(item.acquiredAt, `fleet[${i}].acquiredAt`);
    checkDate(item.contracted?.until, `fleet[${i}].contracted.until`);
  });

  const facilityIds = new Set<string>();
  // Per asset: where the first whole pledge and the first partial pledge are, and the lots' total.
  const whole: Record<string, string | undefined> = {};
  const partial: Record<string, string | undefined> = {};
  const lots: Record<string, number> = { BTC: 0, ETH: 0 };
  v.facilities.forEach((f, fi) => {
    const fp = `facilities[${fi}]`;
    if (facilityIds.has(f.id)) problems.push(`${at(`${fp}.id`)}: duplicate id "${f.id}"`);
    facilityIds.add(f.id);
    checkDate(f.start, `${fp}.start`);
    checkDate(f.maturity, `${fp}.maturity`);
    const startMs = parseDateMs(f.start);
    const maturityMs = parseDateMs(f.maturity);
    if (!Number.isNaN(startMs) && !Number.isNaN(maturityMs) && maturityMs <= startMs) problems.push(`${at(`${fp}.maturity`)}: must be after start`);
    const mc = f.covenants.ltvMarginCall;
    if (f.ltvRestore !== undefined && mc !== undefined && f.ltvRestore >= mc) problems.push(`${at(`${fp}.ltvRestore`)}: must be below ltvMarginCall`);

    const seen = new Set<string>();
    f.collateral.forEach((pledge, pi) => {
      const pp = at(`${fp}.collateral[${pi}]`);
      const parts = pledge.split(':');
      if (parts[0] === 'fleet') {
        if (!fleetIds.has(parts[1])) problems.push(`${pp}: pledges fleet item "${parts[1]}" that does not exist`);
        else if (seen.has(pledge)) problems.push(`${pp}: pledges "${pledge}" twice`);
        seen.add(pledge);
        return;
      }
      const asset = parts[1] as 'BTC' | 'ETH';
      const held = v.holdings[asset];
      if (held <= 0) {
        problems.push(`${pp}: pledges ${asset} that the sheet does not hold`);
        return;
      }
      if (parts.length === 2) {
        if (seen.has(pledge)) problems.push(`${pp}: pledges "${pledge}" twice`);
        seen.add(pledge);
        if (partial[asset] !== undefined) problems.push(`${pp}: pledges all ${asset} held beside a partial pledge of it at ${partial[asset]}`);
        whole[asset] ??= `${fp}.collateral[${pi}]`;
        return;
      }
      const units = Number(parts[2]);
      if (!(units > 0)) {
        problems.push(`${pp}: must pledge a positive amount of ${asset}`);
        return;
      }
      if (whole[asset] !== undefined) problems.push(`${pp}: pledges part of ${asset} beside a pledge of all of it at ${whole[asset]}`);
      partial[asset] ??= `${fp}.collateral[${pi}]`;
      const before = lots[asset];
      lots[asset] = before + units;
      if (lots[asset] > held && before <= held) problems.push(`${pp}: partial pledges of ${asset} add up to ${lots[asset]}, more than the ${held} held`);
    });
  });
  return problems;
}

/**
 * Lists longer than their limit are reported alone, before the schema sees them: a 40,000-item
 * fleet is one problem, not 40,000 parsed items and as many lines.
 */
function oversizedLists(raw: unknown, prefix: string): string[] {
  if (!isRecord(raw)) return [];
  const problems: string[] = [];
  const check = (value: unknown, path: string, max: number): void => {
    if (Array.isArray(value) && value.length > max) problems.push(`${join(prefix, path)}: has ${value.length.toLocaleString('en-US')} items, more than the ${max.toLocaleString('en-US')} a sheet may hold`);
  };
  check(raw.fleet, 'fleet', SHEET_LIMITS.maxFleetItems);
  check(raw.facilities, 'facilities', SHEET_LIMITS.maxFacilities);
  if (Array.isArray(raw.facilities) && raw.facilities.length <= SHEET_LIMITS.maxFacilities) {
    raw.facilities.forEach((f, i) => check(isRecord(f) ? f.collateral : undefined, `facilities[${i}].collateral`, SHEET_LIMITS.maxPledges));
  }
  return problems;
}

/** Options of the validation: with a catalog, every fleet model must be one of its ids. */
export interface SheetValidationOptions {
  readonly catalog?: Catalog;
}

/**
 * A model the catalog does not know has no rental or resale quotes (ingest maps every source's
 * spelling to a catalog id), so it would be valued from the sheet's cost alone and liquidated at
 * the default haircut: a typo (`H100-SMX`) that passes silently. An alias is named with its id.
 */
function catalogProblems(v: SheetVersion, prefix: string, catalog: Catalog): string[] {
  const problems: string[] = [];
  v.fleet.forEach((item, i) => {
    if (catalog.models.has(item.model)) return;
    const path = join(prefix, `fleet[${i}].model`);
    const aliasOf = catalog.aliases.get(normaliseModelName(item.model));
    if (aliasOf !== undefined) {
      problems.push(`${path}: "${item.model}" is a spelling of ${aliasOf}; write the catalog id ${aliasOf}`);
      return;
    }
    const near = nearestModel(item.model, catalog);
    problems.push(`${path}: unknown model "${item.model}" (not in the catalog${near === null ? '; add it to the catalog' : `; did you mean ${near}?`})`);
  });
  return problems;
}

/** The catalog id closest to a spelling (edit distance of the normalised names, at most 3), or null. */
function nearestModel(model: string, catalog: Catalog): string | null {
  const target = normaliseModelName(model);
  let best: string | null = null;
  let bestDistance = 4;
  for (const id of catalog.models.keys()) {
    const d = editDistance(target, normaliseModelName(id));
    if (d < bestDistance) {
      best = id;
      bestDistance = d;
    }
  }
  return best;
}

/** Damerau-Levenshtein distance (optimal string alignment): a swap of two letters counts once. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

function validateVersion(raw: unknown, prefix: string, options: SheetValidationOptions): { version: SheetVersion | null; problems: string[] } {
  const oversized = oversizedLists(raw, prefix);
  if (oversized.length > 0) return { version: null, problems: oversized };
  const r = SheetVersionSchema.safeParse(raw);
  if (!r.success) return { version: null, problems: r.error.issues.flatMap((i) => issueLines(i, prefix)) };
  const problems = [...crossFieldProblems(r.data, prefix), ...(options.catalog ? catalogProblems(r.data, prefix, options.catalog) : [])];
  return { version: problems.length === 0 ? r.data : null, problems };
}

/** At most this many problems are listed per file; the rest are counted on one last line. */
export const MAX_PROBLEMS_PER_FILE = 50;

/**
 * Validates a decoded sheet file (YAML or JSON): one version, or `{ versions: [...] }` (optionally
 * with the entity `id` beside it). Versions come back sorted by effectiveFrom, the one without it first.
 */
export function validateSheetFile(raw: unknown, file: string, options: SheetValidationOptions = {}): SheetValidation {
  const prefixed = (lines: string[]): { ok: false; problems: string[] } => {
    const shown = lines.length > MAX_PROBLEMS_PER_FILE ? [...lines.slice(0, MAX_PROBLEMS_PER_FILE - 1), `(root): and ${(lines.length - MAX_PROBLEMS_PER_FILE + 1).toLocaleString('en-US')} more problems`] : lines;
    return { ok: false, problems: shown.map((l) => `${file}: ${l}`) };
  };
  if (!isRecord(raw)) return prefixed(['(root): must be a mapping']);

  if (!('versions' in raw)) {
    const { version, problems } = validateVersion(raw, '', options);
    if (version === null) return prefixed(problems);
    return { ok: true, entity: { id: version.id, versions: [version] } };
  }

  const problems: string[] = [];
  for (const k of Object.keys(raw)) if (k !== 'versions' && k !== 'id') problems.push(`${k}: unknown field`);
  const list = raw.versions;
  if (!Array.isArray(list)) return prefixed([...problems, 'versions: must be a list']);
  if (list.length === 0) return prefixed([...problems, 'versions: must not be empty']);
  if (list.length > SHEET_LIMITS.maxVersions) return prefixed([...problems, `versions: has ${list.length.toLocaleString('en-US')} items, more than the ${SHEET_LIMITS.maxVersions} a sheet may hold`]);
  const versions: SheetVersion[] = [];
  list.forEach((v, i) => {
    const r = validateVersion(v, `versions[${i}]`, options);
    problems.push(...r.problems);
    if (r.version !== null) versions.push(r.version);
  });
  if (problems.length > 0) return prefixed(problems);

  const id = typeof raw.id === 'string' ? raw.id : versions[0].id;
  if (raw.id !== undefined && typeof raw.id !== 'string') problems.push('id: must be a string');
  const dates = new Set<number>();
  versions.forEach((v, i) => {
    if (v.id !== id) problems.push(`versions[${i}].id: must be "${id}" like the other versions`);
    if (v.effectiveFrom === undefined) {
      if (i > 0) problems.push(`versions[${i}].effectiveFrom: is required (only the first version may omit it)`);
      return;
    }
    const ms = parseDateMs(v.effectiveFrom);
    if (dates.has(ms)) problems.push(`versions[${i}].effectiveFrom: another version is in force from the same date`);
    dates.add(ms);
  });
  if (problems.length > 0) return prefixed(problems);
  const sorted = [...versions].sort((a, b) => effectiveMs(a) - effectiveMs(b));
  return { ok: true, entity: { id, versions: sorted } };
}

const effectiveMs = (v: SheetVersion): number => (v.effectiveFrom === undefined ? Number.NEGATIVE_INFINITY : parseDateMs(v.effectiveFrom));

/**
 * The version in force at `atMs`: the latest with effectiveFrom <= t (a version without
 * effectiveFrom is in force from -infinity); null before the first.
 */
export function versionAt(entity: Entity, atMs: number): SheetVersion | null {
  let found: SheetVersion | null = null;
  let foundMs = Number.NEGATIVE_INFINITY;
  for (const v of entity.versions) {
    const ms = effectiveMs(v);
    if (ms <= atMs && (found === null || ms >= foundMs)) {
      found = v;
      foundMs = ms;
    }
  }
  return found;
}
