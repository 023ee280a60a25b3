import type { Market } from '../market/market.ts';
import type { DomainParams } from '../params.ts';
import type { SheetVersion } from '../sheet/sheet.ts';
import { DAYS_PER_REVENUE_MONTH, HOURS_PER_REVENUE_MONTH, MS_PER_DAY, MS_PER_YEAR } from '../calendar.ts';
import { debtTermsAt, MS_PER_REVENUE_MONTH, PLEDGE_FLEET, PLEDGE_WHOLE } from './fast-valuation.ts';
import { exposureOf } from './valuation.ts';
import type { CompiledCoin, CompiledEntity, CompiledFacility, CompiledItem, CompiledNoi, CompiledPledge } from './compiled-types.ts';

/**
 * The compiled form of a sheet version at an instant (ARCHITECTURE.md "Processor runtime rules" 7,
 * docs/valuation.md "The compiled form"): what the LTV and DSCR covenants need, as functions of
 * the index prices, with everything that depends on time alone worked out once.
 *
 * - A facility's collateral value is affine in each pledged price: `sum of count x resale x share`
 *   over its fleet pledges plus `units x price` over its coin pledges, the pari-passu shares being
 *   constant while the outstanding principals are, plus the model value of items without a resale
 *   index (which only falls with time).
 * - noi12 is affine in each rental index (the spot revenue of the uncontracted hours) and, in
 *   hashprice, a sum of `max(0, alpha x h - beta)` per ASIC item and month: piecewise affine and
 *   non-decreasing.
 * - The debt schedule (outstanding, debt service, the DSCR covenant in force) is constant within a
 *   day for a sheet whose dates are midnights (fast-valuation.ts `debtTermsAt`); contract shares
 *   switch at known instants.
 * The form holds from `atMs` until `untilMs` (exclusive; at `atMs` alone when they are equal): the
 * next midnight, the next instant a contracted month leaves the twelve-month window, whichever
 * comes first. The next sheet version is the caller's business.
 *
 * Numbers: evaluated at the compile-time market, the facility collateral values and LTVs are the
 * valuation's own doubles (the same operations in the same order as `valueEntityFast`); noi12 and
 * DSCR agree with it to rounding (their terms are summed per input here). Used by the processor's
 * incremental step (step/guard.ts: price intervals that cannot cross an alert line) and by the
 * contagion cascade (`valueCompiled` with scaled resale indexes).
 */

export type { CompiledCoin, CompiledEntity, CompiledFacility, CompiledItem, CompiledNoi, CompiledPledge } from './compiled-types.ts';
export { noiAt, valueCompiled, type CompiledFacilityValue, type CompiledValue } from './compiled-value.ts';

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The price of an instrument in a market (NaN when absent). */
export function priceIn(market: Market, instrument: string): number {
  let v: number | null | undefined;
  if (instrument === 'BTC' || instrument === 'ETH') v = market.crypto[instrument];
  else if (instrument === 'hashprice') v = market.hashprice;
  else if (instrument.startsWith('rental:')) v = market.rental[instrument.slice(7)];
  else if (instrument.startsWith('resale:')) v = market.resale[instrument.slice(7)];
  return typeof v === 'number' ? v : Number.NaN;
}

/**
 * Compiles a sheet version against a market at `atMs` (see the header). The market's prices are
 * those the form is centred on; which indexes exist decides which items are valued by model and
 * whether noi12 can be computed.
 */
export function compileEntity(sheet: SheetVersion, market: Market, atMs: number, params: DomainParams): CompiledEntity {
  const terms = debtTermsAt(sheet, params, atMs);
  const plan = terms.plan;
  const inputs = [...exposureOf(sheet, params)].sort(byString);
  const inputOf = (instrument: string): number => inputs.indexOf(instrument);
  const prices = new Float64Array(inputs.length);
  for (let k = 0; k < inputs.length; k++) prices[k] = priceIn(market, inputs[k]);

  // ---- when the form stops holding: the next midnight (the schedule), a contracted month leaving the window
  let untilMs: number;
  if (!terms.memoable || !Number.isSafeInteger(atMs)) untilMs = atMs;
  else {
    const midnight = Math.floor(atMs / MS_PER_DAY) * MS_PER_DAY;
    untilMs = midnight === atMs ? atMs : midnight + MS_PER_DAY;
  }
  const fleet = sheet.fleet;
  for (let i = 0; i < fleet.length && untilMs > atMs; i++) {
    const c = fleet[i].contracted;
    if (c === undefined || fleet[i].class !== 'gpu' || fleet[i].count === 0) continue;
    // month m is contracted while atMs + (m - 0.5) months < until (exact in integer ms)
    for (let m = 1; m <= 12; m++) {
      const switchMs = plan.items[i].untilMs - (m - 0.5) * MS_PER_REVENUE_MONTH;
      if (switchMs > atMs && switchMs < untilMs) untilMs = switchMs;
    }
  }

  // ---- collateral: pledges of facilities that owe, items shared pari passu by outstanding
  const facilities = sheet.facilities;
  const outstanding = terms.outstanding;
  const itemPledgedOut = new Float64Array(fleet.length);
  const wholeOut = [0, 0];
  const lots = [0, 0];
  let securedDebt = 0;
  for (let f = 0; f < facilities.length; f++) {
    const fp = plan.facilities[f];
    const out = outstanding[f];
    if (fp.secured) securedDebt += out;
    if (out <= 0 || !fp.secured) continue;
    for (let p = 0; p < fp.pledgeKind.length; p++) {
      const kind = fp.pledgeKind[p];
      const coin = fp.pledgeBtc[p] === 1 ? 0 : 1;
      if (kind === PLEDGE_FLEET) {
        if (fp.pledgeItem[p] >= 0) itemPledgedOut[fp.pledgeItem[p]] += out;
      } else if (kind === PLEDGE_WHOLE) wholeOut[coin] += out;
      else lots[coin] += fp.pledgeUnits[p];
    }
  }
  const held = [sheet.holdings.BTC, sheet.holdings.ETH];
  const coinInput = [held[0] > 0 ? inputOf('BTC') : -1, held[1] > 0 ? inputOf('ETH') : -1];
  const coins: [CompiledCoin, CompiledCoin] = [0, 1].map((a) => ({
    input: coinInput[a],
    held: held[a],
    pledged: wholeOut[a] > 0 ? held[a] : Math.min(held[a], lots[a]),
  })) as [CompiledCoin, CompiledCoin];

  const items: CompiledItem[] = fleet.map((item, i) => {
    const ip = plan.items[i];
    const resaleInput = market.resale[item.model] === undefined ? -1 : inputOf(`resale:${item.model}`);
    const modelValue = (tMs: number): number =>
      resaleInput >= 0 ? 0 : item.count * item.costPerUnit * Math.pow(1 - ip.depreciation, Math.max(0, (tMs - ip.acquiredMs) / MS_PER_YEAR));
    return {
      id: item.id,
      model: item.model,
      isGpu: item.class === 'gpu',
      count: item.count,
      resaleInput,
      modelValueAt: modelValue(atMs),
      modelValueUntil: modelValue(untilMs),
      haircut: ip.haircut,
      pledged: itemPledgedOut[i] > 0,
    };
  });

  const compiledFacilities: CompiledFacility[] = facilities.map((fac, f) => {
    const fp = plan.facilities[f];
    const out = outstanding[f];
    const pledges: CompiledPledge[] = [];
    if (out > 0 && fp.secured) {
      for (let p = 0; p < fp.pledgeKind.length; p++) {
        const kind = fp.pledgeKind[p];
        if (kind === PLEDGE_FLEET) {
          const i = fp.pledgeItem[p];
          if (i >= 0) pledges.push({ kind: 'item', item: i, share: out / itemPledgedOut[i] });
          continue;
        }
        const a = fp.pledgeBtc[p] === 1 ? 0 : 1;
        const units = kind === PLEDGE_WHOLE ? (held[a] * out) / wholeOut[a] : fp.pledgeUnits[p];
        pledges.push({ kind: 'coin', input: coinInput[a], units });
      }
    }
    return { id: fac.id, outstanding: out, secured: fp.secured, covenants: fac.covenants, pledges };
  });

  return {
    entity: sheet.id,
    sheet,
    atMs,
    untilMs,
    inputs,
    prices,
    items,
    facilities: compiledFacilities,
    coins,
    noi: compileNoi(sheet, plan.curves, plan.items, market, atMs, inputOf, prices),
    debtService12: terms.debtService12,
    dscrMin: terms.maxDscrMin,
    securedDebt,
    cryptoHaircut: params.cryptoHaircut,
  };
}

function compileNoi(
  sheet: SheetVersion,
  curves: { readonly rental: Float64Array; readonly hashprice: Float64Array },
  itemPlans: ReadonlyArray<{ readonly untilMs: number; readonly hashrateTh: number }>,
  market: Market,
  atMs: number,
  inputOf: (instrument: string) => number,
  prices: Float64Array,
): CompiledNoi | null {
  let constant = -sheet.fixedCostsPerYear;
  let magnitude = sheet.fixedCostsPerYear;
  const rental = new Map<number, number>();
  const hash: Array<{ input: number; alpha: Float64Array; beta: number }> = [];
  for (let i = 0; i < sheet.fleet.length; i++) {
    const item = sheet.fleet[i];
    if (item.count === 0) continue;
    if (item.class === 'gpu') {
      const c = item.contracted;
      const hoursPerMonth = item.count * HOURS_PER_REVENUE_MONTH;
      let revenue = 0;
      let coef = 0;
      for (let m = 1; m <= 12; m++) {
        const tm = atMs + (m - 0.5) * MS_PER_REVENUE_MONTH;
        const cm = c !== undefined && tm < itemPlans[i].untilMs ? c.share : 0;
        if (c !== undefined) revenue += hoursPerMonth * cm * c.ratePerHour;
        if (cm < 1) coef += hoursPerMonth * (1 - cm) * item.utilization * curves.rental[m - 1];
      }
      const opex = 12 * hoursPerMonth * item.opexPerUnitHour;
      constant += revenue - opex;
      magnitude += revenue + opex;
      if (coef > 0) {
        if (market.rental[item.model] === undefined) return null;
        const input = inputOf(`rental:${item.model}`);
        rental.set(input, (rental.get(input) ?? 0) + coef);
        magnitude += coef * prices[input];
      }
    } else {
      if (market.hashprice === null) return null;
      const input = inputOf('hashprice');
      const daysPerMonth = item.count * DAYS_PER_REVENUE_MONTH;
      const alpha = new Float64Array(12);
      for (let m = 0; m < 12; m++) alpha[m] = daysPerMonth * itemPlans[i].hashrateTh * curves.hashprice[m];
      const beta = daysPerMonth * item.opexPerUnitDay;
      hash.push({ input, alpha, beta });
      for (let m = 0; m < 12; m++) magnitude += alpha[m] * prices[input] + beta;
    }
  }
  return { constant, rental: [...rental].map(([input, coef]) => ({ input, coef })), hash, magnitude };
}
