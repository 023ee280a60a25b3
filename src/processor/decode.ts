import type { ConsumedRecord } from '../bus/bus.ts';
import { toQuote, type Quote } from '../domain/market/quote.ts';
import { QUOTE_LIMITS, quoteLimitProblem } from '../domain/market/quote-limits.ts';
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

/**
 * Live, how far ahead of the wall clock a quote's event time may be: one such quote would move the
 * watermark, and with it the processor clock, into the future for good (every index then stale).
 * Replays and `--no-ticks` runs have no wall clock to hold quotes to: only the absolute bounds apply.
 */
export interface QuoteTimeWindow {
  readonly nowMs: number;
  readonly maxAheadMs: number;
}

/**
 * A quote record: JSON, the schema, the key, then the bounds of every field
 * (src/domain/market/quote-limits.ts: what InfluxDB or a tag cannot take is a dead letter here, not
 * a write that fails for every chunk it is in) and, live, the window around the clock.
 */
export function decodeQuote(r: ConsumedRecord, window?: QuoteTimeWindow): Decoded<Quote> {
  const j = parseJson(r.value);
  if (!j.ok) return j;
  const q = toQuote(j.value);
  if (!q.ok) return { ok: false, reason: `schema: ${q.reason}` };
  if (r.key !== null && r.key !== q.quote.instrument) return { ok: false, reason: `key ${r.key.slice(0, QUOTE_LIMITS.maxInstrumentLength)} does not match instrument ${q.quote.instrument.slice(0, QUOTE_LIMITS.maxInstrumentLength)}` };
  const limit = quoteLimitProblem(q.quote);
  if (limit !== null) return { ok: false, reason: `bounds: ${limit}` };
  if (window !== undefined && q.quote.ts > window.nowMs + window.maxAheadMs) {
    return { ok: false, reason: `bounds: ts: event time ${new Date(q.quote.ts).toISOString()} is ${q.quote.ts - window.nowMs} ms ahead of the clock (allowance ${window.maxAheadMs} ms)` };
  }
  return { ok: true, value: q.quote };
}

/** How much of a record a dead letter keeps: the topic's messages stay far below Kafka's 1 MiB. */
export const DEAD_LETTER_RAW_CHARS = 64 * 1024;

/**
 * The raw value a dead letter carries: the record's text, cut at DEAD_LETTER_RAW_CHARS (a 1 MB
 * poison record, JSON-escaped inside the dead letter, would pass Kafka's message limit and make the
 * dead letter itself unwritable). `rawChars` says how long it was when cut.
 */
export function deadLetterRaw(value: Buffer | null): { raw: string | null; rawChars?: number } {
  if (value === null) return { raw: null };
  const text = value.toString('utf8');
  return text.length <= DEAD_LETTER_RAW_CHARS ? { raw: text } : { raw: text.slice(0, DEAD_LETTER_RAW_CHARS), rawChars: text.length };
}

/** The `source` a dead letter is keyed and tagged by: the record's own if it is a short printable name, else `invalid`. */
export function deadLetterSource(named: unknown, fallback: string): string {
  if (typeof named !== 'string') return fallback;
  return named.length > 0 && named.length <= QUOTE_LIMITS.maxSourceLength && /^[^\p{Cc}\p{Cs}]+$/u.test(named) ? named : 'invalid';
}

/** An `entities` record: the entity's whole version list, or a tombstone (null) that removes it. */
export function decodeEntity(r: ConsumedRecord): DecodedEntity {
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

export type DecodedEntity = Decoded<{ id: string; entity: Entity | null }>;

/**
 * `decodeEntity` for the processor's two readers of the `entities` topic: the entity ownership (the
 * owned partitions, into `step`'s state) and the contagion stage (the whole book). Each decoding of
 * a record makes new sheet objects: decoded by both, an owned entity's sheets were held twice
 * (about 19 MB for a book of 10,000). A record already decoded (same key, partition and offset as
 * the entity's latest one) gives back the same objects, so an entity is held once; sheets are never
 * mutated after decoding.
 */
export class EntityDecoder {
  /** Per entity id, its latest record decoded. */
  private readonly latest = new Map<string, { readonly partition: number; readonly offset: string; readonly entity: Entity }>();

  decode(r: ConsumedRecord): DecodedEntity {
    const held = r.key === null ? undefined : this.latest.get(r.key);
    if (held !== undefined && held.partition === r.partition && held.offset === r.offset) return { ok: true, value: { id: held.entity.id, entity: held.entity } };
    const d = decodeEntity(r);
    if (d.ok) {
      if (d.value.entity === null) this.latest.delete(d.value.id);
      else this.latest.set(d.value.id, { partition: r.partition, offset: r.offset, entity: d.value.entity });
    }
    return d;
  }
}

/** An `alert-state` record's value: `{ key, status, since, cureDeadline, asOf? }` (null: a tombstone). */
export function decodeAlertState(buf: Buffer | null): Decoded<{ key: string; status: string; since: number; cureDeadline: number | null; asOf?: number } | null> {
  if (buf === null) return { ok: true, value: null };
  const j = parseJson(buf);
  if (!j.ok) return j;
  const o = j.value as Record<string, unknown> | null;
  if (typeof o !== 'object' || o === null) return { ok: false, reason: 'alert state is not an object' };
  if (typeof o.key !== 'string' || typeof o.status !== 'string') return { ok: false, reason: 'alert state needs a string key and status' };
  if (typeof o.since !== 'number' || !Number.isFinite(o.since)) return { ok: false, reason: 'alert state needs a finite since' };
  if (o.cureDeadline !== null && (typeof o.cureDeadline !== 'number' || !Number.isFinite(o.cureDeadline))) return { ok: false, reason: 'alert state cureDeadline: a number or null' };
  if (o.asOf !== undefined && (typeof o.asOf !== 'number' || !Number.isFinite(o.asOf))) return { ok: false, reason: 'alert state asOf: a number' };
  return { ok: true, value: { key: o.key, status: o.status, since: o.since, cureDeadline: o.cureDeadline, ...(o.asOf === undefined ? {} : { asOf: o.asOf }) } };
}
