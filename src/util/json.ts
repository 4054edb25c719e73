import { parse as parseLossless, stringify as stringifyLossless } from 'lossless-json';

const INTEGER = /^-?\d+$/;

function exactNumber(text: string): number | bigint {
  const n = Number(text);
  if (INTEGER.test(text) && !Number.isSafeInteger(n)) return BigInt(text);
  return n;
}

/** JSON.parse that keeps integers beyond 2^53 exact (as bigint). About 5× slower than JSON.parse. */
export function parseJsonExact(text: string): unknown {
  return parseLossless(text, null, exactNumber);
}

/** True when a number lost precision in JSON.parse (an integer literal beyond 2^53). */
export function isUnsafeInteger(v: unknown): boolean {
  return typeof v === 'number' && Number.isInteger(v) && !Number.isSafeInteger(v);
}

/** JSON text of a value, int64 literals (bigint or lossless numbers) kept exact; strings are taken as JSON text already. */
export function jsonBuffer(v: unknown): Buffer | null {
  if (v === null || v === undefined) return null;
  return Buffer.from(typeof v === 'string' ? v : (stringifyLossless(v) ?? ''));
}
