import type { ConsumedRecord } from '../../src/bus/bus.ts';
import type { Catalog, CatalogModel } from '../../src/domain/sheet/catalog.ts';
import type { Market } from '../../src/domain/market/market.ts';
import type { Facility, FleetItem, SheetVersion, SheetVersionInput } from '../../src/domain/sheet/sheet.ts';
import { FacilitySchema, FleetItemSchema, SheetVersionSchema } from '../../src/domain/sheet/sheet.ts';

/**
 * Small builders of sheets, markets and catalogs with sensible defaults (STYLE.md 14): a test
 * states only what it is about. Everything goes through the real zod schemas, so defaults are the
 * sheet's own.
 */

export const emptyCatalog = (): Catalog => ({ models: new Map(), aliases: new Map() });

export function aCatalogModel(overrides: Partial<CatalogModel> = {}): CatalogModel {
  return {
    id: 'H100-SXM',
    class: 'gpu',
    aliases: [],
    releaseDate: '2023-03-01',
    economicLifeMonths: 36,
    depreciation: 0.3,
    liquidity: { depthPerMonth: 8000, h0: 0.1, k: 0.05, hmax: 0.8 },
    generation: 3,
    ...overrides,
  };
}

export function aCatalog(models: readonly CatalogModel[]): Catalog {
  return { models: new Map(models.map((m) => [m.id, m])), aliases: new Map(models.map((m) => [m.id.toUpperCase(), m.id])) };
}

export function aFleetItem(overrides: Partial<FleetItem> = {}): FleetItem {
  return FleetItemSchema.parse({
    id: 'h100-a',
    model: 'H100-SXM',
    count: 1000,
    costPerUnit: 30000,
    acquiredAt: '2024-01-01',
    ...overrides,
  });
}

export function anAsicItem(overrides: Partial<FleetItem> = {}): FleetItem {
  return aFleetItem({ id: 's19', class: 'asic', model: 'S19XP', count: 10000, costPerUnit: 5000, hashrateTh: 140, opexPerUnitDay: 5, ...overrides });
}

export function aFacility(overrides: Partial<Facility> = {}): Facility {
  return FacilitySchema.parse({
    id: 'loan-1',
    kind: 'gpu_term_loan',
    principal: 20_000_000,
    rate: 0.1,
    start: '2025-01-01',
    maturity: '2029-01-01',
    collateral: ['fleet:h100-a'],
    covenants: { ltvWarn: 0.65, ltvMarginCall: 0.75, ltvLiquidation: 0.85, dscrMin: 1.25 },
    ...overrides,
  });
}

export function aSheet(overrides: Partial<SheetVersionInput> & { fleet?: FleetItem[]; facilities?: Facility[] } = {}): SheetVersion {
  return SheetVersionSchema.parse({
    id: 'acme',
    name: 'Acme Compute',
    type: 'neocloud',
    cash: 10_000_000,
    fleet: [aFleetItem()],
    facilities: [aFacility()],
    ...overrides,
  });
}

export function aMarket(overrides: Partial<Market> = {}): Market {
  return {
    crypto: { BTC: 100_000, ETH: 4000 },
    rental: { 'H100-SXM': 2.0, H200: 3.0 },
    resale: { 'H100-SXM': 25_000, S19XP: 1200 },
    hashprice: 0.05,
    ...overrides,
  };
}

/** 2025-10-01T00:00:00Z, the instant of the worked examples. */
export const AT_MS = Date.UTC(2025, 9, 1);

/** A record of the entities topic at (partition, offset): `value` as JSON (a string as it is, null a tombstone). */
export function anEntityRecord(partition: number, offset: number, id: string, value: unknown): ConsumedRecord {
  return {
    topic: 'ccm.entities',
    partition,
    offset: String(offset),
    key: id,
    value: value === null ? null : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
    ts: 1_000 + offset,
  };
}
