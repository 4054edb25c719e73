import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Why a reader called the loader itself instead of using or filling the cache. */
export type DirectLoadReason = 'redis' | 'wait_timeout' | 'retry';
export type LeaseWaitOutcome = 'value' | 'timeout' | 'lease_gone';

/** Counters by name and entry, as `stats()` reports them. */
export type StatsSnapshot = Readonly<Record<string, number>>;

const DEFAULT_PREFIX = 'cdc_invalidator_client_';

function counter(registry: Registry, name: string, help: string, labelNames: string[]): Counter<string> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<string>;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

/**
 * The client's counters. Always kept in memory (`stats()`, keyed `name` and `name{entry}`), and exported
 * on a prom-client registry when one is given. Labels are bounded: the entry ids the application
 * declares, never a cache key.
 */
export class CacheMetrics {
  readonly #counts = new Map<string, number>();
  readonly #prom:
    | {
        readonly hits: Counter<string>;
        readonly negativeHits: Counter<string>;
        readonly l1Hits: Counter<string>;
        readonly misses: Counter<string>;
        readonly fills: Counter<string>;
        readonly fillDuration: Histogram<string>;
        readonly leaseWaits: Counter<string>;
        readonly rejected: Counter<string>;
        readonly earlyRefreshes: Counter<string>;
        readonly corrupt: Counter<string>;
        readonly redisErrors: Counter<string>;
        readonly loaderErrors: Counter<string>;
        readonly directLoads: Counter<string>;
        readonly coalesced: Counter<string>;
        readonly l1Invalidations: Counter<string>;
        readonly trackingUp: Gauge<string>;
      }
    | undefined;

  constructor(registry?: Registry, prefix = DEFAULT_PREFIX) {
    if (!registry) return;
    const n = (s: string): string => prefix + s;
    const fillDuration = registry.getSingleMetric(n('fill_duration_seconds')) as Histogram<string> | undefined;
    const trackingUp = registry.getSingleMetric(n('tracking_up')) as Gauge<string> | undefined;
    this.#prom = {
      hits: counter(registry, n('hits_total'), 'Reads answered from Redis with a value', ['entry']),
      negativeHits: counter(registry, n('negative_hits_total'), 'Reads answered with a cached "not found" (L1 or Redis)', ['entry']),
      l1Hits: counter(registry, n('l1_hits_total'), 'Reads answered from the in-process L1 (values and "not found")', ['entry']),
      misses: counter(registry, n('misses_total'), 'Reads that found nothing usable in Redis (empty, corrupt, or under an old version counter)', ['entry']),
      fills: counter(registry, n('fills_total'), 'Values stored by a lease-guarded fill or an early refresh', ['entry']),
      fillDuration:
        fillDuration ??
        new Histogram({
          name: n('fill_duration_seconds'),
          help: 'Time the loader took in a fill',
          labelNames: ['entry'],
          buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
          registers: [registry],
        }),
      leaseWaits: counter(registry, n('lease_waits_total'), "Waits for another filler's value, by outcome (value, timeout, lease_gone)", ['entry', 'outcome']),
      rejected: counter(registry, n('stale_fills_rejected_total'), 'Fills not stored because the key was invalidated (or the lease lost) after the lease was taken', ['entry']),
      earlyRefreshes: counter(registry, n('early_refreshes_total'), 'Background refreshes started before expiry (XFetch)', ['entry']),
      corrupt: counter(registry, n('corrupt_entries_total'), 'Stored values that could not be read (replaced by a fill)', ['entry']),
      redisErrors: counter(registry, n('redis_errors_total'), 'Redis calls that failed or timed out', ['entry']),
      loaderErrors: counter(registry, n('loader_errors_total'), 'Loader calls that threw (not cached)', ['entry']),
      directLoads: counter(registry, n('direct_loads_total'), 'Loader calls outside a fill, by reason (redis, wait_timeout, retry)', ['entry', 'reason']),
      coalesced: counter(registry, n('coalesced_total'), 'Reads that shared another read of the same key in this process (single-flight)', ['entry']),
      l1Invalidations: counter(registry, n('l1_invalidations_total'), 'L1 values dropped by Redis invalidation messages', []),
      trackingUp: trackingUp ?? new Gauge({ name: n('tracking_up'), help: '1 while the invalidation tracking connection is up (L1 in use)', registers: [registry] }),
    };
  }

  #add(name: string, entry: string | undefined, by = 1): void {
    this.#counts.set(name, (this.#counts.get(name) ?? 0) + by);
    if (entry !== undefined) this.#counts.set(`${name}{${entry}}`, (this.#counts.get(`${name}{${entry}}`) ?? 0) + by);
  }

  hit(entry: string, layer: 'l1' | 'redis', negative: boolean): void {
    if (layer === 'l1') {
      this.#add('l1_hits', entry);
      this.#prom?.l1Hits.inc({ entry });
    } else if (!negative) {
      this.#add('hits', entry);
      this.#prom?.hits.inc({ entry });
    }
    if (negative) {
      this.#add('negative_hits', entry);
      this.#prom?.negativeHits.inc({ entry });
    }
  }

  miss(entry: string): void {
    this.#add('misses', entry);
    this.#prom?.misses.inc({ entry });
  }

  fillDuration(entry: string, seconds: number): void {
    this.#prom?.fillDuration.observe({ entry }, seconds);
  }

  fill(entry: string): void {
    this.#add('fills', entry);
    this.#prom?.fills.inc({ entry });
  }

  rejected(entry: string): void {
    this.#add('stale_fills_rejected', entry);
    this.#prom?.rejected.inc({ entry });
  }

  leaseWait(entry: string, outcome: LeaseWaitOutcome): void {
    this.#add('lease_waits', entry);
    this.#add(`lease_waits_${outcome}`, entry);
    this.#prom?.leaseWaits.inc({ entry, outcome });
  }

  earlyRefresh(entry: string): void {
    this.#add('early_refreshes', entry);
    this.#prom?.earlyRefreshes.inc({ entry });
  }

  corrupt(entry: string): void {
    this.#add('corrupt_entries', entry);
    this.#prom?.corrupt.inc({ entry });
  }

  redisError(entry: string): void {
    this.#add('redis_errors', entry);
    this.#prom?.redisErrors.inc({ entry });
  }

  loaderError(entry: string): void {
    this.#add('loader_errors', entry);
    this.#prom?.loaderErrors.inc({ entry });
  }

  directLoad(entry: string, reason: DirectLoadReason): void {
    this.#add('direct_loads', entry);
    this.#add(`direct_loads_${reason}`, entry);
    this.#prom?.directLoads.inc({ entry, reason });
  }

  coalesced(entry: string): void {
    this.#add('coalesced', entry);
    this.#prom?.coalesced.inc({ entry });
  }

  l1Invalidated(n: number): void {
    if (n <= 0) return;
    this.#add('l1_invalidations', undefined, n);
    this.#prom?.l1Invalidations.inc(n);
  }

  tracking(up: boolean): void {
    this.#counts.set('tracking_up', up ? 1 : 0);
    this.#prom?.trackingUp.set(up ? 1 : 0);
  }

  snapshot(): StatsSnapshot {
    return Object.fromEntries(this.#counts);
  }
}
