import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { Catalog } from '../src/domain/sheet/catalog.ts';
import { CatalogSchema, toCatalog } from '../src/domain/sheet/catalog.ts';
import type { Market } from '../src/domain/market/market.ts';
import type { Quote } from '../src/domain/market/quote.ts';
import type { Entity, SheetVersion } from '../src/domain/sheet/sheet.ts';
import { SheetVersionSchema } from '../src/domain/sheet/sheet.ts';
import { mulberry32 } from '../src/ingest/simulate/prng.ts';

/**
 * A seeded book of borrowers, its market and a quote stream, for the benchmarks and for the
 * acceptance tests of the runtime (50,000 quotes against 1,000 entities). Everything is a pure
 * function of the seed: the same seed gives the same book and the same quotes, byte for byte.
 *
 * The mix follows shared/notes/entities.md in shape, not in names: neoclouds (about 60%) with GPU
 * fleets financed by amortising GPU term loans and ABLs, part of the capacity under take-or-pay
 * contracts; bitcoin miners (about 40%) with BTC (some ETH) treasuries, ASIC fleets, BTC-backed
 * bullet loans, equipment loans on the ASICs, unsecured converts, and a third of them with a GPU
 * pivot financed by an ABL. Prices are round 2025 levels (DOMAIN.md's snapshot and
 * shared/examples/valuation/market-2025-10-01.json); they only need to be plausible.
 */

/** mulberry32 (Tommy Ettinger, public domain): the simulator's seeded PRNG, returns [0, 1). */
export { mulberry32 };

/** Catalog ids the book uses (all in config/catalog.yaml). */
export const GPU_MODELS = ['H100-SXM', 'H100-PCIE', 'H200', 'B200', 'B300', 'GB200', 'GB300', 'A100-80GB', 'MI300X', 'RTX-4090'] as const;
export const ASIC_MODELS = ['S19XP', 'S19J-PRO', 'S21'] as const;

/** Round 2025 levels: rental USD per GPU-hour, resale USD per unit, hashrate TH/s for ASICs. */
const GPU_PRICES: Readonly<Record<string, { rental: number; resale: number }>> = {
  'H100-SXM': { rental: 2.1, resale: 22_000 },
  'H100-PCIE': { rental: 1.8, resale: 18_000 },
  H200: { rental: 3.05, resale: 30_000 },
  B200: { rental: 4.5, resale: 42_000 },
  B300: { rental: 5.5, resale: 50_000 },
  GB200: { rental: 5.0, resale: 48_000 },
  GB300: { rental: 6.0, resale: 55_000 },
  'A100-80GB': { rental: 1.1, resale: 9_000 },
  MI300X: { rental: 2.0, resale: 15_000 },
  'RTX-4090': { rental: 0.35, resale: 1_600 },
};
const ASIC_PRICES: Readonly<Record<string, { resale: number; hashrateTh: number }>> = {
  S19XP: { resale: 1_200, hashrateTh: 140 },
  'S19J-PRO': { resale: 500, hashrateTh: 100 },
  S21: { resale: 3_500, hashrateTh: 200 },
};
const CRYPTO_PRICES = { BTC: 110_000, ETH: 4_000 } as const;
const HASHPRICE = 0.048;

/** Reads config/catalog.yaml (bench code may do I/O). */
export function loadCatalog(path = new URL('../config/catalog.yaml', import.meta.url)): Catalog {
  return toCatalog(CatalogSchema.parse(parse(readFileSync(path, 'utf8'))));
}

/** The market of the book: every index the book's models and coins need. */
export function bookMarket(models: readonly string[] = [...GPU_MODELS, ...ASIC_MODELS]): Market {
  const rental: Record<string, number> = {};
  const resale: Record<string, number> = {};
  for (const m of models) {
    const g = GPU_PRICES[m];
    if (g !== undefined) {
      rental[m] = g.rental;
      resale[m] = g.resale;
    }
    const a = ASIC_PRICES[m];
    if (a !== undefined) resale[m] = a.resale;
  }
  return { crypto: { ...CRYPTO_PRICES }, rental, resale, hashprice: HASHPRICE };
}

/** The base price of an instrument id in the book's market (for quote random walks). */
export function basePrice(instrument: string): number {
  if (instrument === 'BTC' || instrument === 'ETH') return CRYPTO_PRICES[instrument];
  if (instrument === 'hashprice') return HASHPRICE;
  const [kind, model] = instrument.split(':');
  if (kind === 'rental') return GPU_PRICES[model]?.rental ?? 1;
  if (kind === 'resale') return GPU_PRICES[model]?.resale ?? ASIC_PRICES[model]?.resale ?? 1_000;
  return 100;
}

/** Every instrument id the book's market has (sorted). */
export function bookInstruments(models: readonly string[] = [...GPU_MODELS, ...ASIC_MODELS]): string[] {
  const ids = new Set<string>(['BTC', 'ETH', 'hashprice']);
  for (const m of models) {
    if (GPU_PRICES[m] !== undefined) ids.add(`rental:${m}`);
    ids.add(`resale:${m}`);
  }
  return [...ids].sort();
}

export interface BookOptions {
  readonly entities: number;
  readonly seed: number;
  /** Leave these models out of every sheet (e.g. to build a book NOT exposed to one instrument). */
  readonly excludeModels?: readonly string[];
  /** Prefix of entity ids (default `b`): `b-000001`. */
  readonly idPrefix?: string;
}

export interface Book {
  readonly entities: Entity[];
  /** Catalog ids used by the book's sheets (sorted). */
  readonly models: string[];
  readonly market: Market;
  /** Instrument ids the book is exposed to (sorted). */
  readonly instruments: string[];
}

const DATE = (y: number, m: number, d = 1): string => `${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;

/** Generates a seeded book; every sheet passes SheetVersionSchema (so defaults are the sheet's own). */
export function generateBook(opts: BookOptions): Book {
  const rnd = mulberry32(opts.seed);
  const between = (lo: number, hi: number): number => lo + (hi - lo) * rnd();
  const logBetween = (lo: number, hi: number): number => Math.exp(between(Math.log(lo), Math.log(hi)));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const round = (x: number, step: number): number => Math.max(step, Math.round(x / step) * step);
  const excluded = new Set(opts.excludeModels ?? []);
  const gpuModels = GPU_MODELS.filter((m) => !excluded.has(m));
  const asicModels = ASIC_MODELS.filter((m) => !excluded.has(m));
  const used = new Set<string>();
  const prefix = opts.idPrefix ?? 'b';
  const width = Math.max(6, String(opts.entities).length);

  const covenants = () => {
    const warn = Math.round(between(0.55, 0.7) * 100) / 100;
    return { ltvWarn: warn, ltvMarginCall: Math.round((warn + 0.1) * 100) / 100, ltvLiquidation: Math.round((warn + 0.2) * 100) / 100, dscrMin: Math.round(between(1.1, 1.4) * 100) / 100 };
  };
  const acquired = (): string => DATE(2022 + Math.floor(rnd() * 4), 1 + Math.floor(rnd() * 12));

  const gpuItem = (id: string, model: string, count: number) => {
    used.add(model);
    const contracted = rnd() < 0.6 ? { share: Math.round(between(0.2, 0.8) * 100) / 100, ratePerHour: Math.round(GPU_PRICES[model].rental * between(1.0, 1.4) * 100) / 100, until: DATE(2026 + Math.floor(rnd() * 3), 1 + Math.floor(rnd() * 12)) } : undefined;
    return {
      id,
      class: 'gpu' as const,
      model,
      count,
      costPerUnit: round(GPU_PRICES[model].resale * between(1.4, 1.9), 100),
      acquiredAt: acquired(),
      utilization: Math.round(between(0.7, 0.95) * 100) / 100,
      ...(contracted === undefined ? {} : { contracted }),
      opexPerUnitHour: Math.round(GPU_PRICES[model].rental * between(0.15, 0.3) * 100) / 100,
    };
  };

  const entities: Entity[] = [];
  for (let e = 0; e < opts.entities; e++) {
    const id = `${prefix}-${String(e + 1).padStart(width, '0')}`;
    const isMiner = asicModels.length > 0 && (gpuModels.length === 0 || rnd() < 0.4);
    const fleet: Array<Record<string, unknown>> = [];
    const facilities: Array<Record<string, unknown>> = [];
    let cash: number;
    const holdings = { BTC: 0, ETH: 0 };
    let fixedCostsPerYear: number;

    if (!isMiner) {
      const items = 1 + Math.floor(rnd() * 3);
      let fleetCost = 0;
      for (let i = 0; i < items; i++) {
        const model = pick(gpuModels);
        const item = gpuItem(`gpu-${i + 1}`, model, round(logBetween(200, 40_000), 10));
        fleet.push(item);
        fleetCost += item.count * item.costPerUnit;
        // Sized against today's resale value, so the book spreads over ok, warn and a few margin calls.
        const principal = round(item.count * GPU_PRICES[model].resale * between(0.4, 0.85), 100_000);
        const amortising = rnd() < 0.7;
        const start = DATE(2023 + Math.floor(rnd() * 3), 1 + Math.floor(rnd() * 12));
        facilities.push({
          id: `${amortising ? 'ddtl' : 'abl'}-${i + 1}`,
          kind: amortising ? 'gpu_term_loan' : 'abl',
          principal,
          rate: Math.round(between(0.08, 0.15) * 1000) / 1000,
          start,
          maturity: DATE(Number(start.slice(0, 4)) + 3 + Math.floor(rnd() * 3), Number(start.slice(5, 7))),
          amortization: amortising ? { kind: 'straight_line', months: pick([36, 48, 60]) } : { kind: 'bullet' },
          collateral: [`fleet:${item.id}`],
          covenants: covenants(),
          lender: pick(['bank-a', 'bank-b', 'private-credit-c', 'fund-d']),
        });
      }
      cash = round(fleetCost * between(0.03, 0.2), 100_000);
      fixedCostsPerYear = round(fleetCost * between(0.01, 0.04), 100_000);
    } else {
      holdings.BTC = round(logBetween(50, 15_000), 1);
      if (rnd() < 0.3) holdings.ETH = round(logBetween(500, 20_000), 10);
      const model = pick(asicModels);
      used.add(model);
      const count = round(logBetween(2_000, 60_000), 100);
      fleet.push({
        id: 'asic-1',
        class: 'asic',
        model,
        count,
        hashrateTh: ASIC_PRICES[model].hashrateTh,
        costPerUnit: round(ASIC_PRICES[model].resale * between(2, 4), 10),
        acquiredAt: acquired(),
        opexPerUnitDay: Math.round(between(3, 6) * 100) / 100,
      });
      const lot = Math.max(1, Math.floor(holdings.BTC * between(0.3, 0.8)));
      facilities.push({
        id: 'btc-loan',
        kind: 'crypto_loan',
        principal: round(lot * CRYPTO_PRICES.BTC * between(0.3, 0.55), 100_000),
        rate: Math.round(between(0.07, 0.12) * 1000) / 1000,
        start: DATE(2024 + Math.floor(rnd() * 2), 1 + Math.floor(rnd() * 12)),
        maturity: DATE(2026 + Math.floor(rnd() * 2), 1 + Math.floor(rnd() * 12)),
        collateral: [`holdings:BTC:${lot}`],
        covenants: { ltvWarn: 0.6, ltvMarginCall: 0.7, ltvLiquidation: 0.8 },
        lender: pick(['crypto-lender-a', 'crypto-lender-b']),
      });
      if (rnd() < 0.5) {
        facilities.push({
          id: 'equip-1',
          kind: 'equipment_loan',
          principal: round(count * ASIC_PRICES[model].resale * between(0.3, 0.7), 100_000),
          rate: Math.round(between(0.1, 0.16) * 1000) / 1000,
          start: DATE(2023, 1 + Math.floor(rnd() * 12)),
          maturity: DATE(2027, 1 + Math.floor(rnd() * 12)),
          amortization: { kind: 'straight_line', months: 48 },
          collateral: ['fleet:asic-1'],
          covenants: covenants(),
        });
      }
      if (rnd() < 0.5) {
        facilities.push({ id: 'convert-1', kind: 'convertible', principal: round(logBetween(50e6, 1e9), 1e6), rate: Math.round(between(0, 0.04) * 1000) / 1000, start: '2024-06-01', maturity: DATE(2029 + Math.floor(rnd() * 2), 6) });
      }
      if (gpuModels.length > 0 && rnd() < 0.33) {
        const gpu = pick(gpuModels.filter((m) => m !== 'RTX-4090').length > 0 ? gpuModels.filter((m) => m !== 'RTX-4090') : gpuModels);
        const item = gpuItem('gpu-pivot', gpu, round(logBetween(500, 10_000), 10));
        fleet.push(item);
        facilities.push({
          id: 'gpu-abl',
          kind: 'abl',
          principal: round(item.count * GPU_PRICES[gpu].resale * between(0.4, 0.75), 100_000),
          rate: Math.round(between(0.1, 0.14) * 1000) / 1000,
          start: '2025-03-01',
          maturity: '2029-03-01',
          amortization: { kind: 'straight_line', months: 48 },
          collateral: ['fleet:gpu-pivot'],
          covenants: covenants(),
        });
      }
      cash = round(logBetween(20e6, 500e6), 100_000);
      fixedCostsPerYear = round(logBetween(10e6, 150e6), 100_000);
    }
    const sheet: SheetVersion = SheetVersionSchema.parse({
      id,
      name: `${isMiner ? 'Miner' : 'Neocloud'} ${e + 1} (generated)`,
      type: isMiner ? 'miner' : 'neocloud',
      cash,
      holdings,
      fixedCostsPerYear,
      fleet,
      facilities,
    });
    entities.push({ id, versions: [sheet] });
  }
  const models = [...used].sort();
  return { entities, models, market: bookMarket(models), instruments: bookInstruments(models).filter((i) => i !== 'ETH' || entities.some((e) => e.versions[0].holdings.ETH > 0)) };
}

export interface QuoteStreamOptions {
  readonly seed: number;
  readonly count: number;
  readonly startTs: number;
  /** Event-time step between consecutive quotes of the stream (all instruments together). */
  readonly cadenceMs: number;
  readonly instruments: readonly string[];
  readonly sourcesPerInstrument: number;
}

/**
 * A quote stream: one random walk per instrument (log-normal steps, crypto moving faster than
 * compute prices), several sources quoting around it with a little noise of their own. Quotes
 * are in event-time order overall (non-decreasing ts) with instruments and sources interleaved;
 * crypto quotes come four times as often as the others.
 */
export function generateQuotes(opts: QuoteStreamOptions): Quote[] {
  const rnd = mulberry32(opts.seed ^ 0x9e3779b9);
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
  const instruments = [...opts.instruments];
  if (instruments.length === 0 || opts.sourcesPerInstrument < 1) return [];
  const weights = instruments.map((i) => (i === 'BTC' || i === 'ETH' ? 4 : 1));
  const total = weights.reduce((a, b) => a + b, 0);
  const level = instruments.map(basePrice);
  const sigma = instruments.map((i) => (i === 'BTC' || i === 'ETH' ? 0.002 : 0.001));
  const sources = Array.from({ length: opts.sourcesPerInstrument }, (_, s) => `src-${s + 1}`);
  const quotes: Quote[] = [];
  for (let k = 0; k < opts.count; k++) {
    let r = rnd() * total;
    let i = 0;
    while (i < instruments.length - 1 && r >= weights[i]) r -= weights[i++];
    level[i] *= Math.exp(sigma[i] * gauss());
    const source = sources[Math.floor(rnd() * sources.length)];
    const price = level[i] * (1 + 0.001 * gauss());
    const ts = opts.startTs + k * opts.cadenceMs;
    quotes.push({ v: 1, instrument: instruments[i], price: Number(price.toPrecision(8)), source, ts, tsSource: 'source', receivedAt: ts });
  }
  return quotes;
}
