import type { Catalog } from '../../domain/sheet/catalog.ts';
import type { HttpSourceConfig } from '../../config/ingest-schema.ts';
import type { Mapped } from '../quote-source.ts';
import { quoted, rejected } from '../quote-source.ts';
import { toModelInstrument } from '../model-instrument.ts';
import { getPath, toEpochMs, toNumber } from '../json-path.ts';

/**
 * A generic HTTP JSON feed (rental, resale or hashprice) whose field paths live in config
 * (ingest.http[]): rows at `itemsPath`, each with a model at `modelPath`, a price at `pricePath`,
 * an optional event time at `tsPath` (else receipt time) and an optional unit count at `unitsPath`
 * (price / units = price per GPU or per unit). `priceScale` converts units (0.01 for cents).
 * A missing price or model is a malformed row (rejected here); a present but non-finite or
 * non-positive price passes to the edge check, which rejects it with the same reasons for every source.
 */
export type HttpMapping = Pick<HttpSourceConfig, 'name' | 'kind' | 'itemsPath' | 'modelPath' | 'pricePath' | 'tsPath' | 'unitsPath' | 'priceScale' | 'modelMap'>;

export function httpToQuotes(body: unknown, m: HttpMapping, o: { catalog: Catalog; receivedAt: number }): Mapped[] {
  const items = m.itemsPath ? getPath(body, m.itemsPath) : body;
  if (items === undefined || items === null) return [rejected(`${m.name}: no rows at ${m.itemsPath ?? '(root)'}`, body)];
  const rows = Array.isArray(items) ? (items as unknown[]) : [items];
  return rows.map((row): Mapped => {
    const rawPrice = getPath(row, m.pricePath);
    if (rawPrice === undefined || rawPrice === null || rawPrice === '') return rejected(`${m.name}: row has no price at ${m.pricePath}`, row);
    let price = toNumber(rawPrice) * m.priceScale;
    if (m.unitsPath) {
      const units = toNumber(getPath(row, m.unitsPath));
      if (!Number.isFinite(units) || units <= 0) return rejected(`${m.name}: row has no positive unit count at ${m.unitsPath}`, row);
      price /= units;
    }
    let instrument = 'hashprice';
    let unknownModel: string | undefined;
    if (m.kind !== 'hashprice') {
      const model = m.modelPath ? getPath(row, m.modelPath) : undefined;
      if (typeof model !== 'string' || model === '') return rejected(`${m.name}: row has no model at ${m.modelPath ?? '(modelPath not set)'}`, row);
      const r = toModelInstrument(o.catalog, m.kind, model, m.modelMap);
      instrument = r.instrument;
      unknownModel = r.unknownModel;
    }
    let ts = o.receivedAt;
    let tsSource: 'source' | 'receipt' = 'receipt';
    if (m.tsPath) {
      const t = toEpochMs(getPath(row, m.tsPath));
      if (t === null) return rejected(`${m.name}: row has no readable time at ${m.tsPath}`, row);
      ts = t;
      tsSource = 'source';
    }
    return quoted({ v: 1, instrument, price, source: m.name, ts, tsSource, receivedAt: o.receivedAt, ...(unknownModel ? { unknownModel } : {}) }, row);
  });
}
