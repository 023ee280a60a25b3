import type { Market } from '../market/market.ts';
import type { DomainParams, Scenario } from '../params.ts';
import type { SheetVersion } from '../sheet/sheet.ts';
import { dateMs, DAYS_PER_REVENUE_MONTH, HOURS_PER_REVENUE_MONTH, MS_PER_YEAR } from '../calendar.ts';
import type { Assessment } from './assessment.ts';
import { FWD_MISSING, FWD_NONE, FWD_VALUE, indexOf, MS_PER_REVENUE_MONTH } from './assessment.ts';
import type { SheetPlan } from './sheet-plan.ts';
import { PLEDGE_FLEET, PLEDGE_WHOLE } from './sheet-plan.ts';

/** The fast valuation's pass over a sheet at a (possibly shocked) market (fast-valuation.ts). */

export function assess(
  sheet: SheetVersion,
  market: Market,
  t: number,
  params: DomainParams,
  plan: SheetPlan,
  outstanding: Float64Array,
  secured: Uint8Array,
  sc: Scenario | null,
  missing: string[] | null,
  into: Assessment,
  base: Assessment | null,
): void {
  const fleet = sheet.fleet;
  const nItems = fleet.length;
  const facPlans = plan.facilities;
  const nFac = facPlans.length;
  into.reset(nItems, nFac);
  const itemMv = into.itemMv;
  const itemLv = into.itemLv;
  const itemHaircut = into.itemHaircut;
  const itemByModel = into.itemByModel;
  const itemFwd = into.itemFwd;
  const itemNoi = into.itemNoi;
  const itemSpot = into.itemSpot;
  const itemPlans = plan.items;
  const curves = plan.curves;
  const cryptoShock = sc === null ? 1 : 1 + sc.crypto;
  const hashShock = sc === null ? 1 : 1 + sc.hashprice;

  // ---- crypto
  let cryptoValue: number | null = 0;
  const priceBtc = indexOf(market.crypto, 'BTC');
  const priceEth = indexOf(market.crypto, 'ETH');
  const pBtc = priceBtc === undefined ? undefined : priceBtc * cryptoShock;
  const pEth = priceEth === undefined ? undefined : priceEth * cryptoShock;
  const heldBtc = sheet.holdings.BTC;
  const heldEth = sheet.holdings.ETH;
  if (heldBtc > 0) {
    if (pBtc === undefined) {
      cryptoValue = null;
      if (missing !== null && !missing.includes('BTC')) missing.push('BTC');
    } else cryptoValue += heldBtc * pBtc;
  }
  if (heldEth > 0) {
    if (pEth === undefined) {
      cryptoValue = null;
      if (missing !== null && !missing.includes('ETH')) missing.push('ETH');
    } else if (cryptoValue !== null) cryptoValue += heldEth * pEth;
  }

  // ---- fleet market and liquidation values
  let noi: number | null = -sheet.fixedCostsPerYear;
  let spot = 0;
  for (let i = 0; i < nItems; i++) {
    const item = fleet[i];
    const ip = itemPlans[i];
    const model = item.model;
    const isGpu = item.class === 'gpu';
    const shocked = sc !== null && (!isGpu || sc.olderGenerationsOnly !== true || ip.olderGeneration);
    const resaleShock = !shocked ? 1 : isGpu ? 1 + sc.gpuResale : 1 + sc.asicResale;
    const resale = indexOf(market.resale, model);
    let mv: number;
    if (resale !== undefined) {
      mv = item.count * resale * resaleShock;
    } else {
      // DOMAIN.md: with no resale index, depreciate the cost; age 0 if acquired in the future.
      const acquiredMs = Number.isNaN(ip.acquiredMs) ? dateMs(item.acquiredAt) : ip.acquiredMs;
      const years = Math.max(0, (t - acquiredMs) / MS_PER_YEAR);
      mv = item.count * item.costPerUnit * Math.pow(1 - ip.depreciation, years) * resaleShock;
      itemByModel[i] = 1;
    }
    // The haircut counts the entity's whole holding of the model: splitting a fleet into items
    // does not shrink it (DOMAIN.md "Liquidation value"); worked out once in the plan.
    const h = ip.haircut;
    itemMv[i] = mv;
    itemHaircut[i] = h;
    itemLv[i] = mv * (1 - h);

    // ---- forward twelve months of this item (DOMAIN.md "Forward twelve months")
    itemFwd[i] = FWD_NONE;
    if (item.count === 0) continue;
    // A scenario that leaves this item's forward factor at exactly 1 computes, operation for
    // operation, what the base valuation did: take its result (the same doubles).
    const fwdShock = isGpu ? (shocked ? 1 + sc.rental : 1) : hashShock;
    if (base !== null && fwdShock === 1 && base.itemFwd[i] !== FWD_NONE) {
      if (base.itemFwd[i] === FWD_MISSING) {
        itemFwd[i] = FWD_MISSING;
        noi = null;
        continue;
      }
      itemFwd[i] = FWD_VALUE;
      itemNoi[i] = base.itemNoi[i];
      itemSpot[i] = base.itemSpot[i];
      if (isGpu) spot += base.itemSpot[i];
      if (noi !== null) noi += base.itemNoi[i];
      continue;
    }
    if (isGpu) {
      const r0 = indexOf(market.rental, model);
      const rentalShock = fwdShock;
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
          const s = r0 * rentalShock * curves.rental[m - 1];
          spotItem += hoursPerMonth * (1 - cm) * item.utilization * s;
        }
      }
      if (needsSpot && r0 === undefined) {
        itemFwd[i] = FWD_MISSING;
        noi = null;
        if (missing !== null) {
          const id = `rental:${model}`;
          if (!missing.includes(id)) missing.push(id);
        }
        continue;
      }
      const add = revenue + spotItem - 12 * hoursPerMonth * item.opexPerUnitHour;
      itemFwd[i] = FWD_VALUE;
      itemNoi[i] = add;
      itemSpot[i] = spotItem;
      spot += spotItem;
      if (noi !== null) noi += add;
    } else {
      const hp = market.hashprice;
      if (hp === null) {
        itemFwd[i] = FWD_MISSING;
        noi = null;
        if (missing !== null && !missing.includes('hashprice')) missing.push('hashprice');
        continue;
      }
      const hashrateTh = ip.hashrateTh;
      const daysPerMonth = item.count * DAYS_PER_REVENUE_MONTH;
      let margin = 0;
      for (let m = 1; m <= 12; m++) {
        const hm = hp * hashShock * curves.hashprice[m - 1];
        // A miner switches off machines that lose money: the month's margin is at least 0.
        margin += Math.max(0, daysPerMonth * (hashrateTh * hm - item.opexPerUnitDay));
      }
      itemFwd[i] = FWD_VALUE;
      itemNoi[i] = margin;
      itemSpot[i] = 0;
      if (noi !== null) noi += margin;
    }
  }

  // ---- collateral (DOMAIN.md "Collateral of a facility"): pledges of facilities with outstanding
  // principal; an item pledged to several is shared pari passu by outstanding.
  const itemPledgedOut = into.itemPledgedOut;
  let wholeOutBtc = 0;
  let wholeOutEth = 0;
  let lotsBtc = 0;
  let lotsEth = 0;
  for (let f = 0; f < nFac; f++) {
    const out = outstanding[f];
    if (out <= 0 || secured[f] === 0) continue;
    const fp = facPlans[f];
    const kinds = fp.pledgeKind;
    for (let p = 0; p < kinds.length; p++) {
      const kind = kinds[p];
      if (kind === PLEDGE_FLEET) {
        const i = fp.pledgeItem[p];
        if (i >= 0) itemPledgedOut[i] += out;
      } else {
        const isBtc = fp.pledgeBtc[p] === 1;
        if (kind === PLEDGE_WHOLE) {
          if (isBtc) wholeOutBtc += out;
          else wholeOutEth += out;
        } else if (isBtc) lotsBtc += fp.pledgeUnits[p];
        else lotsEth += fp.pledgeUnits[p];
      }
    }
  }

  const facCv = into.facCv;
  const facLv = into.facLv;
  const facCv12 = into.facCv12;
  const facNull = into.facNull;
  const cryptoLvFactor = 1 - params.cryptoHaircut;
  for (let f = 0; f < nFac; f++) {
    const out = outstanding[f];
    facNull[f] = 0;
    if (out <= 0 || secured[f] === 0) {
      facCv[f] = 0;
      facLv[f] = 0;
      facCv12[f] = 0;
      continue;
    }
    let cv: number | null = 0;
    let lv = 0;
    let cv12 = 0;
    const fp = facPlans[f];
    const kinds = fp.pledgeKind;
    for (let p = 0; p < kinds.length; p++) {
      const kind = kinds[p];
      if (kind === PLEDGE_FLEET) {
        const i = fp.pledgeItem[p];
        if (i < 0) continue; // refused by validation; nothing to value
        const share = out / itemPledgedOut[i];
        if (cv !== null) cv += itemMv[i] * share;
        lv += itemLv[i] * share;
        cv12 += itemMv[i] * share * (1 - itemPlans[i].depreciation);
        continue;
      }
      const isBtc = fp.pledgeBtc[p] === 1;
      const price = isBtc ? pBtc : pEth;
      if (price === undefined) {
        cv = null;
        continue;
      }
      const units = kind === PLEDGE_WHOLE ? ((isBtc ? heldBtc : heldEth) * out) / (isBtc ? wholeOutBtc : wholeOutEth) : fp.pledgeUnits[p];
      const value = units * price;
      if (cv !== null) cv += value;
      lv += value * cryptoLvFactor;
      cv12 += value; // crypto is held flat over the twelve months
    }
    if (cv === null) facNull[f] = 1;
    else {
      facCv[f] = cv;
      facLv[f] = lv;
      facCv12[f] = cv12;
    }
  }

  // ---- entity collateral: each pledged item once
  let collateralValue: number | null = 0;
  let liquidationValue = 0;
  for (let i = 0; i < nItems; i++) {
    if (itemPledgedOut[i] > 0) {
      collateralValue += itemMv[i];
      liquidationValue += itemLv[i];
    }
  }
  let unpledgedCrypto: number | null = 0;
  for (let a = 0; a < 2; a++) {
    const held = a === 0 ? heldBtc : heldEth;
    const price = a === 0 ? pBtc : pEth;
    const wholeOut = a === 0 ? wholeOutBtc : wholeOutEth;
    const pledgedUnits = wholeOut > 0 ? held : Math.min(held, a === 0 ? lotsBtc : lotsEth);
    if (pledgedUnits > 0) {
      if (price === undefined) collateralValue = null;
      else if (collateralValue !== null) {
        collateralValue += pledgedUnits * price;
        liquidationValue += pledgedUnits * price * cryptoLvFactor;
      }
    }
    const free = held - pledgedUnits;
    if (free > 0) {
      if (price === undefined) unpledgedCrypto = null;
      else if (unpledgedCrypto !== null) unpledgedCrypto += free * price;
    }
  }

  into.cryptoValue = cryptoValue;
  into.wholeOutBtc = wholeOutBtc;
  into.wholeOutEth = wholeOutEth;
  into.lotsBtc = lotsBtc;
  into.lotsEth = lotsEth;
  into.unpledgedCrypto = unpledgedCrypto;
  into.collateralValue = collateralValue;
  into.liquidationValue = collateralValue === null ? null : liquidationValue;
  into.noi12 = noi;
  into.spotRevenue12 = spot;
}
