import { rentalId, resaleId } from '../../domain/market/instruments.ts';
import type { Quote } from '../../domain/market/quote.ts';
import { ErrorCode, MonitorError } from '../../domain/errors.ts';
import { topicNames } from '../../bus/topics.ts';
import type { StreamRecord } from '../../bus/stream-file.ts';
import { createPrng, type Prng } from './prng.ts';
import type { ScenarioSpec, ScenariosFile, Shock, StartPrices } from './scenario-schema.ts';

/**
 * The scenario simulator: seeded, synthetic quote streams for every instrument of the starting
 * market in config/scenarios.yaml (the model and its calibration are documented there).
 *
 * - BTC and ETH: correlated jump-diffusions in log price (common jump times, ETH's jump scaled).
 * - GPU rental per model: a log-linear deflation trend, mean-reverting noise per model and regime
 *   shifts common to all GPUs.
 * - Resale: a model with a rental price (a GPU) follows its rental with a lag; a model without one
 *   (an ASIC) follows hashprice with a lag; value = start x (driver ratio) ^ elasticity.
 * - Hashprice: start x (BTC / BTC at start) / difficulty growth, with mean-reverting fee noise.
 * - A scenario replaces the log trend of a series by ln(1 + move) / years of its window while the
 *   window runs (config/scenarios.yaml "scenarios").
 *
 * Each instrument is quoted by the sources in turn, staggered (source j at from + k * cadence +
 * j * cadence / N), each with a fixed bias and its own noise around the true price. Records come
 * out in event-time order: `{ topic: 'quotes', key: instrument, ts, value: Quote }` with
 * `tsSource: 'source'` and `receivedAt = ts`. One PRNG drives everything in a fixed order, so the
 * same options give the same records (and `writeStreamFile` the same bytes).
 */
export interface SimulateOptions {
  readonly file: ScenariosFile;
  readonly scenario: string;
  readonly seed: number;
  readonly fromMs: number;
  /** Exclusive end (ms); omitted, the stream never ends (the demo drives it on its own clock). */
  readonly toMs?: number;
  /** The crypto cadence in seconds; the other kinds' cadences scale by the same factor. */
  readonly cadenceS?: number;
}

const QUOTES_TOPIC = topicNames('').quotes;
const MS_PER_YEAR = 365.25 * 86_400_000;
const MS_PER_MONTH = MS_PER_YEAR / 12;
const MS_PER_DAY = 86_400_000;

type Kind = 'crypto' | 'rental' | 'resale' | 'hashprice';

/** Every instrument id the simulator quotes for a scenarios file, in emission order within a step. */
export function simulatedInstruments(file: ScenariosFile): string[] {
  return [
    'BTC',
    'ETH',
    'hashprice',
    ...sortedKeys(file.start.rental).map(rentalId),
    ...sortedKeys(file.start.resale).map(resaleId),
  ];
}

const sortedKeys = (o: Readonly<Record<string, number>>): string[] => Object.keys(o).sort();

/** The log drift per year a shock imposes at `tMs`, or null outside its window. */
function shockDrift(shock: Shock | undefined, fromMs: number, tMs: number): number | null {
  if (shock === undefined) return null;
  const start = fromMs + shock.startMonth * MS_PER_MONTH;
  const end = start + shock.months * MS_PER_MONTH;
  if (tMs < start || tMs >= end) return null;
  return Math.log(1 + shock.move) / (shock.months / 12);
}

/** Values of a series over time, for lagged lookups (times only grow). */
class Lagged {
  private readonly ts: number[] = [];
  private readonly values: number[] = [];
  constructor(private readonly initial: number) {}
  push(ts: number, value: number): void {
    this.ts.push(ts);
    this.values.push(value);
  }
  /** The latest value at or before `tMs` (the initial value before the first), pruning older ones. */
  at(tMs: number): number {
    let i = -1;
    while (i + 1 < this.ts.length && this.ts[i + 1] <= tMs) i++;
    if (i < 0) return this.initial;
    const v = this.values[i];
    // Lookups only move forward: drop what is older than the entry just used.
    if (i > 0) {
      this.ts.splice(0, i);
      this.values.splice(0, i);
    }
    return v;
  }
}

/** Rounds a price to 6 significant digits: short, stable JSON. */
const roundPrice = (p: number): number => Number(p.toPrecision(6));

interface Group {
  readonly kind: Kind;
  readonly stepMs: number;
  k: number;
  /** Advances the true state to `tMs` (not on k = 0) and returns [instrument, true price] pairs. */
  step(tMs: number, dtYears: number, first: boolean): Array<[string, number]>;
}

export function* simulateQuotes(opts: SimulateOptions): Generator<StreamRecord> {
  const { file, fromMs } = opts;
  const spec: ScenarioSpec | undefined = file.scenarios[opts.scenario];
  if (spec === undefined) {
    throw new MonitorError(`unknown scenario '${opts.scenario}' (known: ${Object.keys(file.scenarios).join(', ')})`, { code: ErrorCode.USAGE });
  }
  if (!Number.isInteger(opts.seed)) throw new MonitorError(`seed must be an integer, not ${opts.seed}`, { code: ErrorCode.USAGE });
  const m = file.model;
  const scale = opts.cadenceS === undefined ? 1 : opts.cadenceS / m.cadenceS.crypto;
  if (!(scale > 0) || !Number.isFinite(scale)) throw new MonitorError(`cadence must be a positive number of seconds`, { code: ErrorCode.USAGE });
  const sources = m.sources;
  const n = sources.length;
  const rng: Prng = createPrng(opts.seed);

  // Fixed bias per source and kind, drawn first, in a fixed order.
  const kinds: readonly Kind[] = ['crypto', 'rental', 'resale', 'hashprice'];
  const bias = new Map<string, number>();
  for (const s of sources) for (const kind of kinds) bias.set(`${s}/${kind}`, (2 * rng.uniform() - 1) * m.sourceBias[kind]);

  const start = startOf(file, spec);
  const rentalModels = sortedKeys(start.rental);
  const resaleModels = sortedKeys(start.resale);

  // ---- crypto: correlated jump-diffusion in log price ----
  let lnBtc = Math.log(start.crypto.BTC);
  let lnEth = Math.log(start.crypto.ETH);
  let btcNow = start.crypto.BTC;
  const rho = m.crypto.correlation;
  const crypto: Group = {
    kind: 'crypto',
    stepMs: stepMsOf(m.cadenceS.crypto * scale, n),
    k: 0,
    step(tMs, dt, first) {
      if (!first) {
        const z1 = rng.normal();
        const z2 = rng.normal();
        const jumped = rng.uniform() < m.crypto.jumps.perYear * dt;
        const jump = jumped ? m.crypto.jumps.meanLog + m.crypto.jumps.stdLog * rng.normal() : 0;
        const prev = tMs - dt * MS_PER_YEAR;
        const muBtc = shockDrift(spec.crypto?.BTC, fromMs, prev) ?? m.crypto.BTC.driftPerYear;
        const muEth = shockDrift(spec.crypto?.ETH, fromMs, prev) ?? m.crypto.ETH.driftPerYear;
        const sq = Math.sqrt(dt);
        lnBtc += muBtc * dt + m.crypto.BTC.volPerYear * sq * z1 + m.crypto.BTC.jumpBeta * jump;
        lnEth += muEth * dt + m.crypto.ETH.volPerYear * sq * (rho * z1 + Math.sqrt(1 - rho * rho) * z2) + m.crypto.ETH.jumpBeta * jump;
      }
      btcNow = Math.exp(lnBtc);
      return [
        ['BTC', btcNow],
        ['ETH', Math.exp(lnEth)],
      ];
    },
  };

  // ---- hashprice: BTC over difficulty, with mean-reverting fee noise ----
  const difficultyGrowth = spec.hashprice?.difficultyGrowthPerYear ?? m.hashprice.difficultyGrowthPerYear;
  let hashNoise = 0;
  const hashHistory = new Lagged(start.hashprice);
  // Only ASIC resale reads hashprice history: without ASICs, keep none (an endless demo stays small).
  const keepHashHistory = resaleModels.some((x) => !(x in start.rental));
  const hashprice: Group = {
    kind: 'hashprice',
    stepMs: stepMsOf(m.cadenceS.hashprice * scale, n),
    k: 0,
    step(tMs, dt, first) {
      if (!first) hashNoise += -m.hashprice.meanReversionPerYear * hashNoise * dt + m.hashprice.noiseVolPerYear * Math.sqrt(dt) * rng.normal();
      const years = (tMs - fromMs) / MS_PER_YEAR;
      const value = start.hashprice * (btcNow / start.crypto.BTC) * Math.exp(-Math.log(1 + difficultyGrowth) * years + hashNoise);
      if (keepHashHistory) hashHistory.push(tMs, value);
      return [['hashprice', value]];
    },
  };

  // ---- GPU rental: deflation trend + regime shifts (common) + noise (per model) ----
  let rentalTrend = 0;
  let regime = 0;
  const rentalNoise = new Map<string, number>(rentalModels.map((x) => [x, 0]));
  const rentalHistory = new Map<string, Lagged>(rentalModels.map((x) => [x, new Lagged(start.rental[x])]));
  const baseRentalDrift = Math.log(1 - m.rental.deflationPerYear);
  const rental: Group = {
    kind: 'rental',
    stepMs: stepMsOf(m.cadenceS.rental * scale, n),
    k: 0,
    step(tMs, dt, first) {
      if (!first) {
        const prev = tMs - dt * MS_PER_YEAR;
        rentalTrend += (shockDrift(spec.rental, fromMs, prev) ?? baseRentalDrift) * dt;
        if (rng.uniform() < m.rental.regimeShifts.perYear * dt) regime += m.rental.regimeShifts.stdLog * rng.normal();
        for (const x of rentalModels) {
          const e = rentalNoise.get(x) ?? 0;
          rentalNoise.set(x, e - m.rental.meanReversionPerYear * e * dt + m.rental.noiseVolPerYear * Math.sqrt(dt) * rng.normal());
        }
      }
      return rentalModels.map((x): [string, number] => {
        const value = start.rental[x] * Math.exp(rentalTrend + regime + (rentalNoise.get(x) ?? 0));
        rentalHistory.get(x)?.push(tMs, value);
        return [rentalId(x), value];
      });
    },
  };

  // ---- resale: follows the earning power (rental or hashprice) with a lag ----
  const resale: Group = {
    kind: 'resale',
    stepMs: stepMsOf(m.cadenceS.resale * scale, n),
    k: 0,
    step(tMs) {
      return resaleModels.map((x): [string, number] => {
        const history = rentalHistory.get(x);
        const p = history !== undefined ? m.resale.gpu : m.resale.asic;
        const driver = history !== undefined ? history.at(tMs - p.lagDays * MS_PER_DAY) / start.rental[x] : hashHistory.at(tMs - p.lagDays * MS_PER_DAY) / start.hashprice;
        return [resaleId(x), start.resale[x] * Math.pow(driver, p.elasticity)];
      });
    },
  };

  // Tie order at equal times: crypto before hashprice (which reads BTC), rental and hashprice
  // before resale (which reads them).
  const groups: Group[] = [crypto, hashprice, rental, resale];
  const nextTs = (g: Group): number => fromMs + g.k * g.stepMs;
  for (;;) {
    let g = groups[0];
    for (const h of groups) if (nextTs(h) < nextTs(g)) g = h;
    const ts = nextTs(g);
    if (opts.toMs !== undefined && ts >= opts.toMs) return;
    const source = sources[g.k % n];
    const first = g.k === 0;
    const pairs = g.step(ts, g.stepMs / MS_PER_YEAR, first);
    const noise = m.sourceNoise[g.kind];
    const b = bias.get(`${source}/${g.kind}`) ?? 0;
    for (const [instrument, truePrice] of pairs) {
      const price = roundPrice(truePrice * Math.exp(b + noise * rng.normal()));
      const value: Quote = { v: 1, instrument, price, source, ts, tsSource: 'source', receivedAt: ts };
      yield { topic: QUOTES_TOPIC, key: instrument, ts, value };
    }
    g.k++;
  }
}

/** The starting market of a scenario: the file's, with the scenario's overrides. */
export function startOf(file: ScenariosFile, spec: ScenarioSpec): StartPrices {
  const o = spec.start;
  return {
    crypto: { ...file.start.crypto, ...o?.crypto },
    rental: { ...file.start.rental, ...o?.rental },
    resale: { ...file.start.resale, ...o?.resale },
    hashprice: o?.hashprice ?? file.start.hashprice,
  };
}

/** Milliseconds between two quotes of an instrument: a source's cadence over the number of sources. */
function stepMsOf(cadenceS: number, sources: number): number {
  return Math.max(1, Math.round((cadenceS * 1000) / sources));
}
