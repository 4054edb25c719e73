import type { Cluster, Redis } from 'ioredis';
import pino from 'pino';
import { MappingSet } from '../mapping/mapping-set.js';
import { RateLimitedWarn } from '../telemetry/rate-limited.js';
import { CacheEntry, jsonCodec, type Codec, type EntryContext, type FillHooks, type L1Value, type Loader } from './entry.js';
import { resolveNaming, type EntryNaming } from './entry-spec.js';
import { CacheConfigError } from './errors.js';
import { L1Cache } from './l1.js';
import { CacheMetrics, type StatsSnapshot } from './metrics.js';
import { CacheMappings, type Params, type RenderedNames } from './names.js';
import { compileL1, compilePolicy, compileTimeouts, DEFAULT_POLICY, type CacheClientOptions, type CompiledPolicy, type FillPolicy } from './options.js';
import { CacheStore } from './store.js';
import { InvalidationTracker } from './tracking.js';
import { KeyWakeups } from './wakeups.js';

/** What an entry is declared with: its names (from a mapping), its loader, and how values are kept. */
export interface EntrySpec<T, P extends Params = Params> extends EntryNaming, FillPolicy {
  /** Reads the database; `get(params, loader)` may pass another one per call. */
  readonly load?: Loader<T, P>;
  /** How values become stored text and back. Default JSON. */
  readonly codec?: Codec<T>;
  /** The row version of a value for its envelope. Default: the mapping's `version_column` of the value, if it is an object that has it. */
  readonly rowVersion?: (value: T) => unknown;
  /** Keep values in L1 (when the client has one). Default true; entries whose key starts with a column never use L1. */
  readonly l1?: boolean;
  readonly hooks?: FillHooks;
}

/**
 * The application side of cdc-invalidator: cache-aside reads whose keys, tag sets and version counters
 * come from the worker's own mapping files, filled under leases the worker's deletes void.
 */
export class CacheClient {
  readonly mappings: CacheMappings;
  readonly #redis: Redis | Cluster;
  readonly #ctx: EntryContext;
  readonly #policy: CompiledPolicy;
  readonly #metrics: CacheMetrics;
  readonly #l1: L1Cache<L1Value> | undefined;
  readonly #tracker: InvalidationTracker | undefined;
  readonly #listeners = new Set<(keys: readonly string[] | null) => void>();
  readonly #entries = new Map<string, CacheEntry<unknown, Params>>();
  #closed = false;

  constructor(opts: CacheClientOptions, mappings: CacheMappings) {
    const redis = opts.redis as (Redis | Cluster) | undefined;
    // Duck-typed: the application's ioredis may be another copy of the package than ours.
    if (typeof redis?.evalsha !== 'function' || typeof redis.duplicate !== 'function') throw new CacheConfigError('redis: expected an ioredis Redis or Cluster client');
    const isCluster = redis.isCluster;
    const keyPrefix = (redis.options as { keyPrefix?: string }).keyPrefix;
    if (keyPrefix) throw new CacheConfigError(`redis: the client has keyPrefix "${keyPrefix}"; the worker deletes the keys its mappings name, so the cache client must use the same names (put the prefix into the templates)`);
    const l1Options = compileL1(opts.l1);
    if (l1Options && isCluster) {
      throw new CacheConfigError('l1: not available on Redis Cluster (every master would need its own tracking connection, kept in step with the slot map); use l1 with one Redis or Sentinel, or go without');
    }
    const timeouts = compileTimeouts(opts);
    const logger = opts.logger ?? pino({ level: 'silent' });
    if ((redis.options as { enableOfflineQueue?: boolean }).enableOfflineQueue !== false) {
      logger.info('cache client: the Redis client queues commands while disconnected (enableOfflineQueue); calls are still bounded by redisTimeoutMs, but enableOfflineQueue: false fails them at once during an outage');
    }
    this.mappings = mappings;
    this.#redis = redis;
    this.#policy = compilePolicy(opts.defaults, DEFAULT_POLICY, 'defaults');
    this.#metrics = new CacheMetrics(opts.registry, opts.metricsPrefix);
    const wakeups = new KeyWakeups();
    this.#l1 = l1Options ? new L1Cache<L1Value>(l1Options.maxEntries, l1Options.maxAgeMs, opts.now ?? Date.now) : undefined;
    if (l1Options && !isCluster) {
      this.#tracker = new InvalidationTracker(redis as Redis, {
        heartbeatMs: l1Options.heartbeatMs,
        heartbeatTimeoutMs: l1Options.heartbeatTimeoutMs,
        logger,
        onInvalidate: (keys) => {
          const dropped = keys === null ? (this.#l1?.clear() ?? 0) : (this.#l1?.invalidate(keys) ?? 0);
          this.#metrics.l1Invalidated(dropped);
          wakeups.notify(keys);
          for (const l of this.#listeners) l(keys);
        },
        onState: (up) => this.#metrics.tracking(up),
      });
      this.#metrics.tracking(false);
    }
    let seq = 0;
    let downUntil = 0;
    const now = opts.now ?? Date.now;
    const warn = new RateLimitedWarn(logger);
    this.#ctx = {
      store: new CacheStore(redis, timeouts.redisTimeoutMs),
      metrics: this.#metrics,
      logger,
      warn,
      l1: this.#l1,
      tracker: this.#tracker,
      wakeups,
      background: new Set(),
      random: opts.random ?? Math.random,
      now,
      nextSeq: () => ++seq,
      redisUsable: () => performance.now() >= downUntil,
      redisFailed: (e, entry) => {
        this.#metrics.redisError(entry);
        downUntil = performance.now() + timeouts.redisRetryAfterMs;
        const message = e instanceof Error ? e.message : String(e);
        warn.warn(`redis:${entry}`, { entry, err: { message } }, 'cache client: Redis call failed; reading through to the loader');
      },
    };
    this.#tracker?.start();
  }

  /**
   * Declares an entry: what it is named after (a mapping key, or a name of its own with tags/versions),
   * its loader and policy. Wrong mapping, template or option names throw CacheConfigError naming the
   * mapping's file:line.
   */
  entry<T, P extends Params = Params>(spec: EntrySpec<T, P>): CacheEntry<T, P> {
    if (this.#closed) throw new CacheConfigError('the cache client is closed');
    const naming = resolveNaming(this.mappings.mapping(spec.mapping), spec);
    if (this.#entries.has(naming.id)) throw new CacheConfigError(`an entry with id "${naming.id}" exists already (give one of them another id)`);
    const policy = compilePolicy(spec, this.#policy, `entry ${naming.id}`);
    if (policy.leaseTtlMs < 10) throw new CacheConfigError(`entry ${naming.id}: leaseTtlMs too small`);
    const useL1 = this.#l1 !== undefined && spec.l1 !== false && naming.keyPrefix !== '';
    if (spec.l1 === true && this.#l1 !== undefined && naming.keyPrefix === '') {
      throw new CacheConfigError(`entry ${naming.id}: "${naming.template.source}" starts with a column, so no key prefix can be tracked: it cannot use L1 (l1: false)`);
    }
    if (useL1) this.#tracker?.track([naming.keyPrefix, ...naming.versionPrefixes.filter((p) => p !== '')]);
    const entry = new CacheEntry<T, P>(this.#ctx, {
      naming,
      policy,
      load: spec.load,
      codec: spec.codec ?? (jsonCodec as Codec<T>),
      rowVersion: spec.rowVersion,
      useL1,
      hooks: spec.hooks ?? {},
    });
    this.#entries.set(naming.id, entry as unknown as CacheEntry<unknown, Params>);
    return entry;
  }

  /** What the worker invalidates when this row of the mapping's table changes (its key, tag and version names). */
  names(mapping: string, row: Params): RenderedNames {
    return this.mappings.render(mapping, row);
  }

  /** Counters since start: `name` and `name{entry}` (hits, misses, fills, stale_fills_rejected, lease_waits, …). */
  stats(): StatsSnapshot {
    return this.#metrics.snapshot();
  }

  /** Whether L1 is in use right now (tracking connection up); false without L1. */
  get l1Active(): boolean {
    return this.#tracker?.up ?? false;
  }

  /** Values in L1 now. */
  get l1Size(): number {
    return this.#l1?.size ?? 0;
  }

  /** Whether L1 holds this physical key now (diagnostics, tests). */
  l1Has(key: string): boolean {
    return this.#l1?.has(key) ?? false;
  }

  /** The key prefixes Redis reports changes of to this client (L1). */
  get trackedPrefixes(): readonly string[] {
    return this.#tracker?.prefixes ?? [];
  }

  /** Resolves true once L1's tracking connection is up (false after timeoutMs, or without L1). */
  async waitForTracking(timeoutMs = 5_000): Promise<boolean> {
    return this.#tracker ? this.#tracker.waitUp(timeoutMs) : false;
  }

  /** Called with the keys of every invalidation Redis reports (null: everything); L1 only. Returns an unsubscribe function. */
  onInvalidation(listener: (keys: readonly string[] | null) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Stops tracking and waits (at most timeoutMs) for background refreshes. Does not close the application's Redis client. */
  async close(timeoutMs = 5_000): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#tracker?.close();
    const pending = [...this.#ctx.background];
    if (pending.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled(pending), new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
      clearTimeout(timer);
    }
    this.#l1?.clear();
    this.#listeners.clear();
  }

  /** The ioredis client the cache uses (the application's). */
  get redis(): Redis | Cluster {
    return this.#redis;
  }
}

/** Builds a CacheClient, loading the mappings first when given a directory. */
export async function createCacheClient(opts: CacheClientOptions): Promise<CacheClient> {
  const m = opts.mappings;
  const mappings = typeof m === 'string' ? await CacheMappings.fromDirectory(m) : m instanceof MappingSet ? new CacheMappings(m) : m;
  if (!(mappings instanceof CacheMappings)) throw new CacheConfigError('mappings: expected a directory, a MappingSet or CacheMappings');
  return new CacheClient(opts, mappings);
}
