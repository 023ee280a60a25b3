import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { emptyCatalog, loadCatalog, loadMarketFile, loadSheets } from '../config/load-sheets.ts';
import { contagion, type ContagionReport, type DefaultCause } from '../domain/contagion/contagion.ts';
import { isMonitorError } from '../domain/errors.ts';
import type { SheetVersion } from '../domain/sheet/sheet.ts';
import { versionAt } from '../domain/sheet/sheet-validate.ts';
import { defaultDomainParams } from '../domain/valuation/valuation.ts';
import { isoTime, type CommandAction } from './options.ts';
import { ratio, textTable, usd } from './text-table.ts';

const table = (header: readonly string[], rows: readonly (readonly string[])[]): string[] => textTable(header, rows).map((l) => `  ${l}`);

/**
 * `ccm contagion --entities DIR --market FILE [--catalog FILE] [--at ISO] [--json] [--default ENTITY...]`:
 * the fire-sale cascade of a book against a market file (shared/DOMAIN.md "Fire-sale contagion";
 * docs/valuation.md "Contagion"). Exit 0, or 2 for bad input with `file: path: reason`.
 */
const DEFAULT_CATALOG = 'config/catalog.yaml';

interface ContagionOptions {
  readonly entities: string;
  readonly market: string;
  readonly at?: number;
  readonly json?: boolean;
  readonly catalog?: string;
  readonly default?: string[];
}

export function define(cmd: Command): CommandAction {
  cmd
    .requiredOption('--entities <dir>', 'the book: a directory of entity sheets (or one file)')
    .requiredOption('--market <file>', 'a market file (DOMAIN.md; `ccm market snapshot` writes one)')
    .option('--at <iso>', "the instant (default: the market file's at)", isoTime)
    .option('--json', 'the cascade as DOMAIN.md JSON instead of tables')
    .option('--catalog <file>', `GPU/ASIC catalog: each model's market-wide liquidity (default ${DEFAULT_CATALOG} when present)`)
    .option('--default <entity...>', 'put these borrowers in default at round 0, to see who follows (repeatable)')
    .addHelpText(
      'after',
      '\nRound 0 holds the borrowers in default today (a facility at liquidation) and those named by --default;\n' +
        "their lenders seize every pledged GPU, each model's resale price falls by its fire-sale impact, and\n" +
        'the book is valued again, until a round adds no default (at most 25 rounds).',
    );
  return () => run(cmd.opts<ContagionOptions>());
}

async function run(args: ContagionOptions): Promise<number> {
  try {
    const { entities, problems } = await loadSheets(args.entities);
    if (problems.length > 0) {
      for (const p of problems) console.error(p);
      return 2;
    }
    const { market, atMs: marketAtMs } = await loadMarketFile(args.market);
    const atMs = args.at ?? marketAtMs;
    const known = new Set(entities.map((e) => e.id));
    const unknown = (args.default ?? []).filter((id) => !known.has(id));
    if (unknown.length > 0) {
      console.error(`--default: ${unknown.join(', ')}: no such entity in ${args.entities} (known: ${[...known].sort().join(', ')})`);
      return 2;
    }
    const sheets: SheetVersion[] = [];
    const notYet: string[] = [];
    for (const e of entities) {
      const v = versionAt(e, atMs);
      if (v === null) notYet.push(e.id);
      else sheets.push(v);
    }
    const forcedNotInForce = (args.default ?? []).filter((id) => notYet.includes(id));
    if (forcedNotInForce.length > 0) {
      console.error(`--default: ${forcedNotInForce.join(', ')}: no sheet version in force at ${new Date(atMs).toISOString()}`);
      return 2;
    }
    const catalogPath = args.catalog ?? (existsSync(DEFAULT_CATALOG) ? DEFAULT_CATALOG : undefined);
    const catalog = catalogPath === undefined ? emptyCatalog() : await loadCatalog(catalogPath);
    const report = contagion(sheets, market, atMs, defaultDomainParams(catalog), { forcedDefaults: args.default ?? [] });
    console.log(args.json ? JSON.stringify(report.result, null, 2) : toTables(report, notYet));
    return 0;
  } catch (e) {
    if (isMonitorError(e)) {
      console.error(e.problems.length > 0 ? e.problems.join('\n') : e.message);
      return 2;
    }
    console.error(`ccm contagion: ${(e as Error).message}`);
    return 1;
  }
}

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;


function why(cause: DefaultCause | undefined, round: number): string {
  if (cause === undefined) return '';
  if (cause.kind === 'forced') return 'put in default (--default)';
  const line = cause.ltvLiquidation === null ? 'its liquidation line' : `liquidation ${cause.ltvLiquidation}`;
  const at = round === 0 ? "at today's prices" : `after the fire sales of round ${round - 1}`;
  return `${cause.facility} LTV ${ratio(cause.ltv)} >= ${line} ${at}`;
}

/** The readable form: the rounds, who defaults when and why, each model's fire sale, each lender's loss. */
export function toTables(report: ContagionReport, notInForce: readonly string[] = []): string {
  const r = report.result;
  const defaulted = r.entities.filter((e) => e.defaultRound !== null).sort((a, b) => (a.defaultRound ?? 0) - (b.defaultRound ?? 0));
  const contagious = defaulted.filter((e) => (e.defaultRound ?? 0) >= 1);
  const out: string[] = [
    `fire-sale contagion at ${r.at}: ${r.entities.length} borrowers, ${defaulted.length - contagious.length} in default at round 0, ${contagious.length} pulled in by the fire sales; ` +
      (r.converged ? `settled after round ${r.rounds}` : `NOT settled after ${r.rounds} rounds`),
  ];
  if (notInForce.length > 0) out.push(`(not in the book at that instant, no sheet version in force: ${notInForce.join(', ')})`);
  out.push('', 'defaults by round');
  out.push(
    ...(defaulted.length === 0
      ? ['  none: no borrower is at its liquidation line, and none was put in default']
      : table(
          ['round', 'borrower', 'LTV before', 'LTV after', 'why'],
          defaulted.map((e) => [String(e.defaultRound), e.entity, ratio(e.ltvBefore), ratio(e.ltvAfter), why(report.causes.get(e.entity), e.defaultRound ?? 0)]),
        )),
  );
  out.push('', 'fire sales by model');
  out.push(
    ...(r.models.length === 0
      ? ['  none']
      : table(
          ['model', 'seized units', 'price impact', 'resale before', 'resale after'],
          r.models.map((m) => [m.model, m.seizedUnits.toLocaleString('en-US'), pct(m.impact), usd(m.resaleBefore), usd(m.resaleAfter)]),
        )),
  );
  out.push('', 'lenders (USD)');
  out.push(...table(['lender', 'outstanding', 'defaulted debt', 'shortfall'], r.lenders.map((l) => [l.lender, usd(l.outstanding), usd(l.defaultedDebt), usd(l.shortfall)])));
  out.push('', 'survivors closest to their liquidation line after the cascade');
  const survivors = r.entities
    .filter((e) => e.defaultRound === null)
    .map((e) => ({ e, worst: Math.max(...e.facilities.map((f) => f.ltvAfter ?? -Infinity)) }))
    .filter((x) => Number.isFinite(x.worst))
    .sort((a, b) => b.worst - a.worst)
    .slice(0, 10);
  out.push(
    ...(survivors.length === 0
      ? ['  none']
      : table(
          ['borrower', 'LTV before', 'LTV after', 'worst facility status after'],
          survivors.map(({ e }) => [e.entity, ratio(e.ltvBefore), ratio(e.ltvAfter), worstStatus(e.facilities.map((f) => f.statusAfter))]),
        )),
  );
  return out.join('\n');
}

const ORDER = ['unknown', 'ok', 'warn', 'margin_call', 'liquidation'];
const worstStatus = (s: readonly string[]): string => s.reduce((w, x) => (ORDER.indexOf(x) > ORDER.indexOf(w) ? x : w), 'unknown');
