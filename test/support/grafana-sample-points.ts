/**
 * A small seeded book of points covering every measurement, tag and field of ARCHITECTURE.md
 * "InfluxDB contracts" (plus the `spread` measurement the Market board needs).
 * test/integration/grafana-queries.test.ts takes from it only what a replay of a simulated stream
 * cannot write: the ingestors' `feed` and dead letters, late quotes (a replay is never late), and
 * measurements no writer produces yet (`spread`; `exposure` when the replay wrote none).
 *
 * Two entities shaped like shared/examples/valuation (a neocloud with a secured DDTL and a
 * revolver, a miner with an ABL, a BTC-backed loan and unsecured converts), four feeds, a point
 * every 10 minutes over two hours ending at `endMs`.
 */
import type { Point } from '../../src/sink/sink.ts';
import { mulberry32 } from '../../src/ingest/simulate/prng.ts';

/** mulberry32: a tiny deterministic PRNG, so the same seed gives the same book. */
const prng = mulberry32;

export const SAMPLE_STEP_MS = 10 * 60_000;
export const SAMPLE_STEPS = 13;

interface FacilitySpec {
  readonly entity: string;
  readonly facility: string;
  readonly lender: string;
  readonly secured: boolean;
  readonly outstanding: number;
  readonly ltv: number;
  readonly status: number;
}

const FACILITIES: readonly FacilitySpec[] = [
  { entity: 'northwind-neocloud', facility: 'ddtl-1', lender: 'atlas-credit', secured: true, outstanding: 180e6, ltv: 0.78, status: 2 },
  { entity: 'northwind-neocloud', facility: 'revolver-1', lender: 'harbor-bank', secured: true, outstanding: 20e6, ltv: 0.45, status: 0 },
  { entity: 'granite-mining', facility: 'abl-h200', lender: 'harbor-bank', secured: true, outstanding: 60e6, ltv: 0.62, status: 1 },
  { entity: 'granite-mining', facility: 'btc-bullet', lender: 'coin-lend', secured: true, outstanding: 40e6, ltv: 0.5, status: 0 },
  { entity: 'granite-mining', facility: 'converts-2029', lender: 'noteholders', secured: false, outstanding: 300e6, ltv: 0, status: 0 },
];

const ITEMS = [
  { entity: 'northwind-neocloud', item: 'h100-a', model: 'H100-SXM', valuedBy: 'market', value: 230e6 },
  { entity: 'northwind-neocloud', item: 'h200-b', model: 'H200', valuedBy: 'model', value: 40e6 },
  { entity: 'granite-mining', item: 's19-fleet', model: 'S19XP', valuedBy: 'market', value: 36e6 },
  { entity: 'granite-mining', item: 'h200-pivot', model: 'H200', valuedBy: 'model', value: 95e6 },
] as const;

const PRICES: readonly { instrument: string; base: number; sources: readonly string[] }[] = [
  { instrument: 'BTC', base: 110_000, sources: ['binance', 'coinbase', 'kraken'] },
  { instrument: 'ETH', base: 4_000, sources: ['binance', 'coinbase', 'kraken'] },
  { instrument: 'rental:H100-SXM', base: 2.1, sources: ['vast', 'lambda', 'runpod'] },
  { instrument: 'rental:H200', base: 3.05, sources: ['vast', 'lambda'] },
  { instrument: 'resale:H100-SXM', base: 28_000, sources: ['ebay', 'broker-file'] },
  { instrument: 'resale:S19XP', base: 1_200, sources: ['broker-file'] },
  { instrument: 'hashprice', base: 0.048, sources: ['hashrate-index'] },
];

const HOURS_PER_YEAR = 8766; // 365.25 days, shared/DOMAIN.md "Units and time"

export function sampleGrafanaPoints(run: string, endMs: number, seed = 7): Point[] {
  const rnd = prng(seed);
  const wiggle = (x: number, pct: number): number => x * (1 + (rnd() - 0.5) * 2 * pct);
  const points: Point[] = [];
  const add = (measurement: string, tags: Record<string, string>, fields: Record<string, number>, ts: number): void => {
    points.push({ measurement, tags: { ...tags, run }, fields, ts });
  };
  for (let i = 0; i < SAMPLE_STEPS; i++) {
    const ts = endMs - (SAMPLE_STEPS - 1 - i) * SAMPLE_STEP_MS;
    const index: Record<string, number> = {};
    for (const p of PRICES) {
      const quotes = p.sources.map((source) => ({ source, value: wiggle(p.base, 0.01) }));
      for (const q of quotes) add('price', { instrument: p.instrument, source: q.source }, { value: q.value }, ts);
      const sorted = quotes.map((q) => q.value).sort((a, b) => a - b);
      index[p.instrument] = sorted[Math.floor(sorted.length / 2)];
      const stale = p.sources.length < 2 && i % 4 === 3 ? 1 : 0;
      add('index', { instrument: p.instrument }, { value: index[p.instrument], sources: p.sources.length - stale, stale, rejected: i % 5 === 0 ? 1 : 0 }, ts);
    }
    for (const model of ['H100-SXM', 'H200']) {
      const rental = index[`rental:${model}`];
      const resale = index[`resale:${model}`] ?? 32_000;
      add('spread', { model }, { rental_usd_per_gpu_hour: rental, resale_usd_per_unit: resale, rental_yield_annual: (rental * HOURS_PER_YEAR) / resale }, ts);
    }
    for (const entity of ['northwind-neocloud', 'granite-mining']) {
      const facs = FACILITIES.filter((f) => f.entity === entity);
      const secured = facs.filter((f) => f.secured);
      const securedDebt = secured.reduce((s, f) => s + f.outstanding, 0);
      const totalDebt = facs.reduce((s, f) => s + f.outstanding, 0);
      const collateral = wiggle(securedDebt / 0.68, 0.02);
      const cash = entity === 'granite-mining' ? 25e6 : 12e6;
      const crypto = entity === 'granite-mining' ? wiggle(90e6, 0.02) : 0;
      const fleet = ITEMS.filter((it) => it.entity === entity).reduce((s, it) => s + it.value, 0);
      const noi = entity === 'granite-mining' ? 30e6 : 70e6;
      const debtService = entity === 'granite-mining' ? 42e6 : 45e6;
      const dscr = noi / debtService;
      add('valuation', { entity, type: 'entity' }, {
        crypto_value: crypto, fleet_value: fleet, cash, gross_assets: cash + crypto + fleet, total_debt: totalDebt, secured_debt: securedDebt,
        collateral_value: collateral, liquidation_value: collateral * 0.7, equity: cash + crypto + fleet - totalDebt, ltv: securedDebt / collateral,
        forced_sale_ltv: securedDebt / (collateral * 0.7), noi12: noi, debt_service12: debtService, maturities12: entity === 'granite-mining' ? 40e6 : 0,
        dscr, dscr_breach: dscr < 1.2 ? 1 : 0, liquidity_coverage: (cash + noi) / (debtService + (entity === 'granite-mining' ? 40e6 : 0)),
        runway_months: 14, net_leverage: (totalDebt - cash - crypto) / noi, breakeven_rental_rate: wiggle(1.4, 0.01), breakeven_rental_rate_at_covenant: wiggle(1.65, 0.01),
        stale: i === SAMPLE_STEPS - 2 && entity === 'granite-mining' ? 1 : 0, status_level: Math.max(...facs.map((f) => f.status)),
      }, ts);
      for (const f of facs) {
        const ltvFields: Record<string, number> = f.secured
          ? { collateral_value: f.outstanding / f.ltv, ltv: wiggle(f.ltv, 0.02), forced_sale_ltv: f.ltv / 0.7, headroom: 1 - f.ltv / 0.75, ltv_in_12m: f.ltv * 1.1, collateral_life_months_left: 40 }
          : {};
        add('facility', { entity, facility: f.facility, lender: f.lender }, {
          outstanding: f.outstanding, ...ltvFields, status_level: f.status, cure_amount_usd: f.status >= 2 ? wiggle(12e6, 0.05) : 0,
          tenor_months_left: 48 - Math.floor(i / 6), ltv_warn: 0.65, ltv_margin_call: 0.75, ltv_liquidation: 0.85, dscr_min: 1.2,
        }, ts);
      }
      for (const it of ITEMS.filter((x) => x.entity === entity)) {
        add('item', { entity, item: it.item, model: it.model, valued_by: it.valuedBy }, { market_value: wiggle(it.value, 0.02), liquidation_value: it.value * 0.72, haircut: 0.28 }, ts);
      }
      // one stress point per entity, every scenario's figures in its fields (to-points.ts)
      const stress: Record<string, number> = {};
      for (const [scenario, k] of [['crypto_crash', 1.3], ['compute_glut', 1.5], ['double_leverage', 1.9]] as const) {
        const ltv = (securedDebt / collateral) * k;
        stress[`${scenario}_ltv`] = ltv;
        stress[`${scenario}_dscr`] = dscr / k;
        stress[`${scenario}_worst_status_level`] = ltv >= 0.85 ? 3 : ltv >= 0.75 ? 2 : ltv >= 0.65 ? 1 : 0;
      }
      add('stress', { entity }, stress, ts);
    }
    // each entity's own contribution per model (the boards sum them)
    for (const [entity, model, pledged, atCall, depth] of [
      ['northwind-neocloud', 'H100-SXM', 40_000, 24_000, 8_000],
      ['northwind-neocloud', 'H200', 4_000, 0, 8_000],
      ['granite-mining', 'H200', 8_000, 0, 8_000],
      ['granite-mining', 'S19XP', 20_000, 0, 10_000],
    ] as const) {
      add('exposure', { entity, model }, { units_pledged: pledged, units_at_margin_call: atCall, depth_per_month: depth }, ts);
    }
    ['binance', 'coinbase', 'vast', 'lambda'].forEach((source, k) => {
      add('feed', { source }, { quotes: (i + 1) * (50 + 10 * k), rejects: Math.floor(i / 3) * k, reconnects: Math.floor(i / 6), last_tick_age_s: Math.floor(rnd() * 30) }, ts);
    });
    add('deadletter', { source: 'vast', reason: i % 2 === 0 ? 'schema' : 'unknown_model' }, { count: 1 + (i % 3) }, ts);
    add('data_quality', { instrument: 'BTC', source: 'kraken', reason: 'late' }, { count: 1 + (i % 2) }, ts);
    add('data_quality', { instrument: 'rental:H100-SXM', source: 'runpod', reason: 'outlier' }, { count: 1 }, ts);
  }
  // the alert ladder's transitions, at their own event times
  const t = (k: number): number => endMs - (SAMPLE_STEPS - 1 - k) * SAMPLE_STEP_MS + 1;
  add('alert', { entity: 'northwind-neocloud', facility: 'ddtl-1', rule: 'ltv', to: 'warn' }, { value: 0.66, threshold: 0.65, level: 1 }, t(3));
  add('alert', { entity: 'northwind-neocloud', facility: 'ddtl-1', rule: 'ltv', to: 'margin_call' }, { value: 0.76, threshold: 0.75, level: 2 }, t(8));
  add('alert', { entity: 'granite-mining', facility: '-', rule: 'dscr', to: 'breach' }, { value: 0.71, threshold: 1.2, level: 1 }, t(5));
  return points;
}

/** InfluxDB line protocol, ms precision (tags and measurement escaped per the 1.x spec). */
export function toLineProtocol(points: readonly Point[]): string {
  const esc = (s: string): string => s.replace(/[,= ]/g, '\\$&');
  return points
    .map((p) => {
      const tags = Object.entries(p.tags).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${esc(k)}=${esc(v)}`).join(',');
      const fields = Object.entries(p.fields).map(([k, v]) => `${esc(k)}=${v}`).join(',');
      return `${esc(p.measurement)},${tags} ${fields} ${p.ts}`;
    })
    .join('\n');
}
