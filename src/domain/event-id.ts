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

/** FNV-1a 64 of the UTF-8 encoding of `s`, as 16 hex characters. */
export function fnv1a64(s: string): string {
  let hi = OFFSET_HI;
  let lo = OFFSET_LO;
  const mix = (byte: number): void => {
    lo = (lo ^ byte) >>> 0;
    // (hi * 2^32 + lo) * (2^40 + 0x1b3) mod 2^64
    const loProduct = lo * PRIME_LO;
    const carry = Math.floor(loProduct / TWO_32);
    hi = (hi * PRIME_LO + carry + ((lo << 8) >>> 0)) >>> 0;
    lo = loProduct >>> 0;
  };
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
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
}

/** The event id of the event identified by `parts` (in order), e.g. `eventId('alert', entity, facility, rule, from, to, at)`. */
export const eventId = (...parts: readonly EventIdPart[]): string => fnv1a64(JSON.stringify(parts));
