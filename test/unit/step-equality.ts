import { basePrice as bookBasePrice, generateBook, mulberry32 } from '../../bench/book.ts';
import type { DomainParams } from '../../src/domain/params.ts';
import { REVALUATION } from '../../src/domain/params.ts';
import type { Entity, SheetVersion, SheetVersionInput } from '../../src/domain/sheet/sheet.ts';
import { SheetVersionSchema } from '../../src/domain/sheet/sheet.ts';
import type { AlertStateRecord, StepEvent, StepOutput } from '../../src/domain/step/step-types.ts';
import { RELEASED_ENTITY_TS } from '../../src/domain/step/step-types.ts';
import { alertStates, flush, initialState, restoreAlertStates, step, type ProcessorState } from '../../src/domain/step/step.ts';
import { STATUS } from '../../src/domain/valuation/valuation-types.ts';

/**
 * The equality harness of the two revaluation paths (docs/valuation.md "Incremental revaluation"):
 * random books and operation streams, folded through `step` with `revaluation: reference` and
 * with `incremental`, compared output for output (numbers with Object.is: the same doubles).
 *
 * Operations reproduce what the runtime does to a state: quotes and ticks (to every instance),
 * entity versions, tombstones and re-publications (to the owning instance), rebalance handovers
 * between two instances (a release, then the entity with its previous owner's statuses), restores
 * of alert states after a restart (restoreAlertStates with records, some of them newer), and the
 * final flush.
 */

export const INSTANCES = 2;

export type Op =
  | { readonly op: 'all'; readonly event: StepEvent }
  | { readonly op: 'one'; readonly instance: number; readonly event: StepEvent }
  | { readonly op: 'handover'; readonly entity: Entity; readonly from: number; readonly to: number }
  /** Restores every held status, with those picked by `pick` (indices into the sorted records) changed to another status, since = clock. */
  | { readonly op: 'restore'; readonly instance: number; readonly pick: readonly number[]; readonly statusPick: number };

export interface Fold {
  /** Per instance, every output in order, the final flush included. */
  readonly outputs: StepOutput[][];
  /** Per instance, the alert states at the end. */
  readonly states: AlertStateRecord[][];
  readonly revaluations: { full: number; filtered: number };
}

/** Folds the operations through `step` on the given path. */
export function fold(ops: readonly Op[], params: DomainParams, path: (typeof REVALUATION)[keyof typeof REVALUATION]): Fold {
  const p: DomainParams = { ...params, revaluation: path };
  const states: ProcessorState[] = Array.from({ length: INSTANCES }, () => initialState(p));
  const outputs: StepOutput[][] = states.map(() => []);
  const apply = (i: number, event: StepEvent): void => {
    const r = step(states[i], event, p);
    states[i] = r.state;
    for (const o of r.outputs) outputs[i].push(o);
  };
  for (const o of ops) {
    switch (o.op) {
      case 'all':
        for (let i = 0; i < INSTANCES; i++) apply(i, o.event);
        break;
      case 'one':
        apply(o.instance, o.event);
        break;
      case 'handover': {
        const handed = alertStates(states[o.from]).filter((r) => r.key.startsWith(`${o.entity.id}/`));
        apply(o.from, { kind: 'entity', id: o.entity.id, entity: null, ts: RELEASED_ENTITY_TS });
        apply(o.to, { kind: 'entity', id: o.entity.id, entity: o.entity, ts: 1, statuses: handed });
        break;
      }
      case 'restore': {
        const s = states[o.instance];
        const records = alertStates(s).map((r, k) => {
          if (!o.pick.includes(k) || !r.key.endsWith('/ltv')) return r;
          const status = STATUS[(STATUS.indexOf(r.status as (typeof STATUS)[number]) + 1 + o.statusPick) % STATUS.length];
          return { ...r, status, since: s.clockMs ?? r.since, cureDeadline: null };
        });
        states[o.instance] = restoreAlertStates(s, records);
        break;
      }
      default: {
        const never: never = o;
        throw new Error(`unknown op ${JSON.stringify(never)}`);
      }
    }
  }
  for (let i = 0; i < INSTANCES; i++) for (const o of flush(states[i], p).outputs) outputs[i].push(o);
  const revaluations = { full: 0, filtered: 0 };
  for (const s of states) {
    revaluations.full += s.revaluations.full;
    revaluations.filtered += s.revaluations.filtered;
  }
  return { outputs, states: states.map((s) => alertStates(s)), revaluations };
}

/** The first difference between two values (numbers compared with Object.is), as a path and both sides; null when equal. */
export function firstDifference(a: unknown, b: unknown, path = ''): string | null {
  if (typeof a === 'number' && typeof b === 'number') return Object.is(a, b) ? null : `${path}: ${a} !== ${b}`;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return a === b ? null : `${path}: ${JSON.stringify(a)} !== ${JSON.stringify(b)}`;
  if (Array.isArray(a) !== Array.isArray(b)) return `${path}: array against object`;
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  if (ka.length !== kb.length || ka.some((k, i) => k !== kb[i])) return `${path}: keys ${ka.join(',')} !== ${kb.join(',')}`;
  for (const k of ka) {
    const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
    if (d !== null) return d;
  }
  return null;
}

/** The paths over the same operations (`full` too when asked): the first difference of outputs or final states from the reference, or null. */
export function comparePaths(ops: readonly Op[], params: DomainParams, withFull = false): { difference: string | null; reference: Fold; incremental: Fold } {
  const reference = fold(ops, params, REVALUATION.reference);
  const incremental = fold(ops, params, REVALUATION.incremental);
  const difference = differenceOf(reference, incremental) ?? (withFull ? differenceOf(reference, fold(ops, params, REVALUATION.full)) : null);
  return { difference, reference, incremental };
}

function differenceOf(a: Fold, b: Fold): string | null {
  for (let i = 0; i < INSTANCES; i++) {
    const n = Math.max(a.outputs[i].length, b.outputs[i].length);
    for (let k = 0; k < n; k++) {
      const d = firstDifference(a.outputs[i][k], b.outputs[i][k], `instance ${i} output ${k} (${a.outputs[i][k]?.kind ?? '-'})`);
      if (d !== null) return d;
    }
  }
  return firstDifference(a.states, b.states, 'states');
}

// ---------------------------------------------------------------- random books and streams

const GPUS = ['H100-SXM', 'H200', 'B200'] as const;
const ASICS = ['S19XP', 'S21'] as const;
const RESALE: Readonly<Record<string, number>> = { 'H100-SXM': 22_000, H200: 30_000, B200: 42_000, S19XP: 1_200, S21: 3_500 };
const RENTAL: Readonly<Record<string, number>> = { 'H100-SXM': 2.1, H200: 3.05, B200: 4.5 };
const BASE: Readonly<Record<string, number>> = { BTC: 110_000, ETH: 4_000, hashprice: 0.048 };
const DAY = 86_400_000;

/** Near a month end and a midnight: the stream crosses both. */
export const STREAM_START = Date.UTC(2025, 9, 30, 18);

export const basePrice = (instrument: string): number => {
  const [kind, model] = instrument.includes(':') ? instrument.split(':') : ['', instrument];
  return kind === 'rental' ? RENTAL[model] : kind === 'resale' ? RESALE[model] : BASE[instrument];
};

type Rng = () => number;
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)];
const isoDate = (ms: number): string => new Date(Math.floor(ms / DAY) * DAY).toISOString().slice(0, 10);
/** A date around `ms`: a midnight date mostly, a date-time with a time of day sometimes. */
const dateNear = (rng: Rng, ms: number): string => (rng() < 0.2 ? new Date(Math.floor(ms / 60_000) * 60_000).toISOString() : isoDate(ms));

function randomSheet(rng: Rng, id: string, effectiveFrom: string | undefined): SheetVersion {
  const btc = rng() < 0.5 ? 0 : Math.round(100 + rng() * 3_000);
  const eth = rng() < 0.7 ? 0 : Math.round(1_000 + rng() * 30_000);
  const fleet: NonNullable<SheetVersionInput['fleet']> = [];
  const nItems = 1 + Math.floor(rng() * 3);
  for (let k = 0; k < nItems; k++) {
    const gpu = rng() < 0.7;
    const model = gpu ? pick(rng, GPUS) : pick(rng, ASICS);
    const count = rng() < 0.05 ? 0 : Math.round(100 + rng() * 20_000);
    fleet.push({
      id: `i${k}`,
      class: gpu ? 'gpu' : 'asic',
      model,
      count,
      costPerUnit: Math.round(RESALE[model] * (1 + rng() * 0.5)),
      acquiredAt: dateNear(rng, Date.UTC(2023, 0, 1) + rng() * 3 * 365 * DAY),
      ...(gpu && rng() < 0.5 ? { contracted: { share: rng() < 0.3 ? 1 : Math.round(rng() * 100) / 100, ratePerHour: 1 + rng() * 3, until: dateNear(rng, STREAM_START + (rng() * 70 - 10) * DAY) } } : {}),
      ...(gpu ? { utilization: 0.5 + rng() * 0.5, opexPerUnitHour: rng() * 1.5 } : { opexPerUnitDay: rng() * 6 }),
      ...(rng() < 0.2 ? { depreciation: rng() * 0.6 } : {}),
    });
  }
  const assets: Array<{ pledge: string; value: number }> = [];
  for (const item of fleet) assets.push({ pledge: `fleet:${item.id}`, value: (item.count as number) * RESALE[item.model] });
  const coinPledges: string[] = [];
  if (btc > 0) {
    if (rng() < 0.5) coinPledges.push('holdings:BTC');
    else coinPledges.push(`holdings:BTC:${Math.floor(btc / 3)}`, `holdings:BTC:${Math.floor(btc / 3)}`);
  }
  if (eth > 0) coinPledges.push('holdings:ETH');
  const facilities: NonNullable<SheetVersionInput['facilities']> = [];
  const nFac = 1 + Math.floor(rng() * 3);
  const usedCoins = new Set<string>();
  for (let k = 0; k < nFac; k++) {
    const collateral: string[] = [];
    let value = 0;
    if (rng() > 0.15) {
      for (const a of assets) if (rng() < 0.5) {
        collateral.push(a.pledge);
        value += a.value;
      }
      for (const c of coinPledges) if (!usedCoins.has(c) && !collateral.includes(c) && rng() < 0.4) {
        usedCoins.add(c);
        collateral.push(c);
        value += (c.startsWith('holdings:ETH') ? eth * BASE.ETH : (c === 'holdings:BTC' ? btc : Math.floor(btc / 3)) * BASE.BTC);
      }
    }
    const warn = 0.45 + rng() * 0.25;
    const mc = warn + 0.05 + rng() * 0.1;
    const liq = mc + 0.05 + rng() * 0.1;
    const covenants: Record<string, number> = {};
    if (rng() > 0.15) covenants.ltvWarn = warn;
    if (rng() > 0.15) covenants.ltvMarginCall = mc;
    if (rng() > 0.15) covenants.ltvLiquidation = liq;
    if (rng() < 0.5) covenants.dscrMin = 1 + rng() * 0.5;
    const start = rng() < 0.85 ? '2024-01-01' : dateNear(rng, STREAM_START + rng() * 5 * DAY);
    const maturity = rng() < 0.85 ? '2029-06-01' : dateNear(rng, STREAM_START + (5 + rng() * 30) * DAY);
    facilities.push({
      id: `f${k}`,
      kind: pick(rng, ['gpu_term_loan', 'abl', 'equipment_loan', 'crypto_loan', 'bond'] as const),
      principal: Math.round((value > 0 ? value * (0.3 + rng() * 0.7) : 1e6 + rng() * 1e8) / nFac),
      rate: 0.05 + rng() * 0.1,
      start,
      maturity: Date.parse(maturity) > Date.parse(start) ? maturity : '2029-06-01',
      amortization: rng() < 0.5 ? { kind: 'bullet' } : { kind: 'straight_line', months: 12 + Math.floor(rng() * 48) },
      collateral,
      covenants,
      cureHours: 1 + Math.floor(rng() * 6),
      ...(rng() < 0.5 ? { lender: pick(rng, ['bank-a', 'bank-b']) } : {}),
    });
  }
  return SheetVersionSchema.parse({
    id,
    name: id,
    ...(effectiveFrom === undefined ? {} : { effectiveFrom }),
    type: fleet.some((f) => f.class === 'asic') ? 'miner' : 'neocloud',
    cash: Math.round(rng() * 1e8),
    holdings: { BTC: btc, ETH: eth },
    fixedCostsPerYear: Math.round(rng() * 2e7),
    fleet,
    facilities,
  });
}

function randomEntity(rng: Rng, id: string): Entity {
  const first = randomSheet(rng, id, undefined);
  if (rng() < 0.7) return { id, versions: [first] };
  return { id, versions: [first, randomSheet(rng, id, dateNear(rng, STREAM_START + rng() * 3 * DAY))] };
}

const instrumentsOf = (entities: readonly Entity[]): string[] => {
  const ids = new Set<string>(['BTC', 'ETH', 'hashprice']);
  for (const e of entities) for (const v of e.versions) for (const item of v.fleet) {
    ids.add(`resale:${item.model}`);
    if (item.class === 'gpu') ids.add(`rental:${item.model}`);
  }
  return [...ids].sort();
};

/**
 * A random book and operation stream from a seed: `entities` sheets spread over two instances,
 * then `steps` operations (quotes a minute apart at most, now and then hours apart, with random
 * walks of relative steps up to `volatility / 2`, jumps, outliers and late ones; ticks of minutes,
 * now and then of up to two days; new versions; tombstones and re-publications; handovers;
 * restores).
 */
export function randomScenario(seed: number, entities: number, steps: number, volatility = 0.1): Op[] {
  const rng = mulberry32(seed);
  const book = Array.from({ length: entities }, (_, k) => randomEntity(rng, `e${k}`));
  const owner = book.map((_, k) => k % INSTANCES);
  const held = book.map(() => true);
  const instruments = instrumentsOf(book);
  const level = new Map(instruments.map((i) => [i, basePrice(i)]));
  const ops: Op[] = [];
  const entityEvent = (k: number, entity: Entity | null, ts = 1): Op => ({ op: 'one', instance: owner[k], event: { kind: 'entity', id: book[k].id, entity, ts } });
  // half the book before the first quote, the rest once the clock runs
  for (let k = 0; k < entities; k++) if (k % 2 === 0) ops.push(entityEvent(k, book[k]));
  let t = STREAM_START;
  const late = (): number => t - Math.floor(rng() * 120_000);
  // a run's first minute: most instruments get a first quote (not all: some warm-ups must run out)
  for (const instrument of instruments) {
    if (rng() < 0.1) continue;
    t += Math.floor(rng() * 2_000);
    const quote = { v: 1 as const, instrument, price: level.get(instrument) as number, source: 'a', ts: t, tsSource: 'source' as const, receivedAt: t };
    ops.push({ op: 'all', event: { kind: 'quote', quote } });
  }
  for (let s = 0; s < steps; s++) {
    const r = rng();
    if (s === 3) for (let k = 0; k < entities; k++) if (k % 2 === 1) ops.push(entityEvent(k, book[k]));
    if (r < 0.72) {
      // crypto three times as often as the others (it goes stale after five minutes)
      const instrument = rng() < 0.4 ? pick(rng, ['BTC', 'ETH']) : pick(rng, instruments);
      let l = level.get(instrument) as number;
      l *= rng() < 0.08 ? (rng() < 0.5 ? 0.7 : 1.35) : Math.exp((rng() - 0.5) * volatility);
      level.set(instrument, l);
      const outlier = rng() < 0.03;
      const isLate = rng() < 0.08;
      if (!isLate) t += rng() < 0.03 ? Math.floor(rng() * 6 * 3_600_000) : Math.floor(rng() * 60_000);
      const price = Number((l * (outlier ? 3 : 1 + (rng() - 0.5) * 0.01)).toPrecision(8));
      ops.push({ op: 'all', event: { kind: 'quote', quote: { v: 1, instrument, price, source: pick(rng, ['a', 'b', 'c']), ts: isLate ? late() : t, tsSource: 'source', receivedAt: t } } });
    } else if (r < 0.82) {
      t += rng() < 0.1 ? Math.floor(rng() * 2 * DAY) : Math.floor(rng() * 3 * 60_000);
      ops.push({ op: 'all', event: { kind: 'tick', ts: t } });
    } else if (r < 0.87) {
      const k = Math.floor(rng() * entities);
      if (!held[k]) continue;
      book[k] = randomEntity(rng, book[k].id);
      ops.push(entityEvent(k, book[k]));
    } else if (r < 0.91) {
      const k = Math.floor(rng() * entities);
      held[k] = !held[k];
      ops.push(entityEvent(k, held[k] ? book[k] : null, held[k] ? 1 : t));
    } else if (r < 0.96) {
      const k = Math.floor(rng() * entities);
      if (!held[k]) continue;
      const to = (owner[k] + 1) % INSTANCES;
      ops.push({ op: 'handover', entity: book[k], from: owner[k], to });
      owner[k] = to;
    } else {
      ops.push({ op: 'restore', instance: Math.floor(rng() * INSTANCES), pick: [Math.floor(rng() * 8), Math.floor(rng() * 8)], statusPick: Math.floor(rng() * 3) });
    }
  }
  return ops;
}

/**
 * Every price falls to half its level and comes back above it, a few percent a quote: every
 * facility's LTV drifts through its lines both ways, each crossing a few quotes after the last
 * one inside.
 */
export function downAndUp(seed: number): Op[] {
  const book = generateBook({ entities: 30, seed });
  const ops: Op[] = book.entities.map((entity, k) => ({ op: 'one', instance: k % 2, event: { kind: 'entity', id: entity.id, entity, ts: 1 } }));
  const quotes = 1_200;
  for (let k = 0; k < quotes; k++) {
    const x = k / quotes;
    const factor = x < 0.5 ? 1 - x : 0.5 + (x - 0.5) * 1.4;
    const instrument = book.instruments[k % book.instruments.length];
    const ts = STREAM_START + k * 1_000;
    ops.push({ op: 'all', event: { kind: 'quote', quote: { v: 1, instrument, price: bookBasePrice(instrument) * factor, source: 'a', ts, tsSource: 'source', receivedAt: ts } } });
  }
  return ops;
}

