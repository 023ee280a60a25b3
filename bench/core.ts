import type { DomainParams } from '../src/domain/params.ts';
import type { Market } from '../src/domain/market/market.ts';
import type { Quote } from '../src/domain/market/quote.ts';
import type { Entity, SheetVersion } from '../src/domain/sheet/sheet.ts';
import { parseInstrument } from '../src/domain/market/instruments.ts';
import { defaultDomainParams, exposureOf } from '../src/domain/valuation/valuation.ts';
import { valueEntityFast as valueEntity } from '../src/domain/valuation/fast-valuation.ts';
import { flush, initialState, step } from '../src/domain/step/step.ts';
import { ASIC_MODELS, GPU_MODELS, generateBook, generateQuotes, loadCatalog } from './book.ts';

/**
 * The `core` benchmark section: how fast the pure core revalues a book, on one core (one thread,
 * no I/O). Four measurements, each on a seeded book (bench/book.ts) and a seeded quote stream:
 * - `revaluation`: valueEntity over every entity of the book, with and without stress scenarios;
 * - `full`: per quote, revalue every entity with stress (what a naive monitor does);
 * - `incremental`: per quote, revalue with stress only the entities exposed to the instrument
 *   that moved (exposureOf), i.e. the work the processor's exposure index saves;
 * - `step`: the processor's heart itself (step: index, revaluation without stress at once,
 *   alerts, stressed valuations at each window close), quotes per second;
 * - `growth`: cost per quote through step as the book grows with entities NOT exposed to the
 *   moving instrument: it should stay flat (the exposure index, not a scan of the book).
 * Speed is reported, never asserted (test/unit/bench-core.test.ts checks only the structure).
 */

export interface CoreOptions {
  /** Book size for revaluation/full/incremental/step (default 10,000). */
  readonly entities?: number;
  readonly seed?: number;
  /** Quotes for the full measurement (default 10), incremental (default 100), step (default 300). */
  readonly fullQuotes?: number;
  readonly incrementalQuotes?: number;
  readonly stepQuotes?: number;
  /** Unexposed entities added in the growth measurement (default 0, 1,000, 10,000, 30,000). */
  readonly growth?: readonly number[];
  /** Entities exposed to the moving instrument in the growth measurement (default 100). */
  readonly growthExposed?: number;
  readonly growthQuotes?: number;
  /** Progress lines (default: none). */
  readonly log?: (line: string) => void;
}

export interface Rate {
  readonly revaluations: number;
  readonly seconds: number;
  readonly revaluationsPerSecond: number;
}

export interface PerQuote extends Rate {
  readonly quotes: number;
  readonly msPerQuote: number;
  readonly meanRevaluationsPerQuote: number;
}

export interface GrowthPoint {
  readonly unexposedEntities: number;
  readonly exposedEntities: number;
  readonly quotes: number;
  readonly msPerQuote: number;
  readonly revaluationsPerQuote: number;
}

export interface CoreResult {
  readonly book: { readonly entities: number; readonly facilities: number; readonly models: readonly string[]; readonly instruments: number; readonly scenarios: number };
  readonly revaluation: { readonly withStress: Rate; readonly withoutStress: Rate };
  readonly full: PerQuote;
  readonly incremental: PerQuote;
  readonly step: PerQuote & { readonly quotesPerSecond: number; readonly outputs: number };
  readonly growth: readonly GrowthPoint[];
  /** The largest msPerQuote of the growth points over the smallest (1 = perfectly flat). */
  readonly growthSpread: number;
  readonly target: { readonly revaluationsPerSecond: number; readonly incrementalMet: boolean };
}

const T0 = Date.UTC(2025, 9, 1);
const TARGET = 200_000;

const rate = (revaluations: number, ms: number): Rate => ({ revaluations, seconds: ms / 1000, revaluationsPerSecond: ms > 0 ? Math.round((revaluations * 1000) / ms) : 0 });

/** A mutable copy of a market, moved by quotes. */
function mutableMarket(m: Market): { crypto: Record<string, number>; rental: Record<string, number>; resale: Record<string, number>; hashprice: number | null } {
  return { crypto: { ...m.crypto }, rental: { ...m.rental }, resale: { ...m.resale }, hashprice: m.hashprice };
}

function applyToMarket(m: ReturnType<typeof mutableMarket>, q: Quote): void {
  const i = parseInstrument(q.instrument);
  if (i === null) return;
  if (i.kind === 'crypto') m.crypto[i.asset] = q.price;
  else if (i.kind === 'rental') m.rental[i.model] = q.price;
  else if (i.kind === 'resale') m.resale[i.model] = q.price;
  else m.hashprice = q.price;
}

/** Yields to the event loop so a progress line can flush (never inside a timed loop). */
const pause = (): Promise<void> => new Promise((r) => setImmediate(r));

export async function runCore(opts: CoreOptions = {}): Promise<CoreResult> {
  const log = opts.log ?? (() => undefined);
  const seed = opts.seed ?? 42;
  const params: DomainParams = defaultDomainParams(loadCatalog());
  const book = generateBook({ entities: opts.entities ?? 10_000, seed });
  const sheets: SheetVersion[] = book.entities.map((e) => e.versions[0]);
  const quotes = generateQuotes({ seed, count: Math.max(opts.fullQuotes ?? 10, opts.incrementalQuotes ?? 100, opts.stepQuotes ?? 300), startTs: T0, cadenceMs: 1_000, instruments: book.instruments, sourcesPerInstrument: 3 });

  // Warm the JIT on a slice before any timing.
  for (let r = 0; r < 3; r++) for (let i = 0; i < Math.min(500, sheets.length); i++) valueEntity(sheets[i], book.market, T0, params);

  log(`core: revaluing ${sheets.length} entities`);
  await pause();
  const timeAll = (stress: boolean): Rate => {
    const t = performance.now();
    for (const s of sheets) valueEntity(s, book.market, T0, params, { stress });
    return rate(sheets.length, performance.now() - t);
  };
  const withStress = timeAll(true);
  const withoutStress = timeAll(false);

  // Full: every entity with stress on every quote.
  const nFull = opts.fullQuotes ?? 10;
  log(`core: full revaluation, ${nFull} quotes x ${sheets.length} entities`);
  await pause();
  let market = mutableMarket(book.market);
  let t = performance.now();
  let count = 0;
  for (let k = 0; k < nFull; k++) {
    applyToMarket(market, quotes[k]);
    for (const s of sheets) valueEntity(s, market, quotes[k].ts, params, { stress: true });
    count += sheets.length;
  }
  const fullMs = performance.now() - t;
  const full: PerQuote = { ...rate(count, fullMs), quotes: nFull, msPerQuote: fullMs / Math.max(1, nFull), meanRevaluationsPerQuote: count / Math.max(1, nFull) };

  // Incremental: only the exposed entities, with stress.
  const exposedBy = new Map<string, SheetVersion[]>();
  for (const s of sheets) {
    for (const i of exposureOf(s, params)) {
      const list = exposedBy.get(i);
      if (list === undefined) exposedBy.set(i, [s]);
      else list.push(s);
    }
  }
  const nInc = opts.incrementalQuotes ?? 100;
  log(`core: incremental revaluation, ${nInc} quotes`);
  await pause();
  market = mutableMarket(book.market);
  count = 0;
  t = performance.now();
  for (let k = 0; k < nInc; k++) {
    applyToMarket(market, quotes[k]);
    const exposed = exposedBy.get(quotes[k].instrument) ?? [];
    for (const s of exposed) valueEntity(s, market, quotes[k].ts, params, { stress: true });
    count += exposed.length;
  }
  const incMs = performance.now() - t;
  const incremental: PerQuote = { ...rate(count, incMs), quotes: nInc, msPerQuote: incMs / Math.max(1, nInc), meanRevaluationsPerQuote: count / Math.max(1, nInc) };

  // Step: the processor's heart, market primed with one quote per instrument first.
  const nStep = opts.stepQuotes ?? 300;
  log(`core: step, ${nStep} quotes`);
  await pause();
  let state = initialState(params);
  for (const e of book.entities) state = step(state, { kind: 'entity', id: e.id, entity: e, ts: 0 }, params).state;
  const primeTs = T0 - 1_000;
  for (const instrument of book.instruments) {
    const price = priceOf(book.market, instrument);
    if (price !== null) state = step(state, { kind: 'quote', quote: { v: 1, instrument, price, source: 'src-1', ts: primeTs, tsSource: 'source', receivedAt: primeTs } }, params).state;
  }
  state = flush(state, params).state;
  count = 0;
  let outputs = 0;
  t = performance.now();
  for (let k = 0; k < nStep; k++) {
    count += state.exposedBy.get(quotes[k].instrument)?.size ?? 0;
    const r = step(state, { kind: 'quote', quote: quotes[k] }, params);
    state = r.state;
    outputs += r.outputs.length;
  }
  outputs += flush(state, params).outputs.length;
  const stepMs = performance.now() - t;
  const stepResult = {
    ...rate(count, stepMs),
    quotes: nStep,
    msPerQuote: stepMs / Math.max(1, nStep),
    meanRevaluationsPerQuote: count / Math.max(1, nStep),
    quotesPerSecond: Math.round((nStep * 1000) / Math.max(stepMs, 1e-9)),
    outputs,
  };

  const growth = await runGrowth(params, seed, opts, log);
  const ms = growth.map((g) => g.msPerQuote);
  const growthSpread = ms.length > 0 && Math.min(...ms) > 0 ? Math.max(...ms) / Math.min(...ms) : 1;

  return {
    book: {
      entities: book.entities.length,
      facilities: sheets.reduce((n, s) => n + s.facilities.length, 0),
      models: book.models,
      instruments: book.instruments.length,
      scenarios: params.scenarios.length,
    },
    revaluation: { withStress, withoutStress },
    full,
    incremental,
    step: stepResult,
    growth,
    growthSpread: Math.round(growthSpread * 100) / 100,
    target: { revaluationsPerSecond: TARGET, incrementalMet: incremental.revaluationsPerSecond >= TARGET },
  };
}

function priceOf(m: Market, instrument: string): number | null {
  const i = parseInstrument(instrument);
  if (i === null) return null;
  if (i.kind === 'crypto') return m.crypto[i.asset] ?? null;
  if (i.kind === 'rental') return m.rental[i.model] ?? null;
  if (i.kind === 'resale') return m.resale[i.model] ?? null;
  return m.hashprice;
}

/**
 * Cost per quote of one moving instrument (rental:RTX-4090) through step, with a fixed set of
 * exposed entities and a growing crowd of entities that hold none of it.
 */
async function runGrowth(params: DomainParams, seed: number, opts: CoreOptions, log: (line: string) => void): Promise<GrowthPoint[]> {
  const sizes = opts.growth ?? [0, 1_000, 10_000, 30_000];
  const moving = 'RTX-4090';
  const instrument = `rental:${moving}`;
  const others = [...GPU_MODELS, ...ASIC_MODELS].filter((m) => m !== moving);
  const exposed = generateBook({ entities: opts.growthExposed ?? 100, seed, excludeModels: others, idPrefix: 'x' });
  const crowd = generateBook({ entities: Math.max(0, ...sizes), seed: seed + 1, excludeModels: [moving], idPrefix: 'u' });
  const nQuotes = opts.growthQuotes ?? 200;
  // All in one conflation window (cadence 100 ms from a window start), so each point pays one window close.
  const quotes = generateQuotes({ seed, count: nQuotes, startTs: T0, cadenceMs: 100, instruments: [instrument], sourcesPerInstrument: 3 });

  const measure = (unexposed: readonly Entity[]): { ms: number; revaluations: number } => {
    let state = initialState(params);
    for (const e of [...exposed.entities, ...unexposed]) state = step(state, { kind: 'entity', id: e.id, entity: e, ts: 0 }, params).state;
    let revaluations = 0;
    const t = performance.now();
    for (const q of quotes) {
      revaluations += state.exposedBy.get(q.instrument)?.size ?? 0;
      state = step(state, { kind: 'quote', quote: q }, params).state;
    }
    flush(state, params);
    return { ms: performance.now() - t, revaluations };
  };
  for (let r = 0; r < 3; r++) measure([]); // warm-up: the first runs pay for the JIT
  const points: GrowthPoint[] = [];
  for (const size of sizes) {
    log(`core: growth, ${size} unexposed entities`);
    await pause();
    const unexposed = crowd.entities.slice(0, size);
    // Best of three: the least disturbed run.
    let best = Infinity;
    let revaluations = 0;
    for (let r = 0; r < 3; r++) {
      const m = measure(unexposed);
      if (m.ms < best) best = m.ms;
      revaluations = m.revaluations;
    }
    points.push({ unexposedEntities: size, exposedEntities: exposed.entities.length, quotes: nQuotes, msPerQuote: best / nQuotes, revaluationsPerQuote: revaluations / nQuotes });
  }
  return points;
}
