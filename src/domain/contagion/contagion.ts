import type { Market } from '../market/market.ts';
import { REVALUATION, type DomainParams } from '../params.ts';
import type { SheetVersion } from '../sheet/sheet.ts';
import { facilityOutstanding, valueEntity } from '../valuation/valuation.ts';
import { compileEntity, valueCompiled } from '../valuation/compiled.ts';
import type { FacilityStatus } from '../valuation/valuation-types.ts';

/**
 * Fire-sale contagion over the whole book (shared/DOMAIN.md "Fire-sale contagion"; the decisions
 * where it is silent are in docs/valuation.md "Contagion"). Pure: the book's sheets in force at
 * `atMs`, one market, the domain parameters (their catalog gives each model's market-wide
 * liquidity). Rounds of default, cross-default seizure of every fleet item pledged to a facility
 * that owes, each model's unit value cut by its fire-sale impact, until no new default.
 */
export const MAX_CONTAGION_ROUNDS = 25;

/** Why an entity is in default in its round. */
export type DefaultCause =
  | { readonly kind: 'forced' }
  | { readonly kind: 'liquidation'; readonly facility: string; readonly ltv: number | null; readonly ltvLiquidation: number | null };

export interface ContagionFacility {
  readonly id: string;
  readonly ltvBefore: number | null;
  readonly ltvAfter: number | null;
  readonly statusBefore: FacilityStatus;
  readonly statusAfter: FacilityStatus;
}

export interface ContagionEntity {
  readonly entity: string;
  /** null: a survivor; 0: in default today; r >= 1: pulled in by the others' fire sales at round r. */
  readonly defaultRound: number | null;
  readonly ltvBefore: number | null;
  readonly ltvAfter: number | null;
  readonly facilities: readonly ContagionFacility[];
}

export interface ContagionModel {
  readonly model: string;
  readonly seizedUnits: number;
  readonly impact: number;
  /** The model's resale index before and after (null: no index, its items are valued by the model). */
  readonly resaleBefore: number | null;
  readonly resaleAfter: number | null;
}

export interface ContagionLender {
  readonly lender: string;
  readonly outstanding: number;
  readonly defaultedDebt: number;
  readonly shortfall: number;
}

/** The DOMAIN.md JSON. */
export interface ContagionResult {
  readonly at: string;
  readonly rounds: number;
  readonly converged: boolean;
  readonly models: readonly ContagionModel[];
  readonly entities: readonly ContagionEntity[];
  readonly lenders: readonly ContagionLender[];
}

/** The result with what the readable table and the alerts need besides the JSON. */
export interface ContagionReport {
  readonly result: ContagionResult;
  /** Per defaulted entity, why it defaulted in its round. */
  readonly causes: ReadonlyMap<string, DefaultCause>;
  /** The entities in default at round 0 (today's, and the forced ones): what sets the cascade off. */
  readonly roundZero: readonly string[];
  /** Per lender, the outstanding of the entities in default at round 0: the debt in default today, before the cascade. */
  readonly defaultedTodayByLender: ReadonlyMap<string, number>;
}

/** The cascade as the processor reads it: the entities in a `CascadeBook`, each built when asked for (a close of the whole book would otherwise hold 10,000 of them, some 27 MB). */
export interface Cascade extends Omit<ContagionResult, 'entities'>, Omit<ContagionReport, 'result'> {
  readonly book: CascadeBook;
}

export interface ContagionOptions {
  /** Entities put in default at round 0 whatever their valuation (`ccm contagion --default`). */
  readonly forcedDefaults?: readonly string[];
}

/** A facility that still owes: the lender of a defaulted entity seizes what is pledged to it. */
const OWES = (outstanding: number): boolean => outstanding > 0;

export const NO_LENDER = '-';

/**
 * The cascade of `sheets` (one version per entity, the one in force at `atMs`) at `market`.
 * Entities are reported in order of id, facilities in sheet order, models by id.
 */
export function cascade(sheets: readonly SheetVersion[], market: Market, atMs: number, params: DomainParams, options: ContagionOptions = {}): Cascade {
  const book = [...sheets].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const forced = new Set(options.forcedDefaults ?? []);
  const outstanding = book.map((s) => facilityOutstanding(s, atMs));
  const seizable = book.map((s, e) => seizableUnits(s, outstanding[e]));
  // Each round values the whole book at a market with scaled resale indexes: from each sheet's
  // compiled form (compiled once, a few operations per pledge a round), or, on the reference path,
  // by the readable full valuation; the two give the same doubles (test/unit/contagion-paths.test.ts).
  const compiled = params.revaluation === REVALUATION.reference ? null : book.map((s) => compileEntity(s, market, atMs, params));
  const firstFacility = new Int32Array(book.length + 1);
  book.forEach((s, e) => (firstFacility[e + 1] = firstFacility[e] + s.facilities.length));
  const value = (factor: ReadonlyMap<string, number> | undefined): BookValues => {
    const values = new BookValues(firstFacility);
    if (compiled !== null) compiled.forEach((c, e) => values.set(e, valueCompiled(c, factor)));
    else book.forEach((s, e) => values.set(e, valueEntity(s, market, atMs, params, { stress: false, ...(factor === undefined ? {} : { resaleFactor: factor }) })));
    return values;
  };
  const before = value(undefined);
  const defaultRound = new Array<number | null>(book.length).fill(null);
  const causes = new Map<string, DefaultCause>();
  let current = before;
  let factor: Map<string, number> = new Map();
  let seized = new Map<string, number>();
  let rounds = 0;
  let converged = false;
  for (let r = 0; ; r++) {
    // D_r: the defaults so far, and every entity with a facility at liquidation at M_r
    let added = 0;
    for (let e = 0; e < book.length; e++) {
      if (defaultRound[e] !== null) continue;
      const cause = r === 0 && forced.has(book[e].id) ? ({ kind: 'forced' } as const) : liquidationCause(book[e], current, e);
      if (cause === null) continue;
      defaultRound[e] = r;
      causes.set(book[e].id, cause);
      added++;
    }
    if (r > 0 && added === 0) {
      converged = true;
      rounds = r - 1;
      break;
    }
    if (r === MAX_CONTAGION_ROUNDS) {
      rounds = r;
      break;
    }
    // S_m over D_r, then M_(r+1)
    seized = new Map();
    for (let e = 0; e < book.length; e++) {
      if (defaultRound[e] === null) continue;
      for (const [model, units] of seizable[e]) seized.set(model, (seized.get(model) ?? 0) + units);
    }
    factor = new Map([...seized].map(([model, units]) => [model, 1 - impactOf(model, units, params)]));
    current = value(factor);
  }

  const models: ContagionModel[] = [...seized]
    .filter(([, units]) => units > 0)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([model, units]) => {
      const resale = market.resale[model];
      const impact = impactOf(model, units, params);
      return { model, seizedUnits: units, impact, resaleBefore: resale ?? null, resaleAfter: resale === undefined ? null : resale * (1 - impact) };
    });

  const lenders = new Map<string, { outstanding: number; defaultedDebt: number; shortfall: number }>();
  const today = new Map<string, number>();
  for (let e = 0; e < book.length; e++) {
    book[e].facilities.forEach((f, i) => {
      const out = outstanding[e][i];
      if (!OWES(out)) return;
      const name = f.lender ?? NO_LENDER;
      const l = lenders.get(name) ?? { outstanding: 0, defaultedDebt: 0, shortfall: 0 };
      l.outstanding += out;
      if (defaultRound[e] === 0) today.set(name, (today.get(name) ?? 0) + out);
      if (defaultRound[e] !== null) {
        l.defaultedDebt += out;
        // unsecured debt, or collateral without a value, recovers nothing (docs/valuation.md "Contagion")
        l.shortfall += Math.max(0, out - (current.facilityLiquidationValue(e, i) ?? 0));
      }
      lenders.set(name, l);
    });
  }

  return {
    at: new Date(atMs).toISOString(),
    rounds,
    converged,
    models,
    book: new CascadeBook(book, defaultRound, before, current),
    lenders: [...lenders].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([lender, l]) => ({ lender, ...l })),
    causes,
    roundZero: book.filter((_, e) => defaultRound[e] === 0).map((s) => s.id),
    defaultedTodayByLender: today,
  };
}

/** The cascade's entities, sorted by id, read one at a time: a `ContagionEntity` is built only when asked for. */
export class CascadeBook {
  constructor(
    private readonly sheets: readonly SheetVersion[],
    private readonly rounds: readonly (number | null)[],
    private readonly before: BookValues,
    private readonly after: BookValues,
  ) {}
  get size(): number {
    return this.sheets.length;
  }
  id(e: number): string {
    return this.sheets[e].id;
  }
  defaultRound(e: number): number | null {
    return this.rounds[e];
  }
  ltvBefore(e: number): number | null {
    return this.before.ltv(e);
  }
  ltvAfter(e: number): number | null {
    return this.after.ltv(e);
  }
  entity(e: number): ContagionEntity {
    return {
      entity: this.sheets[e].id,
      defaultRound: this.rounds[e],
      ltvBefore: this.before.ltv(e),
      ltvAfter: this.after.ltv(e),
      facilities: this.sheets[e].facilities.map((f, i) => ({
        id: f.id,
        ltvBefore: this.before.facilityLtv(e, i),
        ltvAfter: this.after.facilityLtv(e, i),
        statusBefore: this.before.facilityStatus(e, i),
        statusAfter: this.after.facilityStatus(e, i),
      })),
    };
  }
}

/** The cascade (`cascade`) with every entity's result built: what `ccm contagion` prints and the tests read. */
export function contagion(sheets: readonly SheetVersion[], market: Market, atMs: number, params: DomainParams, options: ContagionOptions = {}): ContagionReport {
  const c = cascade(sheets, market, atMs, params, options);
  const entities = Array.from({ length: c.book.size }, (_, e) => c.book.entity(e));
  return { result: { at: c.at, rounds: c.rounds, converged: c.converged, models: c.models, entities, lenders: c.lenders }, causes: c.causes, roundZero: c.roundZero, defaultedTodayByLender: c.defaultedTodayByLender };
}

/** `i_m = min(hmax - h0, k * S_m / depthPerMonth)` with the catalog's liquidity of the model, else the defaults. */
export function impactOf(model: string, seizedUnits: number, params: DomainParams): number {
  const liq = params.catalog.models.get(model)?.liquidity ?? params.defaultLiquidity;
  return Math.min(liq.hmax - liq.h0, (liq.k * seizedUnits) / liq.depthPerMonth);
}

/** Per model, the units of the fleet items pledged to a facility that owes (what a cross-default seizes). */
export function seizableUnits(sheet: SheetVersion, outstanding: readonly number[]): Map<string, number> {
  const pledged = new Set<string>();
  sheet.facilities.forEach((f, i) => {
    if (!OWES(outstanding[i])) return;
    for (const p of f.collateral) if (p.startsWith('fleet:')) pledged.add(p.slice('fleet:'.length));
  });
  const units = new Map<string, number>();
  for (const item of sheet.fleet) if (pledged.has(item.id) && item.count > 0) units.set(item.model, (units.get(item.model) ?? 0) + item.count);
  return units;
}

/** What the cascade reads of an entity's valuation at a round's market. */
interface CascadeValue {
  readonly ltv: number | null;
  readonly facilities: ReadonlyArray<{ readonly id: string; readonly ltv: number | null; readonly status: FacilityStatus; readonly liquidationValue: number | null }>;
}

/** Numbers that may be null, in a typed array (a null is flagged beside). */
class Nullables {
  private readonly values: Float64Array;
  private readonly nulls: Uint8Array;
  constructor(n: number) {
    this.values = new Float64Array(n);
    this.nulls = new Uint8Array(n);
  }
  set(i: number, v: number | null): void {
    if (v === null) this.nulls[i] = 1;
    else this.values[i] = v;
  }
  get(i: number): number | null {
    return this.nulls[i] === 1 ? null : this.values[i];
  }
}

/**
 * What the cascade reads of one round's valuations of the book: each entity's LTV, each facility's
 * id, LTV, status and liquidation value (facilities flat, entity `e`'s from `first[e]`). Each round
 * values the whole book and `before` is held to the end: kept as objects per entity and facility,
 * two or three books of them were live at once during a window close, beside the close's own
 * outputs (14 MB a book of 10,000 entities as reference valuations); this is well under 1 MB.
 */
class BookValues {
  private readonly entityLtv: Nullables;
  private readonly ltvs: Nullables;
  private readonly liquidationValues: Nullables;
  private readonly ids: string[];
  private readonly statuses: FacilityStatus[];
  constructor(private readonly first: Int32Array) {
    const facilities = first[first.length - 1];
    this.entityLtv = new Nullables(first.length - 1);
    this.ltvs = new Nullables(facilities);
    this.liquidationValues = new Nullables(facilities);
    this.ids = new Array<string>(facilities);
    this.statuses = new Array<FacilityStatus>(facilities);
  }
  set(e: number, v: CascadeValue): void {
    // both paths value every facility of the sheet, in sheet order (what `first` counts)
    if (v.facilities.length !== this.facilityCount(e)) throw new Error(`contagion: entity ${e} of the book valued ${v.facilities.length} facilities, its sheet has ${this.facilityCount(e)}`);
    this.entityLtv.set(e, v.ltv);
    const at = this.first[e];
    v.facilities.forEach((f, i) => {
      this.ltvs.set(at + i, f.ltv);
      this.liquidationValues.set(at + i, f.liquidationValue);
      this.ids[at + i] = f.id;
      this.statuses[at + i] = f.status;
    });
  }
  facilityCount(e: number): number {
    return this.first[e + 1] - this.first[e];
  }
  ltv(e: number): number | null {
    return this.entityLtv.get(e);
  }
  facilityId(e: number, i: number): string {
    return this.ids[this.first[e] + i];
  }
  facilityLtv(e: number, i: number): number | null {
    return this.ltvs.get(this.first[e] + i);
  }
  facilityStatus(e: number, i: number): FacilityStatus {
    return this.statuses[this.first[e] + i];
  }
  facilityLiquidationValue(e: number, i: number): number | null {
    return this.liquidationValues.get(this.first[e] + i);
  }
}

/** The first facility at `liquidation` in this valuation, as the cause of the entity's default; null if none. */
function liquidationCause(sheet: SheetVersion, values: BookValues, e: number): DefaultCause | null {
  for (let i = 0; i < values.facilityCount(e); i++) {
    if (values.facilityStatus(e, i) === 'liquidation') return { kind: 'liquidation', facility: values.facilityId(e, i), ltv: values.facilityLtv(e, i), ltvLiquidation: sheet.facilities[i].covenants.ltvLiquidation ?? null };
  }
  return null;
}
