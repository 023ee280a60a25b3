import type { Market } from '../market/market.ts';
import type { DomainParams, Scenario } from '../params.ts';
import type { SheetVersion } from '../sheet/sheet.ts';
import { dateMs, DAYS_PER_REVENUE_MONTH, HOURS_PER_REVENUE_MONTH, MS_PER_DAY, MS_PER_YEAR } from '../calendar.ts';
import { isOlderGpuGeneration } from './stress.ts';
import type { Curves } from './reference-figures.ts';
import { depreciationOf, fleetIndexOf, indexOf, lotUnits, PLEDGE_FLEET, PLEDGE_WHOLE, pledgeKind } from './reference-figures.ts';

/** The reference valuation's pass over a sheet at a (possibly shocked) market (valuation.ts). */

const MS_PER_REVENUE_MONTH = DAYS_PER_REVENUE_MONTH * MS_PER_DAY;

/** One pass over the sheet at a (possibly shocked) market: what valuation and stress both need. */
export interface Assessment {
  readonly itemMv: Float64Array;
  readonly itemLv: Float64Array;
  readonly itemHaircut: Float64Array;
  readonly itemByModel: Uint8Array;
  readonly cryptoValue: number | null;
  readonly unpledgedCrypto: number | null;
  /** Per facility: its share of collateral MV / LV / MV in twelve months; null when an index is missing. */
  readonly facCv: Array<number | null>;
  readonly facLv: Array<number | null>;
  readonly facCv12: Array<number | null>;
  readonly collateralValue: number | null;
  readonly liquidationValue: number | null;
  readonly noi12: number | null;
  /** Spot rental revenue of the twelve months (B of the break-even, DOMAIN.md). */
  readonly spotRevenue12: number;
}

export interface Terms {
  readonly outstanding: Float64Array;
  readonly secured: Uint8Array;
}

export function assess(
  sheet: SheetVersion,
  market: Market,
  t: number,
  params: DomainParams,
  terms: Terms,
  sc: Scenario | null,
  newestGen: number,
  curves: Curves,
  missing: string[] | null,
  resaleFactor: ReadonlyMap<string, number> | null = null,
): Assessment {
  const fleet = sheet.fleet;
  const nItems = fleet.length;
  const itemMv = new Float64Array(nItems);
  const itemLv = new Float64Array(nItems);
  const itemHaircut = new Float64Array(nItems);
  const itemByModel = new Uint8Array(nItems);
  const catalog = params.catalog;
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
    const model = item.model;
    const cat = catalog.models.get(model);
    const isGpu = item.class === 'gpu';
    const shocked = sc !== null && (!isGpu || sc.olderGenerationsOnly !== true || isOlderGpuGeneration(cat, newestGen));
    // a fire sale's price impact on the model (contagion.ts), on market- and model-valued items alike
    const resaleShock = (!shocked ? 1 : isGpu ? 1 + sc.gpuResale : 1 + sc.asicResale) * (resaleFactor?.get(model) ?? 1);
    const resale = indexOf(market.resale, model);
    let mv: number;
    if (resale !== undefined) {
      mv = item.count * resale * resaleShock;
    } else {
      // DOMAIN.md: with no resale index, depreciate the cost; age 0 if acquired in the future.
      const years = Math.max(0, (t - dateMs(item.acquiredAt)) / MS_PER_YEAR);
      mv = item.count * item.costPerUnit * Math.pow(1 - depreciationOf(item, params), years) * resaleShock;
      itemByModel[i] = 1;
    }
    // The haircut counts the entity's whole holding of the model: splitting a fleet into items
    // does not shrink it (DOMAIN.md "Liquidation value").
    let modelCount = 0;
    for (let j = 0; j < nItems; j++) if (fleet[j].model === model) modelCount += fleet[j].count;
    const liq = item.liquidity ?? cat?.liquidity ?? params.defaultLiquidity;
    const h = Math.min(liq.hmax, liq.h0 + (liq.k * modelCount) / liq.depthPerMonth);
    itemMv[i] = mv;
    itemHaircut[i] = h;
    itemLv[i] = mv * (1 - h);

    // ---- forward twelve months of this item (DOMAIN.md "Forward twelve months")
    if (item.count === 0) continue;
    if (isGpu) {
      const r0 = indexOf(market.rental, model);
      const rentalShock = shocked ? 1 + sc.rental : 1;
      const c = item.contracted;
      const untilMs = c === undefined ? 0 : dateMs(c.until);
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
        noi = null;
        if (missing !== null) {
          const id = `rental:${model}`;
          if (!missing.includes(id)) missing.push(id);
        }
        continue;
      }
      spot += spotItem;
      if (noi !== null) noi += revenue + spotItem - 12 * hoursPerMonth * item.opexPerUnitHour;
    } else {
      const hp = market.hashprice;
      if (hp === null) {
        noi = null;
        if (missing !== null && !missing.includes('hashprice')) missing.push('hashprice');
        continue;
      }
      const hashrateTh = item.hashrateTh ?? cat?.hashrateTh ?? 0;
      const daysPerMonth = item.count * DAYS_PER_REVENUE_MONTH;
      let margin = 0;
      for (let m = 1; m <= 12; m++) {
        const hm = hp * hashShock * curves.hashprice[m - 1];
        // A miner switches off machines that lose money: the month's margin is at least 0.
        margin += Math.max(0, daysPerMonth * (hashrateTh * hm - item.opexPerUnitDay));
      }
      if (noi !== null) noi += margin;
    }
  }

  // ---- collateral (DOMAIN.md "Collateral of a facility"): pledges of facilities with outstanding
  // principal; an item pledged to several is shared pari passu by outstanding.
  const facilities = sheet.facilities;
  const nFac = facilities.length;
  const itemPledgedOut = new Float64Array(nItems);
  let wholeOutBtc = 0;
  let wholeOutEth = 0;
  let lotsBtc = 0;
  let lotsEth = 0;
  for (let f = 0; f < nFac; f++) {
    const out = terms.outstanding[f];
    if (out <= 0 || terms.secured[f] === 0) continue;
    const pledges = facilities[f].collateral;
    for (let p = 0; p < pledges.length; p++) {
      const kind = pledgeKind(pledges[p]);
      if (kind === PLEDGE_FLEET) {
        const i = fleetIndexOf(fleet, pledges[p]);
        if (i >= 0) itemPledgedOut[i] += out;
      } else {
        const isBtc = pledges[p].charCodeAt(9) === 66; // 'holdings:B...'
        if (kind === PLEDGE_WHOLE) {
          if (isBtc) wholeOutBtc += out;
          else wholeOutEth += out;
        } else if (isBtc) lotsBtc += lotUnits(pledges[p]);
        else lotsEth += lotUnits(pledges[p]);
      }
    }
  }

  const facCv: Array<number | null> = new Array<number | null>(nFac);
  const facLv: Array<number | null> = new Array<number | null>(nFac);
  const facCv12: Array<number | null> = new Array<number | null>(nFac);
  const cryptoLvFactor = 1 - params.cryptoHaircut;
  for (let f = 0; f < nFac; f++) {
    const out = terms.outstanding[f];
    if (out <= 0 || terms.secured[f] === 0) {
      facCv[f] = 0;
      facLv[f] = 0;
      facCv12[f] = 0;
      continue;
    }
    let cv: number | null = 0;
    let lv = 0;
    let cv12 = 0;
    const pledges = facilities[f].collateral;
    for (let p = 0; p < pledges.length; p++) {
      const pledge = pledges[p];
      const kind = pledgeKind(pledge);
      if (kind === PLEDGE_FLEET) {
        const i = fleetIndexOf(fleet, pledge);
        if (i < 0) continue; // refused by validation; nothing to value
        const share = out / itemPledgedOut[i];
        if (cv !== null) cv += itemMv[i] * share;
        lv += itemLv[i] * share;
        cv12 += itemMv[i] * share * (1 - depreciationOf(fleet[i], params));
        continue;
      }
      const isBtc = pledge.charCodeAt(9) === 66;
      const price = isBtc ? pBtc : pEth;
      if (price === undefined) {
        cv = null;
        continue;
      }
      const units = kind === PLEDGE_WHOLE ? ((isBtc ? heldBtc : heldEth) * out) / (isBtc ? wholeOutBtc : wholeOutEth) : lotUnits(pledge);
      const value = units * price;
      if (cv !== null) cv += value;
      lv += value * cryptoLvFactor;
      cv12 += value; // crypto is held flat over the twelve months
    }
    facCv[f] = cv;
    facLv[f] = cv === null ? null : lv;
    facCv12[f] = cv === null ? null : cv12;
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

  return {
    itemMv,
    itemLv,
    itemHaircut,
    itemByModel,
    cryptoValue,
    unpledgedCrypto,
    facCv,
    facLv,
    facCv12,
    collateralValue,
    liquidationValue: collateralValue === null ? null : liquidationValue,
    noi12: noi,
    spotRevenue12: spot,
  };
}
