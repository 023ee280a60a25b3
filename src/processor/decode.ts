import type { ConsumedRecord } from '../bus/bus.ts';
import { toQuote, type Quote } from '../domain/market/quote.ts';
import { SheetVersionSchema, type Entity } from '../domain/sheet/sheet.ts';

/**
 * Decoding of the processor's input records. Bad input never throws: it comes back as a reason
 * for the dead-letter topic (STYLE.md 8).
 */
export type Decoded<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

function parseJson(buf: Buffer | null): Decoded<unknown> {
  if (buf === null) return { ok: false, reason: 'empty value' };
  try {
    return { ok: true, value: JSON.parse(buf.toString('utf8')) };
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
}

export function decodeQuote(r: ConsumedRecord): Decoded<Quote> {
  const j = parseJson(r.value);
  if (!j.ok) return j;
  const q = toQuote(j.value);
  if (!q.ok) return { ok: false, reason: `schema: ${q.reason}` };
  if (r.key !== null && r.key !== q.quote.instrument) return { ok: false, reason: `key ${r.key} does not match instrument ${q.quote.instrument}` };
  return { ok: true, value: q.quote };
}

/** An `entities` record: the entity's whole version list, or a tombstone (null) that removes it. */
export function decodeEntity(r: ConsumedRecord): Decoded<{ id: string; entity: Entity | null }> {
  if (r.key === null) return { ok: false, reason: 'entity record without key' };
  if (r.value === null) return { ok: true, value: { id: r.key, entity: null } };
  const j = parseJson(r.value);
  if (!j.ok) return j;
  const o = j.value as { id?: unknown; versions?: unknown };
  if (typeof o !== 'object' || o === null || !Array.isArray(o.versions)) return { ok: false, reason: 'entity record needs { id, versions: [...] }' };
  const versions = [];
  for (let i = 0; i < o.versions.length; i++) {
    const v = SheetVersionSchema.safeParse(o.versions[i]);
    if (!v.success) {
      const issue = v.error.issues[0];
      return { ok: false, reason: `versions[${i}].${issue?.path.join('.')}: ${issue?.message}` };
    }
    versions.push(v.data);
  }
  return { ok: true, value: { id: r.key, entity: { id: r.key, versions } } };
}
