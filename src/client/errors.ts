/**
 * Errors the cache client throws. Configuration and parameter errors name the mapping's file:line;
 * Redis trouble is never thrown to the caller of `get` (the loader is called instead).
 */

/** Bad options, an unknown mapping or template, a template the entry cannot use. Thrown when an entry is declared. */
export class CacheConfigError extends Error {
  override readonly name = 'CacheConfigError';
}

/** A call whose parameters do not render the entry's names (missing, null or non-scalar), or that names unknown ones. */
export class CacheParamError extends Error {
  override readonly name = 'CacheParamError';
}

/** A bounded wait ran out: the loader (`load`) or another filler's value (`wait`, with `onWaitTimeout: 'error'`). */
export class CacheTimeoutError extends Error {
  override readonly name = 'CacheTimeoutError';
  constructor(
    message: string,
    readonly what: 'load' | 'wait',
  ) {
    super(message);
  }
}
