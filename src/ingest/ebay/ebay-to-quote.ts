import type { Catalog } from '../../domain/sheet/catalog.ts';
import type { Mapped } from '../quote-source.ts';
import { quoted, rejected } from '../quote-source.ts';
import { toModelInstrument } from '../model-instrument.ts';
import { toNumber } from '../json-path.ts';
import { trimmedMedian } from '../robust-stats.ts';

/**
 * eBay Browse API `item_summary/search` (shared/notes/sources.md 2): `{ total, itemSummaries: [ItemSummary] }`
 * with `price.value` a STRING and `price.currency`, `condition` / `conditionId` (3000 used, 1000 new),
 * `buyingOptions`. One resale quote per configured query: the trimmed median of fixed-price asking
 * prices of listings that are the part itself (titles filtered hard), USD per unit, with the listing
 * count as `sample`. Asking prices overstate clearing prices: the liquidation haircut of
 * shared/DOMAIN.md still applies downstream. A listing without a price or not in USD is rejected;
 * one that is merely filtered out is dropped silently. Event time: receipt.
 */
export interface EbayQuery {
  readonly model: string;
  readonly q: string;
  readonly categoryIds?: string;
  readonly condition: 'USED' | 'NEW';
  readonly minPriceUsd: number;
  readonly titleMustHave: readonly string[];
}

export interface EbayOptions {
  readonly catalog: Catalog;
  readonly receivedAt: number;
  readonly excludeTitle: readonly string[];
  readonly trimFraction: number;
  readonly minListings: number;
  readonly source?: string;
}

const CONDITION_IDS: Readonly<Record<'USED' | 'NEW', readonly string[]>> = { USED: ['3000', '2500', '2000'], NEW: ['1000', '1500'] };

/** The search URL's query string for one configured query (the filter syntax of the Browse API). */
export function ebaySearchParams(q: EbayQuery): URLSearchParams {
  const p = new URLSearchParams({
    q: q.q,
    filter: `conditions:{${q.condition}},buyingOptions:{FIXED_PRICE},price:[${q.minPriceUsd}..],priceCurrency:USD`,
    limit: '200',
    offset: '0',
  });
  if (q.categoryIds) p.set('category_ids', q.categoryIds);
  return p;
}

export function ebayToQuotes(body: unknown, q: EbayQuery, o: EbayOptions): Mapped[] {
  const source = o.source ?? 'ebay';
  const b = body as { itemSummaries?: unknown; total?: unknown; errors?: unknown } | null;
  if (!b || typeof b !== 'object') return [rejected('ebay: answer is not an object', body)];
  if (Array.isArray(b.errors)) return [rejected(`ebay: errors ${JSON.stringify(b.errors).slice(0, 300)}`, body)];
  if (b.itemSummaries !== undefined && !Array.isArray(b.itemSummaries)) return [rejected('ebay: itemSummaries is not an array', body)];
  const items = (b.itemSummaries ?? []) as unknown[];
  const out: Mapped[] = [];
  const prices: number[] = [];
  const kept: string[] = [];
  const excludes = o.excludeTitle.map((s) => s.toLowerCase());
  const musts = q.titleMustHave.map((s) => s.toLowerCase());
  for (const raw of items) {
    const it = raw as { itemId?: unknown; title?: unknown; price?: { value?: unknown; currency?: unknown }; conditionId?: unknown; condition?: unknown; buyingOptions?: unknown };
    const price = toNumber(it?.price?.value);
    if (!Number.isFinite(price)) {
      out.push(rejected(`ebay: listing ${String(it?.itemId)} has no price`, raw));
      continue;
    }
    if (it.price?.currency !== 'USD') {
      out.push(rejected(`ebay: listing ${String(it.itemId)} is priced in ${String(it.price?.currency)}, not USD`, raw));
      continue;
    }
    const title = typeof it.title === 'string' ? it.title.toLowerCase() : '';
    if (excludes.some((x) => title.includes(x)) || !musts.every((x) => title.includes(x))) continue;
    const condOk = CONDITION_IDS[q.condition].includes(String(it.conditionId)) || String(it.condition ?? '').toUpperCase() === q.condition;
    const fixed = Array.isArray(it.buyingOptions) && it.buyingOptions.includes('FIXED_PRICE');
    if (!condOk || !fixed || price < q.minPriceUsd) continue;
    prices.push(price);
    kept.push(String(it.itemId));
  }
  if (prices.length < o.minListings) return out;
  const price = trimmedMedian(prices, o.trimFraction);
  if (price === null) return out;
  const m = toModelInstrument(o.catalog, 'resale', q.model);
  out.push(
    quoted(
      { v: 1, instrument: m.instrument, price, source, ts: o.receivedAt, tsSource: 'receipt', receivedAt: o.receivedAt, sample: prices.length, ...(m.unknownModel ? { unknownModel: m.unknownModel } : {}) },
      { q: q.q, condition: q.condition, itemIds: kept, prices },
    ),
  );
  return out;
}
