/**
 * Locating parts of a JSON document in its bytes without building them. Used by the Debezium JSON
 * decoder to find where a Kafka Connect `schema` block ends, so that a block it has already seen
 * is compared as bytes instead of parsed again. skipValue returns -1 for input it does not
 * recognise as well-formed (the caller then falls back to JSON.parse, which reports the error).
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const COLON = 0x3a;
const COMMA = 0x2c;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function skipSpace(buf: Uint8Array, i: number, end: number): number {
  while (i < end && isSpace(buf[i]!)) i++;
  return i;
}

/** Index just past the string starting at `i` (a quote), or -1. */
function stringEnd(buf: Buffer, i: number, end: number): number {
  let j = i + 1;
  for (;;) {
    const q = buf.indexOf(QUOTE, j);
    if (q < 0 || q >= end) return -1;
    // the quote is escaped when an odd number of backslashes precede it
    let b = q - 1;
    while (b > i && buf[b] === BACKSLASH) b--;
    if ((q - 1 - b) % 2 === 0) return q + 1;
    j = q + 1;
  }
}

/**
 * Index just past the JSON value starting at `i` (leading whitespace allowed), or -1. Objects and
 * arrays are matched by depth with strings skipped; scalars end at the next delimiter (their
 * syntax is left to the parser that reads them).
 */
export function skipValue(buf: Buffer, i: number, end = buf.length): number {
  i = skipSpace(buf, i, end);
  if (i >= end) return -1;
  const c = buf[i]!;
  if (c === QUOTE) return stringEnd(buf, i, end);
  if (c !== LBRACE && c !== LBRACKET) {
    let j = i;
    while (j < end) {
      const d = buf[j]!;
      if (d === COMMA || d === RBRACE || d === RBRACKET || d === COLON || isSpace(d)) break;
      j++;
    }
    return j > i ? j : -1;
  }
  let depth = 0;
  for (let j = i; j < end; j++) {
    const d = buf[j]!;
    if (d === QUOTE) {
      j = stringEnd(buf, j, end);
      if (j < 0) return -1;
      j--;
    } else if (d === LBRACE || d === LBRACKET) depth++;
    else if (d === RBRACE || d === RBRACKET) {
      if (--depth === 0) return j + 1;
    }
  }
  return -1;
}

/** True when `buf` holds the bytes of `literal` at `at`. */
export function bytesAt(buf: Buffer, at: number, literal: Buffer): boolean {
  return at >= 0 && at + literal.length <= buf.length && buf.compare(literal, 0, literal.length, at, at + literal.length) === 0;
}
