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

// 64-bit arithmetic on two unsigned 32-bit halves (exact in doubles: every product < 2^53).
const OFFSET_HI = 0xcbf29ce4;
const OFFSET_LO = 0x84222325;
// The 64-bit FNV prime is 2^40 + 0x1b3.
const PRIME_LO = 0x1b3;
const TWO_32 = 0x1_0000_0000;

// The hash state between bytes: module variables, not a closure per call (the processor hashes
// a few ids per output: this is on its hot path).
let hashHi = 0;
let hashLo = 0;

/** Mixes one byte into the hash: (h ^ byte) * FNV prime, mod 2^64. */
function mix(byte: number): void {
  const lo = (hashLo ^ byte) >>> 0;
  // (hi * 2^32 + lo) * (2^40 + 0x1b3) mod 2^64: lo * 2^40 is (lo << 8) * 2^32
  const loProduct = lo * PRIME_LO;
  hashHi = (hashHi * PRIME_LO + Math.floor(loProduct / TWO_32) + ((lo << 8) >>> 0)) >>> 0;
  hashLo = loProduct >>> 0;
}

/** FNV-1a 64 of the UTF-8 encoding of `s`, as 16 hex characters. */
export function fnv1a64(s: string): string {
  hashHi = OFFSET_HI;
  hashLo = OFFSET_LO;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      mix(c);
    } else if (c < 0x800) {
      mix(0xc0 | (c >> 6));
      mix(0x80 | (c & 0x3f));
    } else {
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
          mix(0xf0 | (c >> 18));
          mix(0x80 | ((c >> 12) & 0x3f));
          mix(0x80 | ((c >> 6) & 0x3f));
          mix(0x80 | (c & 0x3f));
          continue;
        }
      }
      // A lone surrogate is encoded as U+FFFD, as TextEncoder does.
      if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
      mix(0xe0 | (c >> 12));
      mix(0x80 | ((c >> 6) & 0x3f));
      mix(0x80 | (c & 0x3f));
    }
  }
  return hex8(hashHi) + hex8(hashLo);
}

const hex8 = (n: number): string => n.toString(16).padStart(8, '0');

/** The event id of the event identified by `parts` (in order), e.g. `eventId('alert', entity, facility, rule, from, to, at)`. */
export const eventId = (...parts: readonly EventIdPart[]): string => fnv1a64(JSON.stringify(parts));
