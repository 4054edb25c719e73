/**
 * The bytes the cache client stores under a cache key. Two shapes, told apart by their prefix:
 *
 *   value:  `cdc1:` + header JSON + `\n` + payload        e.g. cdc1:{"t":1733070000000,"e":1733070300000,"d":3,"v":"17"}\n{"id":1,…}
 *   lease:  `cdc1-lease:` + token                          e.g. cdc1-lease:q3Kx0c2vT9mN1b8wZr4yHg
 *
 * Header fields (in this order; absent ones are left out):
 *   t  filled at, ms since the epoch (the filler's clock, when its compare-and-set was sent)
 *   e  expires at, ms since the epoch (t + the jittered TTL the value was stored with)
 *   d  how long the loader took, ms (scales probabilistic early refresh)
 *   v  the row version the value was read at, as text: the mapping's `version_column` (or xmin)
 *   c  version counters read before the fill, in the entry's order (entries checked against counters)
 *   n  1: "not found" (negative caching); the payload is empty
 *
 * The header is JSON without raw newlines and at most MAX_HEADER_BYTES long, so a reader that only
 * needs it (the worker's inspector) can `GETRANGE key 0 1023` and stop at the first `\n`. This module
 * has no dependencies: the worker can import it without the client.
 */

export const ENVELOPE_PREFIX = 'cdc1:';
export const LEASE_PREFIX = 'cdc1-lease:';
/** Upper bound of prefix + header + `\n`, in bytes. */
export const MAX_HEADER_BYTES = 1024;
/** Longest row version text recorded (longer ones are left out of the header). */
export const MAX_ROW_VERSION_LENGTH = 256;
/** Most version counters one header records. */
export const MAX_COUNTERS = 16;

export interface EnvelopeHeader {
  readonly filledAt: number;
  readonly expiresAt: number;
  readonly fillMs: number;
  readonly rowVersion?: string;
  readonly counters?: readonly number[];
  readonly notFound: boolean;
}

export type StoredEntry =
  | { readonly kind: 'value'; readonly header: EnvelopeHeader; readonly payload: string }
  | { readonly kind: 'lease'; readonly token: string }
  | { readonly kind: 'corrupt'; readonly reason: string };

export function leaseMarker(token: string): string {
  return LEASE_PREFIX + token;
}

/** The stored text of a value (or of a "not found" when payload is undefined). Throws RangeError on a header out of bounds. */
export function encodeEnvelope(header: EnvelopeHeader, payload: string | undefined): string {
  const h: Record<string, unknown> = { t: Math.round(header.filledAt), e: Math.round(header.expiresAt), d: Math.max(0, Math.round(header.fillMs)) };
  if (header.rowVersion !== undefined) {
    if (header.rowVersion.length > MAX_ROW_VERSION_LENGTH) throw new RangeError(`row version longer than ${MAX_ROW_VERSION_LENGTH} characters`);
    h['v'] = header.rowVersion;
  }
  if (header.counters !== undefined && header.counters.length > 0) {
    if (header.counters.length > MAX_COUNTERS) throw new RangeError(`more than ${MAX_COUNTERS} version counters`);
    h['c'] = header.counters;
  }
  if (header.notFound) h['n'] = 1;
  const head = `${ENVELOPE_PREFIX}${JSON.stringify(h)}\n`;
  if (Buffer.byteLength(head) > MAX_HEADER_BYTES) throw new RangeError(`envelope header longer than ${MAX_HEADER_BYTES} bytes`);
  return header.notFound ? head : head + (payload ?? '');
}

function isCount(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/** The header from its JSON text, or a reason why it is not one. */
function parseHeader(json: string): EnvelopeHeader | string {
  let h: unknown;
  try {
    h = JSON.parse(json);
  } catch {
    return 'header is not JSON';
  }
  if (typeof h !== 'object' || h === null || Array.isArray(h)) return 'header is not an object';
  const o = h as Record<string, unknown>;
  if (!isCount(o['t']) || !isCount(o['e']) || !isCount(o['d'])) return 'header lacks t, e or d';
  if (o['v'] !== undefined && typeof o['v'] !== 'string') return 'header v is not text';
  const c = o['c'];
  if (c !== undefined && !(Array.isArray(c) && c.length <= MAX_COUNTERS && c.every(isCount))) return 'header c is not a list of counters';
  if (o['n'] !== undefined && o['n'] !== 1) return 'header n is not 1';
  return {
    filledAt: o['t'],
    expiresAt: o['e'],
    fillMs: o['d'],
    ...(o['v'] !== undefined ? { rowVersion: o['v'] } : {}),
    ...(c !== undefined ? { counters: c } : {}),
    notFound: o['n'] === 1,
  };
}

/** Reads what a cache key holds. Anything that is neither a value envelope nor a lease marker is corrupt. */
export function readStored(raw: string): StoredEntry {
  if (raw.startsWith(LEASE_PREFIX)) {
    const token = raw.slice(LEASE_PREFIX.length);
    return token.length > 0 ? { kind: 'lease', token } : { kind: 'corrupt', reason: 'lease marker without a token' };
  }
  if (!raw.startsWith(ENVELOPE_PREFIX)) return { kind: 'corrupt', reason: 'not an envelope' };
  const nl = raw.indexOf('\n', ENVELOPE_PREFIX.length);
  if (nl < 0) return { kind: 'corrupt', reason: 'header not terminated' };
  const header = parseHeader(raw.slice(ENVELOPE_PREFIX.length, nl));
  if (typeof header === 'string') return { kind: 'corrupt', reason: header };
  const payload = raw.slice(nl + 1);
  if (header.notFound && payload.length > 0) return { kind: 'corrupt', reason: 'a "not found" with a payload' };
  return { kind: 'value', header, payload };
}

/**
 * The header from the first bytes of a stored value (`GETRANGE key 0 1023` is enough), for readers that
 * need no payload. Undefined when the bytes are not a value envelope (a lease, a foreign value, a cut header).
 */
export function readEnvelopeHeader(prefix: string | Buffer): EnvelopeHeader | undefined {
  const text = typeof prefix === 'string' ? prefix : prefix.subarray(0, MAX_HEADER_BYTES).toString('utf8');
  if (!text.startsWith(ENVELOPE_PREFIX)) return undefined;
  const nl = text.indexOf('\n', ENVELOPE_PREFIX.length);
  if (nl < 0) return undefined;
  const header = parseHeader(text.slice(ENVELOPE_PREFIX.length, nl));
  return typeof header === 'string' ? undefined : header;
}
