import { resolveModel, type Catalog } from '../domain/sheet/catalog.ts';
import { rentalId, resaleId } from '../domain/market/instruments.ts';

/**
 * Maps a source's model spelling to an instrument id through the catalog's aliases. An unknown
 * model is kept and flagged: `rental:<sanitised raw name>` with `unknownModel` = the raw name, so the
 * processor can count it and the catalog can learn the alias.
 */
export function toModelInstrument(
  catalog: Catalog,
  kind: 'rental' | 'resale',
  rawName: string,
  modelMap: Readonly<Record<string, string>> = {},
): { instrument: string; unknownModel?: string } {
  const id = resolveModel(catalog, modelMap[rawName] ?? rawName);
  const make = kind === 'rental' ? rentalId : resaleId;
  if (id !== null) return { instrument: make(id) };
  return { instrument: make(sanitiseModel(rawName)), unknownModel: rawName };
}

/** Fits the instrument grammar `[A-Za-z0-9][A-Za-z0-9._-]*`: other characters become `-`. */
export function sanitiseModel(raw: string): string {
  const s = raw.trim().replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '').replace(/-+$/, '');
  return s === '' ? 'unknown' : s;
}
