import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { emptyCatalog, loadCatalog, loadMarketFile, loadSheets } from '../config/load-sheets.ts';
import type { Catalog } from '../domain/sheet/catalog.ts';
import { isMonitorError } from '../domain/errors.ts';
import { versionAt } from '../domain/sheet/sheet-validate.ts';
import { defaultDomainParams, valueEntity } from '../domain/valuation/valuation.ts';
import type { FacilityStatus, LtvStatus, Valuation } from '../domain/valuation/valuation-types.ts';
import { STATUS, UNKNOWN } from '../domain/valuation/valuation-types.ts';
import { isoTime, type CommandAction } from './options.ts';
import { ratio, textTable as table, usd } from './text-table.ts';

/**
 * `ccm value --entity FILE --market FILE [--at ISO] [--json] [--catalog FILE]`: values one sheet
 * against a market snapshot (shared/DOMAIN.md "Output of ccm value --json"). `--at` defaults to the
 * market file's `at`; a multi-version sheet is valued at the version in force then. The catalog
 * defaults to config/catalog.yaml when it exists, else an empty one (sheet values and DOMAIN.md
 * defaults). Exit 0, or 2 for bad input with `file: path: reason` on stderr (never a stack trace).
 */
const DEFAULT_CATALOG = 'config/catalog.yaml';

interface ValueOptions {
  readonly entity: string;
  readonly market: string;
  readonly at?: number;
  readonly json?: boolean;
  readonly catalog?: string;
}

export function define(cmd: Command): CommandAction {
  cmd
    .requiredOption('--entity <file>', 'one entity sheet (YAML or JSON)')
    .requiredOption('--market <file>', 'a market file (DOMAIN.md; `ccm market snapshot` writes one)')
    .option('--at <iso>', "the valuation instant (default: the market file's at)", isoTime)
    .option('--json', 'the valuation as DOMAIN.md JSON instead of a table')
    .option('--catalog <file>', `GPU/ASIC catalog (default ${DEFAULT_CATALOG} when present)`)
    .addHelpText('after', '\nA metric whose index is missing from the market prints as unknown, never ok.');
  return () => value(cmd.opts<ValueOptions>());
}

async function value(args: ValueOptions): Promise<number> {
  try {
    const { entities, problems } = await loadSheets(args.entity);
    if (problems.length > 0) {
      for (const p of problems) console.error(p);
      return 2;
    }
    if (entities.length !== 1) {
      console.error(`${args.entity}: (root): must hold exactly one entity, found ${entities.length}`);
      return 2;
    }
    const { market, atMs: marketAtMs } = await loadMarketFile(args.market);
    const atMs = args.at ?? marketAtMs;
    const sheet = versionAt(entities[0], atMs);
    if (sheet === null) {
      console.error(`${args.entity}: effectiveFrom: no version is in force at ${new Date(atMs).toISOString()}`);
      return 2;
    }
    const catalogPath = args.catalog ?? (existsSync(DEFAULT_CATALOG) ? DEFAULT_CATALOG : undefined);
    const catalog: Catalog = catalogPath === undefined ? emptyCatalog() : await loadCatalog(catalogPath);
    const valuation = valueEntity(sheet, market, atMs, defaultDomainParams(catalog));
    console.log(args.json ? JSON.stringify(valuation, null, 2) : toTable(valuation));
    return 0;
  } catch (e) {
    if (isMonitorError(e)) {
      console.error(e.problems.length > 0 ? e.problems.join('\n') : e.message);
      return 2;
    }
    console.error(`ccm value: ${(e as Error).message}`);
    return 1;
  }
}

const num = (x: number | null | undefined, digits: number): string => (x === null || x === undefined ? '-' : x.toFixed(digits));


/** The worst known status; `unknown` when a status is unknown and none of the known ones is worse than ok. */
const worst = (statuses: readonly FacilityStatus[]): FacilityStatus => {
  const known = statuses.reduce<LtvStatus>((w, s) => (s !== UNKNOWN && STATUS.indexOf(s) > STATUS.indexOf(w) ? s : w), 'ok');
  return known === 'ok' && statuses.includes(UNKNOWN) ? UNKNOWN : known;
};

/** The readable form: entity totals, fleet, facilities, stress. */
export function toTable(v: Valuation): string {
  const out: string[] = [`${v.entity} at ${v.at}`, ''];
  const totals: Array<[string, string]> = [
    ['cash', usd(v.cash)],
    ['crypto value', usd(v.cryptoValue)],
    ['fleet value', usd(v.fleetValue)],
    ['gross assets', usd(v.grossAssets)],
    ['total debt', usd(v.totalDebt)],
    ['secured debt', usd(v.securedDebt)],
    ['collateral value', usd(v.collateralValue)],
    ['liquidation value', usd(v.liquidationValue)],
    ['equity', usd(v.equity)],
    ['ltv', ratio(v.ltv)],
    ['forced-sale ltv', ratio(v.forcedSaleLtv)],
    ['noi, next 12 months', usd(v.noi12)],
    ['debt service, 12 months', usd(v.debtService12)],
    ['maturities, 12 months', usd(v.maturities12)],
    ['dscr', `${ratio(v.dscr)} (${v.dscrStatus})`],
    ['liquidity coverage', ratio(v.liquidityCoverage)],
    ['runway (months)', num(v.runwayMonths, 1)],
    ['net leverage', ratio(v.netLeverage)],
    ['break-even rental (USD/GPU-h)', num(v.breakevenRentalRate, 4)],
    ['  at the DSCR covenant', num(v.breakevenRentalRateAtCovenant, 4)],
  ];
  const w = Math.max(...totals.map(([k]) => k.length));
  for (const [k, val] of totals) out.push(`  ${k.padEnd(w)}  ${val}`);
  if (v.missing !== undefined && v.missing.length > 0) out.push(`  missing indexes: ${v.missing.join(', ')}`);

  if (v.fleet.length > 0) {
    out.push('', 'fleet');
    out.push(...table(['id', 'model', 'market value', 'liquidation value', 'haircut', 'valued by'], v.fleet.map((f) => [f.id, f.model, usd(f.marketValue), usd(f.liquidationValue), ratio(f.haircut), f.valuedBy])).map((l) => `  ${l}`));
  }
  if (v.facilities.length > 0) {
    out.push('', 'facilities');
    out.push(
      ...table(
        ['id', 'lender', 'outstanding', 'collateral', 'ltv', 'forced-sale ltv', 'headroom', 'ltv in 12m', 'status', 'cure (USD)', 'tenor/life (months)'],
        v.facilities.map((f) => [
          f.id,
          f.lender ?? '-',
          usd(f.outstanding),
          usd(f.collateralValue),
          ratio(f.ltv),
          ratio(f.forcedSaleLtv),
          ratio(f.headroom),
          ratio(f.ltvIn12m),
          f.status,
          usd(f.cureAmountUsd),
          `${f.tenorMonthsLeft ?? '-'}/${f.collateralLifeMonthsLeft ?? '-'}${f.debtOutlivesCollateral ? ' (debt outlives collateral)' : ''}`,
        ]),
      ).map((l) => `  ${l}`),
    );
  }
  if (v.stress.length > 0) {
    out.push('', 'stress');
    out.push(
      ...table(
        ['scenario', 'ltv', 'dscr', 'worst facility status'],
        v.stress.map((s) => [s.scenario, ratio(s.ltv), ratio(s.dscr), worst(s.facilities.map((f) => f.status))]),
      ).map((l) => `  ${l}`),
    );
  }
  return out.join('\n');
}
