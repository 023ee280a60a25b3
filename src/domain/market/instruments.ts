/**
 * Instrument ids, one grammar everywhere (ARCHITECTURE.md "Identifiers"): Kafka keys, InfluxDB
 * tags, CSV import and market files. `BTC`, `ETH`, `rental:<model>`, `resale:<model>`, `hashprice`.
 */
export const CRYPTO = ['BTC', 'ETH'] as const;
export type Crypto = (typeof CRYPTO)[number];

export type InstrumentKind = 'crypto' | 'rental' | 'resale' | 'hashprice';

export type Instrument =
  | { readonly kind: 'crypto'; readonly asset: Crypto }
  | { readonly kind: 'rental'; readonly model: string }
  | { readonly kind: 'resale'; readonly model: string }
  | { readonly kind: 'hashprice' };

const MODEL_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Parses an instrument id; returns null when it does not follow the grammar. */
export function parseInstrument(id: string): Instrument | null {
  if (id === 'BTC' || id === 'ETH') return { kind: 'crypto', asset: id };
  if (id === 'hashprice') return { kind: 'hashprice' };
  const i = id.indexOf(':');
  if (i < 0) return null;
  const prefix = id.slice(0, i);
  const model = id.slice(i + 1);
  if (!MODEL_RE.test(model)) return null;
  if (prefix === 'rental') return { kind: 'rental', model };
  if (prefix === 'resale') return { kind: 'resale', model };
  return null;
}

export const isInstrumentId = (id: string): boolean => parseInstrument(id) !== null;

export function toInstrumentId(i: Instrument): string {
  switch (i.kind) {
    case 'crypto':
      return i.asset;
    case 'rental':
      return `rental:${i.model}`;
    case 'resale':
      return `resale:${i.model}`;
    case 'hashprice':
      return 'hashprice';
    default: {
      const never: never = i;
      return never;
    }
  }
}

export const rentalId = (model: string): string => `rental:${model}`;
export const resaleId = (model: string): string => `resale:${model}`;
