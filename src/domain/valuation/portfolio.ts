import type { DomainParams } from '../params.ts';
import type { SheetVersion } from '../sheet/sheet.ts';

/**
 * The portfolio view of the resale markets (ARCHITECTURE.md, measurement `exposure`): per model,
 * the units pledged across the whole book, the units pledged to facilities at margin call or worse
 * (what lenders could seize soon), the market's monthly depth and the months it needs to absorb
 * them. One borrower's haircut assumes it sells alone; when several lenders call at once they sell
 * into the same thin market, which only this cross-entity sum shows (docs/valuation.md).
 *
 * The book's figures are the sum of each entity's own contribution (`entityExposure`): that is what
 * the processor writes, one series per entity and model, so that instances holding different
 * shares of the book never write the same series; the boards add the contributions up
 * (docs/architecture.md, "exposure").
 *
 * A fleet item counts once however many facilities share it, and only while one of them has
 * outstanding principal (a repaid facility releases its pledges, DOMAIN.md). Depth: the catalog's
 * for the model, else the entity's first pledged item of the model with its own `liquidity`, else
 * the DOMAIN.md default; across the book the smallest entity depth (for a catalog model they are
 * all the catalog's).
 */
export interface EntityModelExposure {
  model: string;
  unitsPledged: number;
  unitsAtMarginCall: number;
  depthPerMonth: number;
}

export interface ModelExposure extends EntityModelExposure {
  monthsToAbsorb: number;
}

/** What `entityExposure` reads of a valuation: each facility's outstanding and status. */
export interface FacilityStanding {
  readonly facilities: ReadonlyArray<{ readonly id: string; readonly outstanding: number; readonly status: string }>;
}

/** One entity's contribution per model it pledges (fleet items pledged to a facility that owes), sorted by model. */
export function entityExposure(sheet: SheetVersion, valuation: FacilityStanding, params: DomainParams): EntityModelExposure[] {
  const status = new Map<string, { outstanding: number; status: string }>();
  for (const f of valuation.facilities) status.set(f.id, { outstanding: f.outstanding, status: f.status });
  const byModel = new Map<string, { pledged: number; atCall: number; itemDepth: number | null }>();
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
    const e = byModel.get(item.model) ?? { pledged: 0, atCall: 0, itemDepth: null };
    e.pledged += item.count;
    if (atCall) e.atCall += item.count;
    e.itemDepth ??= item.liquidity?.depthPerMonth ?? null;
    byModel.set(item.model, e);
  }
  return [...byModel.keys()].sort(byString).map((model) => {
    const e = byModel.get(model)!;
    const depthPerMonth = params.catalog.models.get(model)?.liquidity.depthPerMonth ?? e.itemDepth ?? params.defaultLiquidity.depthPerMonth;
    return { model, unitsPledged: e.pledged, unitsAtMarginCall: e.atCall, depthPerMonth };
  });
}

/** The book's view: the entities' contributions summed per model, sorted by model. */
export function portfolioExposure(items: Array<{ sheet: SheetVersion; valuation: FacilityStanding }>, params: DomainParams): ModelExposure[] {
  const byModel = new Map<string, EntityModelExposure>();
  for (const { sheet, valuation } of items) {
    for (const c of entityExposure(sheet, valuation, params)) {
      const e = byModel.get(c.model);
      if (e === undefined) byModel.set(c.model, { ...c });
      else {
        e.unitsPledged += c.unitsPledged;
        e.unitsAtMarginCall += c.unitsAtMarginCall;
        e.depthPerMonth = Math.min(e.depthPerMonth, c.depthPerMonth);
      }
    }
  }
  return [...byModel.keys()].sort(byString).map((model) => {
    const e = byModel.get(model)!;
    return { ...e, monthsToAbsorb: e.unitsAtMarginCall / e.depthPerMonth };
  });
}

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
