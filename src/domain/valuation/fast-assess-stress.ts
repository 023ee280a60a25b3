import type { Market } from '../market/market.ts';
import type { Scenario } from '../params.ts';
import type { SheetVersion } from '../sheet/sheet.ts';
import { dateMs, DAYS_PER_REVENUE_MONTH, HOURS_PER_REVENUE_MONTH, MS_PER_YEAR } from '../calendar.ts';
import type { Assessment } from './assessment.ts';
import { FWD_MISSING, FWD_NONE, indexOf, MS_PER_REVENUE_MONTH } from './assessment.ts';
import type { SheetPlan } from './sheet-plan.ts';
import { PLEDGE_FLEET, PLEDGE_WHOLE } from './sheet-plan.ts';

/**
 * What a stress scenario reports of a pass (facility collateral values, the entity's collateral
 * value, noi12) and nothing else: `assess` with a scenario, minus the figures stress does not
 * report (liquidation values, haircuts, values in twelve months, unpledged coins) and with the
 * pledge shares of the base pass (they depend on outstanding principals only). Every reported
 * figure is computed by the same operations in the same order as `assess`: the same doubles.
 */
export function assessStress(
  sheet: SheetVersion,
  market: Market,
  t: number,
  plan: SheetPlan,
  outstanding: Float64Array,
  secured: Uint8Array,
  sc: Scenario,
  base: Assessment,
  into: Assessment,
): void {
  const fleet = sheet.fleet;
  const nItems = fleet.length;
  const facPlans = plan.facilities;
  const nFac = facPlans.length;
  into.reset(nItems, nFac);
  const itemMv = into.itemMv;
  const itemPlans = plan.items;
  const curves = plan.curves;
  const cryptoShock = 1 + sc.crypto;
  const hashShock = 1 + sc.hashprice;
  const priceBtc = indexOf(market.crypto, 'BTC');
  const priceEth = indexOf(market.crypto, 'ETH');
  const pBtc = priceBtc === undefined ? undefined : priceBtc * cryptoShock;
  const pEth = priceEth === undefined ? undefined : priceEth * cryptoShock;

  let noi: number | null = -sheet.fixedCostsPerYear;
  for (let i = 0; i < nItems; i++) {
    const item = fleet[i];
    const ip = itemPlans[i];
    const isGpu = item.class === 'gpu';
    const shocked = !isGpu || sc.olderGenerationsOnly !== true || ip.olderGeneration;
    const resaleShock = !shocked ? 1 : isGpu ? 1 + sc.gpuResale : 1 + sc.asicResale;
    const resale = indexOf(market.resale, item.model);
    if (resale !== undefined) itemMv[i] = item.count * resale * resaleShock;
    else {
      const acquiredMs = Number.isNaN(ip.acquiredMs) ? dateMs(item.acquiredAt) : ip.acquiredMs;
      const years = Math.max(0, (t - acquiredMs) / MS_PER_YEAR);
      itemMv[i] = item.count * item.costPerUnit * Math.pow(1 - ip.depreciation, years) * resaleShock;
    }
    if (item.count === 0) continue;
    const fwdShock = isGpu ? (shocked ? 1 + sc.rental : 1) : hashShock;
    if (fwdShock === 1 && base.itemFwd[i] !== FWD_NONE) {
      if (base.itemFwd[i] === FWD_MISSING) noi = null;
      else if (noi !== null) noi += base.itemNoi[i];
      continue;
    }
    if (isGpu) {
      const r0 = indexOf(market.rental, item.model);
      const c = item.contracted;
      const untilMs = c === undefined ? 0 : Number.isNaN(ip.untilMs) ? dateMs(c.until) : ip.untilMs;
      const hoursPerMonth = item.count * HOURS_PER_REVENUE_MONTH;
      let revenue = 0;
      let spotItem = 0;
      let needsSpot = false;
      for (let m = 1; m <= 12; m++) {
        const tm = t + (m - 0.5) * MS_PER_REVENUE_MONTH;
        const cm = c !== undefined && tm < untilMs ? c.share : 0;
        if (cm < 1) needsSpot = true;
        if (c !== undefined) revenue += hoursPerMonth * cm * c.ratePerHour;
        if (cm < 1 && r0 !== undefined) {
          const s = r0 * fwdShock * curves.rental[m - 1];
          spotItem += hoursPerMonth * (1 - cm) * item.utilization * s;
        }
      }
      if (needsSpot && r0 === undefined) {
        noi = null;
        continue;
      }
      if (noi !== null) noi += revenue + spotItem - 12 * hoursPerMonth * item.opexPerUnitHour;
    } else {
      const hp = market.hashprice;
      if (hp === null) {
        noi = null;
        continue;
      }
      const hashrateTh = ip.hashrateTh;
      const daysPerMonth = item.count * DAYS_PER_REVENUE_MONTH;
      let margin = 0;
      for (let m = 1; m <= 12; m++) {
        const hm = hp * hashShock * curves.hashprice[m - 1];
        margin += Math.max(0, daysPerMonth * (hashrateTh * hm - item.opexPerUnitDay));
      }
      if (noi !== null) noi += margin;
    }
  }

  const itemPledgedOut = base.itemPledgedOut;
  const heldBtc = sheet.holdings.BTC;
  const heldEth = sheet.holdings.ETH;
  const facCv = into.facCv;
  const facNull = into.facNull;
  for (let f = 0; f < nFac; f++) {
    const out = outstanding[f];
    facNull[f] = 0;
    if (out <= 0 || secured[f] === 0) {
      facCv[f] = 0;
      continue;
    }
    let cv: number | null = 0;
    const fp = facPlans[f];
    const kinds = fp.pledgeKind;
    for (let p = 0; p < kinds.length; p++) {
      const kind = kinds[p];
      if (kind === PLEDGE_FLEET) {
        const i = fp.pledgeItem[p];
        if (i < 0) continue;
        const share = out / itemPledgedOut[i];
        if (cv !== null) cv += itemMv[i] * share;
        continue;
      }
      const isBtc = fp.pledgeBtc[p] === 1;
      const price = isBtc ? pBtc : pEth;
      if (price === undefined) {
        cv = null;
        continue;
      }
      const units = kind === PLEDGE_WHOLE ? ((isBtc ? heldBtc : heldEth) * out) / (isBtc ? base.wholeOutBtc : base.wholeOutEth) : fp.pledgeUnits[p];
      const value = units * price;
      if (cv !== null) cv += value;
    }
    if (cv === null) facNull[f] = 1;
    else facCv[f] = cv;
  }

  let collateralValue: number | null = 0;
  for (let i = 0; i < nItems; i++) if (itemPledgedOut[i] > 0) collateralValue += itemMv[i];
  for (let a = 0; a < 2; a++) {
    const held = a === 0 ? heldBtc : heldEth;
    const price = a === 0 ? pBtc : pEth;
    const wholeOut = a === 0 ? base.wholeOutBtc : base.wholeOutEth;
    const pledgedUnits = wholeOut > 0 ? held : Math.min(held, a === 0 ? base.lotsBtc : base.lotsEth);
    if (pledgedUnits > 0) {
      if (price === undefined) collateralValue = null;
      else if (collateralValue !== null) collateralValue += pledgedUnits * price;
    }
  }
  into.collateralValue = collateralValue;
  into.noi12 = noi;
}
