import type { DomainParams } from './params.ts';
import type { SheetVersion } from './sheet.ts';
import type { Valuation } from './valuation-types.ts';

/**
 * The portfolio view of the resale markets (ARCHITECTURE.md, measurement `exposure`): per model,
 * the units pledged across the whole book, the units pledged to facilities at margin call or worse
 * (what lenders could seize soon), the market's monthly depth and the months it needs to absorb
 * them. One borrower's haircut assumes it sells alone; when several lenders call at once they sell
 * into the same thin market, which only this cross-entity sum shows (docs/valuation.md).
 *
 * A fleet item counts once however many facilities share it, and only while one of them has
 * outstanding principal (a repaid facility releases its pledges, DOMAIN.md). Depth: the catalog's
 * for the model, else the first pledged item's own `liquidity`, else the DOMAIN.md default.
 */
export interface ModelExposure {
  model: string;
  unitsPledged: number;
  unitsAtMarginCall: number;
  depthPerMonth: number;
  monthsToAbsorb: number;
}

export function portfolioExposure(items: Array<{ sheet: SheetVersion; valuation: Valuation }>, params: DomainParams): ModelExposure[] {
  const byModel = new Map<string, { pledged: number; atCall: number; itemDepth: number | null }>();
  for (const { sheet, valuation } of items) {
    const status = new Map<string, { outstanding: number; status: string }>();
    for (const f of valuation.facilities) status.set(f.id, { outstanding: f.outstanding, status: f.status });
    for (const item of sheet.fleet) {
      const pledge = `fleet:${item.id}`;
      let pledged = false;
      let atCall = false;
      for (const f of sheet.facilities) {
        if (!f.collateral.includes(pledge)) continue;
        const s = status.get(f.id);
        if (s === undefined || s.outstanding <= 0) continue;
        pledged = true;
        if (s.status === 'margin_call' || s.status === 'liquidation') atCall = true;
      }
      if (!pledged) continue;
      const e = byModel.get(item.model) ?? { pledged: 0, atCall: 0, itemDepth: item.liquidity?.depthPerMonth ?? null };
      e.pledged += item.count;
      if (atCall) e.atCall += item.count;
      e.itemDepth ??= item.liquidity?.depthPerMonth ?? null;
      byModel.set(item.model, e);
    }
  }
  const models = [...byModel.keys()].sort();
  return models.map((model) => {
    const e = byModel.get(model)!;
    const depthPerMonth = params.catalog.models.get(model)?.liquidity.depthPerMonth ?? e.itemDepth ?? params.defaultLiquidity.depthPerMonth;
    return { model, unitsPledged: e.pledged, unitsAtMarginCall: e.atCall, depthPerMonth, monthsToAbsorb: e.atCall / depthPerMonth };
  });
}
