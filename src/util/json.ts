import { parse as parseLossless } from 'lossless-json';

// Integers beyond 2^53 (int64 ids) lose precision in JSON.parse and would render a wrong key.
// 16 consecutive digits is the cheapest test that catches every such literal; text that matches
// (a long digit run inside a string, say) merely takes the slower exact parser.
const LONG_DIGITS = /\d{16,}/;
const INTEGER = /^-?\d+$/;

function exactNumber(text: string): number | bigint {
  const n = Number(text);
  if (INTEGER.test(text) && !Number.isSafeInteger(n)) return BigInt(text);
  return n;
}

/** JSON.parse that keeps integers beyond 2^53 exact (as bigint). */
export function parseJsonExact(text: string): unknown {
  if (!LONG_DIGITS.test(text)) return JSON.parse(text);
  return parseLossless(text, null, exactNumber);
}
