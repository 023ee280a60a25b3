import { createHash } from 'node:crypto';
import type { DomainParams, Revaluation } from '../src/domain/params.ts';
import { REVALUATION } from '../src/domain/params.ts';
import type { Entity } from '../src/domain/sheet/sheet.ts';
import type { Quote } from '../src/domain/market/quote.ts';
import { flush, initialState, step, type ProcessorState } from '../src/domain/step/step.ts';
import { basePrice, generateBook, generateQuotes } from './book.ts';
import { benchParams, CADENCE_MS, SOURCES_PER_INSTRUMENT, T0 } from './pipeline.ts';

/**
 * The `fold` section (issue 12 point 5): `step` folded in memory (no Kafka, no InfluxDB) over the
 * same book and quotes on each revaluation path, side by side in one process:
 * - `reference`: every exposed entity revalued in full by the reference valuation;
 * - `full`: the same with the fast valuation (the first round's processor);
 * - `incremental`: the default path, price intervals (docs/valuation.md "Incremental revaluation").
 * `foldSpeedup[n]` = incremental quotes/s over reference quotes/s. Each path starts from the same
 * primed state (the book read, one quote per instrument a second before the stream, that window
 * closed; the stream starts an hour into its day), so the measurement is the steady state, not the warm-up; the paths' outputs are hashed
 * (SHA-256 of their JSON) and must be equal (`sameOutputs`). Rates are in CPU time of this process
 * (the machine is shared; wall time is recorded beside).
 */
export interface FoldOptions {
  readonly entityCounts?: readonly number[];
  /** Quotes per book size (default 12,000 at up to 1,000 entities: 20 windows; 1,200 above: 2 windows). */
  readonly quotes?: (entities: number) => number;
  readonly seed?: number;
  readonly log?: (line: string) => void;
}

export interface FoldPath {
  readonly quotes: number;
  readonly cpuMs: number;
  readonly wallMs: number;
  readonly quotesPerSecond: number;
  readonly outputs: number;
  readonly revaluations: { readonly full: number; readonly filtered: number };
  readonly outputsSha256: string;
}

export interface FoldRun {
  readonly entities: number;
  readonly reference: FoldPath;
  readonly full: FoldPath;
  readonly incremental: FoldPath;
  readonly sameOutputs: boolean;
  /** incremental over reference (quotes/s in CPU time). */
  readonly speedup: number;
  /** incremental over full: what the filter alone saves. */
  readonly filterSpeedup: number;
}

export interface FoldResult {
  readonly input: { readonly seed: number; readonly cadenceMs: number; readonly sourcesPerInstrument: number };
  readonly runs: readonly FoldRun[];
  /** Per book size, incremental over reference: the figure (target 30, floor 10). */
  readonly foldSpeedup: Readonly<Record<string, number>>;
  readonly target: { readonly speedup: 30; readonly floor: 10; readonly met: boolean };
}

const round1 = (x: number): number => Math.round(x * 10) / 10;
/**
 * The stream starts an hour into its day: priming just before a midnight would make every guard
 * expire at the stream's first quote (a once-a-day cost measured as if it were every run's).
 */
export const FOLD_START = T0 + 3_600_000;

/** A state with the book read and every instrument quoted once before the stream (its window closed). */
function primed(params: DomainParams, entities: readonly Entity[], instruments: readonly string[]): ProcessorState {
  let state = initialState(params);
  for (const e of entities) state = step(state, { kind: 'entity', id: e.id, entity: e, ts: 0 }, params).state;
  const ts = FOLD_START - 1_000;
  for (const instrument of instruments) {
    state = step(state, { kind: 'quote', quote: { v: 1, instrument, price: basePrice(instrument), source: 'src-1', ts, tsSource: 'source', receivedAt: ts } }, params).state;
  }
  return flush(state, params).state;
}

/** Folds the quotes on one path; the outputs are hashed after the clock stops. */
export function foldPath(params: DomainParams, revaluation: Revaluation, entities: readonly Entity[], instruments: readonly string[], quotes: readonly Quote[]): FoldPath {
  const p: DomainParams = { ...params, revaluation };
  // warm the JIT on a prefix, on a state of its own, before the clock runs
  let warm = primed(p, entities, instruments);
  for (const quote of quotes.slice(0, Math.min(300, Math.ceil(quotes.length / 10)))) warm = step(warm, { kind: 'quote', quote }, p).state;
  let state = primed(p, entities, instruments);
  const before = { ...state.revaluations };
  const outputs: unknown[][] = [];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (const quote of quotes) {
    const r = step(state, { kind: 'quote', quote }, p);
    state = r.state;
    outputs.push(r.outputs);
  }
  outputs.push(flush(state, p).outputs);
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const hash = createHash('sha256');
  let n = 0;
  for (const o of outputs) {
    hash.update(JSON.stringify(o));
    n += o.length;
  }
  return {
    quotes: quotes.length,
    cpuMs: Math.round(cpuMs),
    wallMs: Math.round(wallMs),
    quotesPerSecond: Math.round((quotes.length * 1000) / cpuMs),
    outputs: n,
    revaluations: { full: state.revaluations.full - before.full, filtered: state.revaluations.filtered - before.filtered },
    outputsSha256: hash.digest('hex'),
  };
}

export async function runFold(opts: FoldOptions = {}): Promise<FoldResult> {
  const log = opts.log ?? (() => undefined);
  const seed = opts.seed ?? 42;
  const counts = opts.entityCounts ?? [1_000, 10_000];
  const quotesOf = opts.quotes ?? ((n: number) => (n <= 1_000 ? 12_000 : 1_200));
  const params = benchParams();
  const runs: FoldRun[] = [];
  for (const n of counts) {
    const book = generateBook({ entities: n, seed });
    const quotes = generateQuotes({ seed, count: quotesOf(n), startTs: FOLD_START, cadenceMs: CADENCE_MS, instruments: book.instruments, sourcesPerInstrument: SOURCES_PER_INSTRUMENT });
    const paths = {} as Record<Revaluation, FoldPath>;
    for (const path of [REVALUATION.incremental, REVALUATION.full, REVALUATION.reference] as const) {
      log(`fold: ${n} entities, ${quotes.length} quotes, ${path}`);
      await new Promise((r) => setImmediate(r));
      paths[path] = foldPath(params, path, book.entities, book.instruments, quotes);
      log(`fold: ${path}: ${paths[path].quotesPerSecond} quotes/s (cpu ${paths[path].cpuMs} ms, wall ${paths[path].wallMs} ms)`);
    }
    const sameOutputs = paths.incremental.outputsSha256 === paths.reference.outputsSha256 && paths.full.outputsSha256 === paths.reference.outputsSha256;
    runs.push({
      entities: n,
      reference: paths.reference,
      full: paths.full,
      incremental: paths.incremental,
      sameOutputs,
      speedup: round1(paths.incremental.quotesPerSecond / paths.reference.quotesPerSecond),
      filterSpeedup: round1(paths.incremental.quotesPerSecond / paths.full.quotesPerSecond),
    });
    if (!sameOutputs) throw new Error(`fold: the paths' outputs differ at ${n} entities`);
  }
  const foldSpeedup = Object.fromEntries(runs.map((r) => [String(r.entities), r.speedup]));
  return {
    input: { seed, cadenceMs: CADENCE_MS, sourcesPerInstrument: SOURCES_PER_INSTRUMENT },
    runs,
    foldSpeedup,
    target: { speedup: 30, floor: 10, met: runs.every((r) => r.speedup >= 30) },
  };
}
