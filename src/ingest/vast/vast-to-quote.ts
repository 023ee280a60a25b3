import type { Catalog } from '../../domain/sheet/catalog.ts';
import type { Mapped } from '../quote-source.ts';
import { quoted, rejected } from '../quote-source.ts';
import { toModelInstrument } from '../model-instrument.ts';
import { trimmedMedian } from '../robust-stats.ts';

/**
 * vast.ai offer search (`POST /api/v0/bundles/`, answer `{"offers":[...]}`; shared/notes/sources.md 1.1)
 * -> one rental quote per GPU model: the trimmed median of USD per GPU-hour over verified, rentable,
 * unrented offers with reliability2 >= minReliability, with the offer count as `sample`.
 * `dph_total` is per WHOLE OFFER (all its GPUs, storage included), so per GPU-hour = dph_total / num_gpus.
 * vast gives no time for an offer list: event time is receipt time.
 */
export interface VastOptions {
  readonly catalog: Catalog;
  readonly receivedAt: number;
  readonly minReliability: number;
  readonly trimFraction: number;
  readonly minOffers: number;
  readonly source?: string;
}

/** The request body: vast's filter language `{field: {op: value}}` (sources.md 1.1). */
export function vastQuery(gpuNames: readonly string[]): Record<string, unknown> {
  return {
    verified: { eq: true },
    rentable: { eq: true },
    rented: { eq: false },
    external: { eq: false },
    gpu_name: { in: gpuNames },
    num_gpus: { gte: 1 },
    order: [['dph_total', 'asc']],
    type: 'on-demand',
    limit: 500,
    allocated_storage: 5,
  };
}

export function vastToQuotes(body: unknown, o: VastOptions): Mapped[] {
  const source = o.source ?? 'vast';
  const offers = (body as { offers?: unknown } | null)?.offers;
  if (!Array.isArray(offers)) return [rejected('vast: answer has no "offers" array', body)];
  const out: Mapped[] = [];
  const byModel = new Map<string, number[]>();
  for (const raw of offers as unknown[]) {
    const r = raw as Record<string, unknown>;
    const name = r?.gpu_name;
    const n = r?.num_gpus;
    const dph = r?.dph_total;
    if (typeof name !== 'string' || name === '') {
      out.push(rejected('vast: offer without gpu_name', raw));
      continue;
    }
    if (typeof n !== 'number' || !Number.isInteger(n) || n <= 0) {
      out.push(rejected(`vast: offer ${String(r.id)} has num_gpus ${JSON.stringify(n)}`, raw));
      continue;
    }
    if (typeof dph !== 'number' || !Number.isFinite(dph) || dph <= 0) {
      out.push(rejected(`vast: offer ${String(r.id)} has no usable dph_total`, raw));
      continue;
    }
    // The filters are also sent in the query; checking them again keeps a lax server from skewing the median.
    const verified = r.verified === true || r.verification === 'verified';
    const reliability = typeof r.reliability2 === 'number' ? r.reliability2 : typeof r.reliability === 'number' ? r.reliability : 0;
    if (!verified || r.rentable !== true || r.rented === true || reliability < o.minReliability) continue;
    const list = byModel.get(name) ?? [];
    list.push(dph / n);
    byModel.set(name, list);
  }
  for (const [name, prices] of [...byModel].sort(([a], [b]) => a.localeCompare(b))) {
    const summary = { gpu_name: name, offers: prices.length, usdPerGpuHour: prices };
    if (prices.length < o.minOffers) {
      out.push(rejected(`vast: ${name} has ${prices.length} qualifying offers, fewer than ${o.minOffers}`, summary));
      continue;
    }
    const price = trimmedMedian(prices, o.trimFraction);
    if (price === null) continue;
    const m = toModelInstrument(o.catalog, 'rental', name);
    out.push(
      quoted(
        { v: 1, instrument: m.instrument, price, source, ts: o.receivedAt, tsSource: 'receipt', receivedAt: o.receivedAt, sample: prices.length, ...(m.unknownModel ? { unknownModel: m.unknownModel } : {}) },
        summary,
      ),
    );
  }
  return out;
}
