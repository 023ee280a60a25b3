import type { Market } from '../src/domain/market/market.ts';
import type { Quote } from '../src/domain/market/quote.ts';
import type { SheetVersion } from '../src/domain/sheet/sheet.ts';
import { civilInstant, wholeMonths, wholeMonthsBetween } from '../src/domain/calendar.ts';
import { createHash } from 'node:crypto';
import { parseInstrument } from '../src/domain/market/instruments.ts';
import { defaultDomainParams, valueEntity as referenceValueEntity } from '../src/domain/valuation/valuation.ts';
import { valueEntityFast as valueEntity } from '../src/domain/valuation/fast-valuation.ts';
import { flush, initialState, step } from '../src/domain/step/step.ts';
import { generateBook, generateQuotes, loadCatalog } from './book.ts';

/**
 * Micro-benchmark and equivalence check of the valuation hot path (docs/performance.md,
 * "Valuation hot path"). Parts, each optional:
 *
 * - `--check`: the fast valuation (valueEntityFast) against the reference valuation (valueEntity,
 *   the straightforward code) on every sheet of the book x many markets and instants, with and
 *   without stress; every number must be the same double (Object.is), every string the same.
 *   Exits 1 on any mismatch.
 *   Also checks wholeMonthsBetween against wholeMonths on a million pairs of instants.
 * - `--rate`: valuations per second over the 1,000-entity book, with and without stress, for the
 *   optimised and the reference code (best of seven timed passes of ten rounds over the book, CPU time).
 * - `--profile`: only the optimised code (with `--reference`: only the reference), 40 passes without
 *   stress and 10 with, for --cpu-prof.
 * - `--fold N`: the processor fold (step) over the first N of the acceptance stream's 50,000 quotes;
 *   with `--hash`, a SHA-256 of all its outputs (JSON), to compare with the code before.
 *
 * Run: `node --import tsx bench/valuation-profile.ts --check --rate --fold 50000`
 * Profile: `node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/valuation-profile.ts --profile`
 * (for line numbers, bundle it first: `npx esbuild bench/valuation-profile.ts --bundle --platform=node
 * --format=esm --external:yaml --external:zod --outfile=bench/.profile.mjs` and profile that file).
 */

const T0 = Date.parse('2025-10-01T00:00:00Z');
const args = new Set(process.argv.slice(2));
const foldArg = process.argv.indexOf('--fold');
const foldQuotes = foldArg >= 0 ? Number(process.argv[foldArg + 1]) : 0;

const params = defaultDomainParams(loadCatalog());
const book = generateBook({ entities: 1000, seed: 7 });
const sheets: SheetVersion[] = book.entities.map((e) => e.versions[0]);

type MutableMarket = { crypto: Record<string, number>; rental: Record<string, number>; resale: Record<string, number>; hashprice: number | null };
const cloneMarket = (m: Market): MutableMarket => ({ crypto: { ...m.crypto }, rental: { ...m.rental }, resale: { ...m.resale }, hashprice: m.hashprice });

function apply(m: MutableMarket, q: Quote): void {
  const i = parseInstrument(q.instrument);
  if (i === null) return;
  if (i.kind === 'crypto') m.crypto[i.asset] = q.price;
  else if (i.kind === 'rental') m.rental[i.model] = q.price;
  else if (i.kind === 'resale') m.resale[i.model] = q.price;
  else m.hashprice = q.price;
}

/**
 * 200 markets: a random walk of the book's instruments (large moves, so statuses cross their
 * thresholds), every fifth with one index removed (the missing-data paths), each at its own
 * instant spread over four years (month ends, anniversaries, maturities, contract ends).
 */
function checkCases(): Array<{ market: Market; atMs: number }> {
  const quotes = generateQuotes({ seed: 11, count: 4000, startTs: T0, cadenceMs: 200, instruments: book.instruments, sourcesPerInstrument: 1 });
  const m = cloneMarket(book.market);
  const cases: Array<{ market: Market; atMs: number }> = [];
  for (let k = 0; k < 200; k++) {
    for (let j = 0; j < 20; j++) {
      const q = quotes[k * 20 + j];
      // Amplify the walk: prices from a tenth to five times the base level.
      apply(m, { ...q, price: q.price * Math.exp(Math.sin(k * 0.37 + j) * 1.2) });
    }
    const snap = cloneMarket(m);
    if (k % 5 === 4) {
      const drop = book.instruments[k % book.instruments.length];
      const i = parseInstrument(drop);
      if (i?.kind === 'crypto') delete snap.crypto[i.asset];
      else if (i?.kind === 'rental') delete snap.rental[i.model];
      else if (i?.kind === 'resale') delete snap.resale[i.model];
      else snap.hashprice = null;
    }
    // From 2021 to 2029, two instants a day (the second reuses the day's memoised debt schedule):
    // midnights, a day's last millisecond, and times in between.
    const day = Date.parse('2021-06-15T00:00:00Z') + Math.floor((k >> 1) * 29.3) * 86_400_000;
    const timeOfDay = k % 2 === 0 ? (k % 6 === 0 ? 0 : (k * 7919) % 86_400_000) : k % 4 === 1 ? 86_399_999 : (k * 104_729) % 86_400_000;
    const atMs = day + timeOfDay;
    cases.push({ market: snap, atMs });
  }
  return cases;
}

/** Leaves that differ between two values (numbers compared with Object.is: bit for bit, -0 apart from 0). */
function diff(a: unknown, b: unknown, path: string, out: string[]): void {
  if (typeof a === 'number' && typeof b === 'number') {
    if (!Object.is(a, b)) out.push(`${path}: ${a} != ${b}`);
    return;
  }
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') {
    if (a !== b) out.push(`${path}: ${String(a)} != ${String(b)}`);
    return;
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.join() !== kb.join()) out.push(`${path}: keys ${ka.join()} != ${kb.join()}`);
  for (const k of ka) diff((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`, out);
}

/** wholeMonthsBetween(a, t) === wholeMonths(a, t) for instants around month ends, leap days, 1900-2100, fractions of a ms. */
function checkCalendar(): number {
  let bad = 0;
  let seed = 12345;
  const rnd = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
  const base = Date.parse('1900-01-01T00:00:00Z');
  const span = Date.parse('2100-01-01T00:00:00Z') - base;
  const instant = (): number => {
    const r = rnd();
    if (r < 0.4) return base + Math.floor(rnd() * span); // anywhere, any ms
    // Midnight or near the end of a day, around month ends (the clamped days).
    const d = new Date(base + Math.floor(rnd() * span));
    const day = [1, 28, 29, 30, 31][Math.floor(rnd() * 5)];
    const ms = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), day) + (r < 0.7 ? 0 : r < 0.9 ? 86_399_999 : Math.floor(rnd() * 86_400_000));
    return r < 0.95 ? ms : ms + 0.5;
  };
  for (let i = 0; i < 1_000_000; i++) {
    const a = instant();
    const t = rnd() < 0.5 ? instant() : a + Math.floor(rnd() * 40) * 30 * 86_400_000 + (rnd() < 0.5 ? 0 : Math.floor((rnd() - 0.5) * 4 * 86_400_000));
    if (wholeMonthsBetween(civilInstant(a), civilInstant(t)) !== wholeMonths(a, t)) bad++;
  }
  console.log(`check: wholeMonthsBetween on 1,000,000 pairs, ${bad} mismatches`);
  return bad;
}

/** ISO date `days` after `date` (a sheet date), at `timeOfDayMs` when not 0. */
function shiftDate(date: string, days: number, timeOfDayMs: number): string {
  const ms = Date.parse(date.length === 10 ? `${date}T00:00:00Z` : date) + days * 86_400_000 + timeOfDayMs;
  const iso = new Date(ms).toISOString();
  return timeOfDayMs === 0 ? iso.slice(0, 10) : iso;
}

/**
 * The first 300 sheets with their dates moved off the first of the month (month ends, leap days),
 * one in five with a time of day (not memoable), for the day memo of the debt schedule.
 */
function shiftedSheets(): SheetVersion[] {
  return sheets.slice(0, 300).map((s, i) => {
    const days = (i * 37) % 31;
    const tod = i % 5 === 0 ? ((i * 7_777_777) % 86_400_000) : 0;
    return {
      ...s,
      fleet: s.fleet.map((it) => ({ ...it, acquiredAt: shiftDate(it.acquiredAt, days, 0), ...(it.contracted === undefined ? {} : { contracted: { ...it.contracted, until: shiftDate(it.contracted.until, days + 3, 0) } }) })),
      facilities: s.facilities.map((f) => ({ ...f, start: shiftDate(f.start, days, tod), maturity: shiftDate(f.maturity, (days * 3) % 31, 0) })),
    };
  });
}

/** Instants 0.37 days apart over 60 days across month ends, every fifth at a midnight. */
function walkInstants(): number[] {
  const out: number[] = [];
  const start = Date.parse('2026-01-20T00:00:00Z');
  for (let i = 0; i < 160; i++) {
    const t = start + Math.round(i * 0.37 * 86_400_000);
    out.push(i % 5 === 0 ? t - (t % 86_400_000) : t);
  }
  return out;
}

function check(): number {
  const cases = checkCases();
  let compared = 0;
  const mismatches: string[] = [];
  const walk = walkInstants();
  for (const s of shiftedSheets()) {
    for (const atMs of walk) {
      diff(referenceValueEntity(s, book.market, atMs, params, { stress: false }), valueEntity(s, book.market, atMs, params, { stress: false }), `${s.id}(shifted)@${new Date(atMs).toISOString()}`, mismatches);
      compared++;
    }
  }
  for (const { market, atMs } of cases) {
    for (const s of sheets) {
      for (const stress of [false, true]) {
        const before = mismatches.length;
        diff(referenceValueEntity(s, market, atMs, params, { stress }), valueEntity(s, market, atMs, params, { stress }), `${s.id}@${new Date(atMs).toISOString()}${stress ? '+stress' : ''}`, mismatches);
        compared++;
        if (mismatches.length > before && mismatches.length > 20) break;
      }
    }
  }
  console.log(`check: ${compared} valuations (300 entities with shifted dates x ${walk.length} instants, and ${sheets.length} entities x ${cases.length} markets x with/without stress), ${mismatches.length} mismatches`);
  for (const m of mismatches.slice(0, 20)) console.log(`  ${m}`);
  return mismatches.length;
}

type ValueFn = typeof valueEntity;

/** CPU time of this process (user + system, ms): on a shared machine, time spent descheduled does not count. */
const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/**
 * Valuations per second over the book: best of seven passes of ten rounds, after ten rounds of
 * warm-up, in CPU time. `newDay`: every round at a new day
 * (each facility's day memo of its debt schedule misses: the worst case); else every round within
 * the same day (what the processor sees between midnights: the memo hits).
 */
function ratePerSecond(fn: ValueFn, stress: boolean, newDay: boolean): number {
  const market = book.market;
  const at = (r: number): number => (newDay ? T0 + (r + 10 * (stress ? 1 : 0)) * 86_400_000 + 1_000 : T0 + 1_000 * (r + 1));
  for (let r = 0; r < 10; r++) for (const s of sheets) fn(s, market, at(-10 + r), params, { stress });
  let best = Infinity;
  for (let r = 0; r < 7; r++) {
    const t = cpuMs();
    for (let round = 0; round < 10; round++) for (const s of sheets) fn(s, market, at(r * 10 + round), params, { stress });
    best = Math.min(best, cpuMs() - t);
  }
  return Math.round((10 * sheets.length * 1000) / best);
}

function rates(): void {
  for (const [name, fn] of [
    ['optimised', valueEntity],
    ['reference', referenceValueEntity],
  ] as const) {
    for (const newDay of [false, true]) {
      console.log(`rate ${name}, ${newDay ? 'a new day each round' : 'same day'}: ${ratePerSecond(fn, false, newDay)}/s without stress, ${ratePerSecond(fn, true, newDay)}/s with ${params.scenarios.length} scenarios`);
    }
  }
}

/** `hashed`: also a SHA-256 of every output (JSON), to compare with the fold of the code before (untimed use). */
function fold(n: number, hashed: boolean): void {
  const hash = hashed ? createHash('sha256') : null;
  const quotes = generateQuotes({ seed: 7, count: 50_000, startTs: T0, cadenceMs: 200, instruments: book.instruments, sourcesPerInstrument: 3 }).slice(0, n);
  let revaluations = 0;
  let outputs = 0;
  const t = performance.now();
  const c = cpuMs();
  let state = initialState(params);
  for (const e of book.entities) state = step(state, { kind: 'entity', id: e.id, entity: e, ts: 0 }, params).state;
  for (const q of quotes) {
    revaluations += state.exposedBy.get(q.instrument)?.size ?? 0;
    const r = step(state, { kind: 'quote', quote: q }, params);
    state = r.state;
    outputs += r.outputs.length;
    if (hash !== null) for (const o of r.outputs) hash.update(JSON.stringify(o));
  }
  const last = flush(state, params).outputs;
  outputs += last.length;
  if (hash !== null) for (const o of last) hash.update(JSON.stringify(o));
  const s = (performance.now() - t) / 1000;
  const cpu = (cpuMs() - c) / 1000;
  console.log(`fold: ${quotes.length} quotes, ${revaluations} exposed revaluations, ${outputs} outputs in ${s.toFixed(1)} s wall, ${cpu.toFixed(1)} s CPU (${Math.round(revaluations / s)} revaluations/s wall)${hash === null ? '' : `, outputs sha256 ${hash.digest('hex')}`}`);
}

function profile(fn: ValueFn): void {
  for (let r = 0; r < 40; r++) for (const s of sheets) fn(s, book.market, T0 + 1_000 * r, params, { stress: false });
  for (let r = 0; r < 10; r++) for (const s of sheets) fn(s, book.market, T0 + 1_000 * r, params, { stress: true });
}

let failed = 0;
if (args.has('--check')) failed = checkCalendar() + check();
if (args.has('--profile')) profile(args.has('--reference') ? referenceValueEntity : valueEntity);
if (args.has('--rate')) rates();
if (foldQuotes > 0) fold(foldQuotes, args.has('--hash'));
process.exitCode = failed === 0 ? 0 : 1;
