/** The port the pipeline invalidates through. Implementations throw SinkError on failure. */
export interface InvalidationSink {
  /** Deletes the keys (UNLINK). Resolves only when the server acknowledged every one. */
  unlink(keys: readonly string[]): Promise<number>;
  /**
   * Deletes several groups of keys in one round trip; resolves with how many keys of each group
   * existed (UNLINK's replies). Optional: without it the worker calls `unlink` once per group.
   */
  unlinkEach?(groups: readonly (readonly string[])[]): Promise<number[]>;
  /**
   * Invalidates tag sets: deletes every member (a cache key) and the set, safe against an SADD
   * racing the purge and against a crash half-way (a retry or replay finishes the job).
   * Resolves with the number of members deleted.
   */
  purgeTags(tags: readonly string[]): Promise<number>;
  /** Bumps namespace version counters (INCR). */
  bumpVersions(versions: readonly string[]): Promise<void>;
  /**
   * Resolves when the server answers and can serve what the settings ask for; throws a fatal
   * SinkConfigError when it cannot (fewer replicas than --redis-wait-replicas).
   */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** `fatal`: retrying cannot help (permissions, wrong type, unknown command): stop the worker. */
export class SinkError extends Error {
  override readonly name: string = 'SinkError';
  constructor(message: string, readonly fatal: boolean, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Redis does not match the settings (too few replicas for --redis-wait-replicas): a configuration error (exit 78). */
export class SinkConfigError extends SinkError {
  override readonly name = 'SinkConfigError';
  constructor(message: string) {
    super(message, true);
  }
}

/**
 * The name a tag set is moved to while it is drained. It hashes to the tag's cluster slot (RENAMENX
 * needs both in one slot): a tag with a hash tag `{…}` keeps it as the first one; any other tag
 * becomes the hash tag itself.
 */
export function purgingName(tag: string): string {
  const open = tag.indexOf('{');
  const close = open >= 0 ? tag.indexOf('}', open + 1) : -1;
  const hasHashTag = open >= 0 && close > open + 1;
  if (hasHashTag) return `${tag}:purging`;
  if (!tag.includes('{') && !tag.includes('}')) return `{${tag}}:purging`;
  // Braces that form no hash tag: no name can share the tag's slot. Fine on one Redis; under
  // Redis Cluster such a tag fails with CROSSSLOT (the README says to avoid stray braces in tags).
  return `${tag}:purging`;
}
