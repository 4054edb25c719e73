import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { MappingSet } from '../mapping/mapping-set.js';
import { CacheConfigError } from './errors.js';
import type { CacheMappings } from './names.js';

/** How values of an entry are filled and kept. Client-wide `defaults`, overridable per entry. */
export interface FillPolicy {
  /** TTL of a value (ms). Default 300 000 (5 min). */
  readonly ttlMs?: number;
  /** Each TTL is drawn from [ttl × (1 − jitter), ttl]. Default 0.1; 0 turns jitter off. */
  readonly jitter?: number;
  /** TTL of a cached "not found" (the loader returned undefined), ms. Default 30 000; 0: "not found" is not cached. */
  readonly negativeTtlMs?: number;
  /** TTL of a lease (ms): a fill must be stored within this time after its lease was taken, or it is dropped. Default 5 000. */
  readonly leaseTtlMs?: number;
  /** Longest wait for another filler's value (in this process or another), ms. Default 3 000. */
  readonly waitMs?: number;
  /** After `waitMs`: `load` (default) calls the loader without storing; `error` rejects with CacheTimeoutError. */
  readonly onWaitTimeout?: 'load' | 'error';
  /** Longest a loader call may take before `get` rejects with CacheTimeoutError (its AbortSignal fires), ms. Default 10 000. */
  readonly loadTimeoutMs?: number;
  /** Probabilistic early refresh (XFetch): refresh in the background before expiry; `beta` > 1 refreshes earlier. Default off. */
  readonly earlyRefresh?: false | { readonly beta?: number };
  /** Loader errors to cache as "not found" (with `negativeTtlMs`); every other error is thrown and nothing is cached. */
  readonly negativeErrors?: (error: unknown) => boolean;
  /** Give each tag set a TTL that outlives its members (raised on every registration), so sets of expired keys do not grow forever. Default true. */
  readonly expireTagSets?: boolean;
}

export interface L1Options {
  /** Most values kept in the process. Default 10 000. */
  readonly maxEntries?: number;
  /** Longest a value stays in L1 even without an invalidation, ms. Default 60 000. */
  readonly maxAgeMs?: number;
  /** PING interval of the tracking connection, ms. Default 1 000. */
  readonly heartbeatMs?: number;
  /** A PING unanswered this long counts the tracking connection as lost, ms. Default 1 000. */
  readonly heartbeatTimeoutMs?: number;
}

export interface CacheClientOptions {
  /**
   * The application's ioredis client (a Redis, a Redis through Sentinel, or a Cluster). Recommended:
   * `enableOfflineQueue: false`, so an outage fails calls at once. The client never closes it.
   */
  readonly redis: Redis | Cluster;
  /** The worker's mapping files: a directory (loaded like `--mappings`), a MappingSet, or CacheMappings. */
  readonly mappings: string | MappingSet | CacheMappings;
  /** A pino logger; default silent. The client logs no key names and no values. */
  readonly logger?: Logger;
  /** A prom-client registry for the client's metrics; default none (counters stay in `stats()`). */
  readonly registry?: Registry;
  /** Metric name prefix. Default `cdc_invalidator_client_`. */
  readonly metricsPrefix?: string;
  /** Longest any one Redis call may take, ms. Default 500. */
  readonly redisTimeoutMs?: number;
  /** After a Redis failure, reads go straight to the loader for this long before Redis is tried again, ms. Default 1 000. */
  readonly redisRetryAfterMs?: number;
  readonly defaults?: FillPolicy;
  /** An in-process L1 invalidated through Redis client tracking (not on Redis Cluster). Default off. */
  readonly l1?: boolean | L1Options;
  /** Random numbers in [0, 1) for jitter and early refresh. Default Math.random. */
  readonly random?: () => number;
  /** Wall clock (ms since the epoch) for envelopes and TTLs. Default Date.now. */
  readonly now?: () => number;
}

export interface CompiledPolicy {
  readonly ttlMs: number;
  readonly jitter: number;
  readonly negativeTtlMs: number;
  readonly leaseTtlMs: number;
  readonly waitMs: number;
  readonly onWaitTimeout: 'load' | 'error';
  readonly loadTimeoutMs: number;
  readonly earlyRefreshBeta: number;
  readonly negativeErrors: ((error: unknown) => boolean) | undefined;
  readonly expireTagSets: boolean;
}

export interface CompiledL1 {
  readonly maxEntries: number;
  readonly maxAgeMs: number;
  readonly heartbeatMs: number;
  readonly heartbeatTimeoutMs: number;
}

export const DEFAULT_POLICY: CompiledPolicy = Object.freeze({
  ttlMs: 300_000,
  jitter: 0.1,
  negativeTtlMs: 30_000,
  leaseTtlMs: 5_000,
  waitMs: 3_000,
  onWaitTimeout: 'load',
  loadTimeoutMs: 10_000,
  earlyRefreshBeta: 0,
  negativeErrors: undefined,
  expireTagSets: true,
});

function positiveMs(v: number | undefined, fallback: number, what: string, min = 1): number {
  if (v === undefined) return fallback;
  if (!Number.isFinite(v) || v < min) throw new CacheConfigError(`${what}: expected a number of milliseconds ≥ ${min}, got ${v}`);
  return Math.round(v);
}

/** Validates a policy over a base (the client's defaults, or the built-in ones) into a frozen, complete one. */
export function compilePolicy(p: FillPolicy | undefined, base: CompiledPolicy, where: string): CompiledPolicy {
  if (!p) return base;
  const jitter = p.jitter ?? base.jitter;
  if (!Number.isFinite(jitter) || jitter < 0 || jitter >= 1) throw new CacheConfigError(`${where}: jitter must be in [0, 1), got ${jitter}`);
  const onWaitTimeout = p.onWaitTimeout ?? base.onWaitTimeout;
  if (onWaitTimeout !== 'load' && onWaitTimeout !== 'error') throw new CacheConfigError(`${where}: onWaitTimeout must be "load" or "error", got ${String(onWaitTimeout)}`);
  let beta = base.earlyRefreshBeta;
  if (p.earlyRefresh !== undefined) {
    beta = p.earlyRefresh === false ? 0 : (p.earlyRefresh.beta ?? 1);
    if (!Number.isFinite(beta) || beta < 0) throw new CacheConfigError(`${where}: earlyRefresh.beta must be ≥ 0, got ${beta}`);
  }
  if (p.negativeErrors !== undefined && typeof p.negativeErrors !== 'function') throw new CacheConfigError(`${where}: negativeErrors must be a function`);
  const compiled: CompiledPolicy = {
    ttlMs: positiveMs(p.ttlMs, base.ttlMs, `${where}: ttlMs`),
    jitter,
    negativeTtlMs: positiveMs(p.negativeTtlMs, base.negativeTtlMs, `${where}: negativeTtlMs`, 0),
    leaseTtlMs: positiveMs(p.leaseTtlMs, base.leaseTtlMs, `${where}: leaseTtlMs`, 10),
    waitMs: positiveMs(p.waitMs, base.waitMs, `${where}: waitMs`),
    onWaitTimeout,
    loadTimeoutMs: positiveMs(p.loadTimeoutMs, base.loadTimeoutMs, `${where}: loadTimeoutMs`),
    earlyRefreshBeta: beta,
    negativeErrors: p.negativeErrors ?? base.negativeErrors,
    expireTagSets: p.expireTagSets ?? base.expireTagSets,
  };
  return Object.freeze(compiled);
}

export function compileL1(l1: boolean | L1Options | undefined): CompiledL1 | undefined {
  if (l1 === undefined || l1 === false) return undefined;
  const o = l1 === true ? {} : l1;
  const maxEntries = o.maxEntries ?? 10_000;
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) throw new CacheConfigError(`l1.maxEntries: expected an integer ≥ 1, got ${maxEntries}`);
  return Object.freeze({
    maxEntries,
    maxAgeMs: positiveMs(o.maxAgeMs, 60_000, 'l1.maxAgeMs'),
    heartbeatMs: positiveMs(o.heartbeatMs, 1_000, 'l1.heartbeatMs', 10),
    heartbeatTimeoutMs: positiveMs(o.heartbeatTimeoutMs, 1_000, 'l1.heartbeatTimeoutMs', 10),
  });
}

export function compileTimeouts(o: CacheClientOptions): { redisTimeoutMs: number; redisRetryAfterMs: number } {
  return {
    redisTimeoutMs: positiveMs(o.redisTimeoutMs, 500, 'redisTimeoutMs'),
    redisRetryAfterMs: positiveMs(o.redisRetryAfterMs, 1_000, 'redisRetryAfterMs', 0),
  };
}
