/**
 * cdc-invalidator/client — the application side of the invalidation protocol (docs/client.md):
 * cache-aside reads on ioredis whose keys, tag sets and version counters come from the worker's
 * mapping files, filled under leases that the worker's deletes void. No Kafka in here.
 */
export { CacheClient, createCacheClient, type EntrySpec } from './client.js';
export { CacheEntry, jsonCodec, type Codec, type FillHooks, type Inspection, type LoadContext, type Loader } from './entry.js';
export { physicalKey, type EntryNaming, type RenderedEntry } from './entry-spec.js';
export {
  ENVELOPE_PREFIX,
  LEASE_PREFIX,
  MAX_HEADER_BYTES,
  encodeEnvelope,
  leaseMarker,
  readEnvelopeHeader,
  readStored,
  type EnvelopeHeader,
  type StoredEntry,
} from './envelope.js';
export { CacheConfigError, CacheParamError, CacheTimeoutError } from './errors.js';
export type { StatsSnapshot } from './metrics.js';
export { CacheMappings, type ParamValue, type Params, type RenderedNames } from './names.js';
export type { CacheClientOptions, FillPolicy, L1Options } from './options.js';
export { coverPrefixes, literalPrefix } from './prefixes.js';
