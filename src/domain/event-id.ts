/**
 * Deterministic event ids (ARCHITECTURE.md "Kafka contracts": `eventId` is a hash of what
 * identifies the event, so anything downstream can drop a redelivered copy).
 *
 * FNV-1a, 64-bit (http://www.isthe.com/chongo/tech/comp/fnv/), over the UTF-8 bytes of a
 * canonical string: the JSON array of the identifying parts. JSON keeps the parts unambiguous
 * (a part may contain any separator) and distinguishes `null` from `"null"` and `1` from `"1"`.
 * No node:crypto: the domain imports nothing but itself and zod (.dependency-cruiser.cjs), and a
 * 64-bit non-cryptographic hash is plenty to tell apart the events of one stream.
 * Result: 16 lower-case hex characters.
 */

export type EventIdPart = string | number | boolean | null;

// 64-bit arithmetic on four 16-bit limbs (h0 lowest): every product stays a small integer, so
// the whole hash runs on 32-bit integer arithmetic. The FNV prime 2^40 + 0x1b3 has the limbs
// 0x1b3, 0, 0x100, 0 (2^40 = 0x100 in the third limb).
const OFFSET = [0x2325, 0x8422, 0x9ce4, 0xcbf2] as const;

const utf8 = new TextEncoder();

/** FNV-1a 64 of the UTF-8 encoding of `s`, as 16 hex characters. */
export function fnv1a64(s: string): string {
  // ASCII (every id the processor makes) is hashed straight from the string's char codes; anything
  // else from its UTF-8 bytes (a lone surrogate is encoded as U+FFFD, as TextEncoder does).
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return fnvBytes(utf8.encode(s));
  let h0: number = OFFSET[0];
  let h1: number = OFFSET[1];
  let h2: number = OFFSET[2];
  let h3: number = OFFSET[3];
  for (let i = 0; i < s.length; i++) {
    h0 ^= s.charCodeAt(i);
    const t0 = h0 * 0x1b3;
    const t1 = h1 * 0x1b3 + (t0 >>> 16);
    const t2 = h2 * 0x1b3 + (h0 << 8) + (t1 >>> 16);
    h3 = (h3 * 0x1b3 + (h1 << 8) + (t2 >>> 16)) & 0xffff;
    h0 = t0 & 0xffff;
    h1 = t1 & 0xffff;
    h2 = t2 & 0xffff;
  }
  return hex8(h3 * 0x10000 + h2) + hex8(h1 * 0x10000 + h0);
}

/** FNV-1a 64 of some bytes (as fnv1a64). */
function fnvBytes(bytes: Uint8Array): string {
  let h0: number = OFFSET[0];
  let h1: number = OFFSET[1];
  let h2: number = OFFSET[2];
  let h3: number = OFFSET[3];
  for (let i = 0; i < bytes.length; i++) {
    h0 ^= bytes[i];
    const t0 = h0 * 0x1b3;
    const t1 = h1 * 0x1b3 + (t0 >>> 16);
    const t2 = h2 * 0x1b3 + (h0 << 8) + (t1 >>> 16);
    h3 = (h3 * 0x1b3 + (h1 << 8) + (t2 >>> 16)) & 0xffff;
    h0 = t0 & 0xffff;
    h1 = t1 & 0xffff;
    h2 = t2 & 0xffff;
  }
  return hex8(h3 * 0x10000 + h2) + hex8(h1 * 0x10000 + h0);
}

const hex8 = (n: number): string => n.toString(16).padStart(8, '0');

/** The event id of the event identified by `parts` (in order), e.g. `eventId('alert', entity, facility, rule, from, to, at)`. */
export const eventId = (...parts: readonly EventIdPart[]): string => fnv1a64(JSON.stringify(parts));
