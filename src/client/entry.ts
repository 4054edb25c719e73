import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { RateLimitedWarn } from '../telemetry/rate-limited.js';
import { encodeEnvelope, leaseMarker, MAX_ROW_VERSION_LENGTH, readStored, type EnvelopeHeader } from './envelope.js';
import { physicalKey, renderEntry, type RenderedEntry, type ResolvedNaming } from './entry-spec.js';
import { CacheConfigError, CacheTimeoutError } from './errors.js';
import type { L1Cache, L1Ticket } from './l1.js';
import type { CacheMetrics, DirectLoadReason } from './metrics.js';
import type { Params } from './names.js';
import type { CompiledPolicy } from './options.js';
import type { CacheStore } from './store.js';
import { jitteredTtl, shouldRefreshEarly, withDeadline } from './timing.js';
import type { InvalidationTracker } from './tracking.js';
import type { KeyWakeups } from './wakeups.js';

export interface LoadContext {
  /** Aborted when the call's `loadTimeoutMs` runs out. */
  readonly signal: AbortSignal;
}

/** Reads the database. `undefined` means "not found" (cached as such for `negativeTtlMs`). */
export type Loader<T, P extends Params = Params> = (params: P, ctx: LoadContext) => Promise<T | undefined>;

/** How values become stored text and back. Default JSON. */
export interface Codec<T> {
  encode(value: T): string;
  decode(text: string): T;
}

export const jsonCodec: Codec<unknown> = { encode: (v) => JSON.stringify(v), decode: (s) => JSON.parse(s) as unknown };

/**
 * Pause points inside a fill, for tests and the consistency lab: each runs (and is awaited) at its step
 * with the physical key. `leased`: the lease is ours; `registered`: the key joined its tag sets, the
 * loader is next; `loaded`: the loader returned, the compare-and-set is next.
 */
export interface FillHooks {
  readonly leased?: (key: string) => void | Promise<void>;
  readonly registered?: (key: string) => void | Promise<void>;
  readonly loaded?: (key: string) => void | Promise<void>;
}

/** What L1 holds: decoded values (with their envelope header) and version counters. */
export type L1Value = { readonly kind: 'value'; readonly value: unknown; readonly header: EnvelopeHeader } | { readonly kind: 'counter'; readonly n: number };

/** What an entry shares with the client that made it. */
export interface EntryContext {
  readonly store: CacheStore;
  readonly metrics: CacheMetrics;
  readonly logger: Logger;
  readonly warn: RateLimitedWarn;
  readonly l1: L1Cache<L1Value> | undefined;
  readonly tracker: InvalidationTracker | undefined;
  readonly wakeups: KeyWakeups;
  readonly background: Set<Promise<void>>;
  readonly random: () => number;
  readonly now: () => number;
  /** A process-wide increasing number: orders joins against loader calls. */
  nextSeq(): number;
  /** False while Redis is skipped after a failure. */
  redisUsable(): boolean;
  redisFailed(error: unknown, entry: string): void;
}

/** What an entry was declared with, compiled. */
export interface EntryConfig<T, P extends Params> {
  readonly naming: ResolvedNaming;
  readonly policy: CompiledPolicy;
  readonly load: Loader<T, P> | undefined;
  readonly codec: Codec<T>;
  readonly rowVersion: ((value: T) => unknown) | undefined;
  readonly useL1: boolean;
  readonly hooks: FillHooks;
}

/** The state of one key, as `inspect` reads it. */
export interface Inspection {
  readonly key: string;
  readonly physicalKey: string;
  readonly state: 'value' | 'not_found' | 'lease' | 'corrupt' | 'missing';
  readonly header?: EnvelopeHeader;
  /** Remaining TTL in Redis, ms (undefined when missing or without TTL). */
  readonly ttlMs?: number;
}

interface Outcome {
  readonly value: unknown;
  /** Joiners that joined after the loader was called may use it: stored by compare-and-set (or a read from Redis). */
  readonly confirmed: boolean;
}

interface Flight {
  promise: Promise<Outcome>;
  /** Set when this flight calls the loader; joiners from before may use any outcome. */
  loadSeq: number | undefined;
}

/** Loops that wait or retry are bounded in count as well as in time. */
const MAX_STEPS = 32;
const MAX_POLLS = 1_000;
const MAX_ATTEMPTS = 3;
const WAIT_TIMEOUT = Symbol('wait timeout');

function sameCounters(a: readonly number[] | undefined, b: readonly number[]): boolean {
  const x = a ?? [];
  return x.length === b.length && x.every((v, i) => v === b[i]);
}

function versionText(v: unknown): string | undefined {
  if (v === null || v === undefined) return undefined;
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  return undefined;
}

/**
 * One kind of cached thing: its names come from a mapping, its values from a loader. `get` is
 * cache-aside with a lease in the key itself (see docs/client.md for the protocol and its proof):
 * a miss puts a lease marker under the key (SET only if empty), joins the tag sets, reads the database
 * and stores the value only if the marker is still there (compare-and-set). The worker's UNLINK of the
 * key — first pass, second pass, or a tag purge — removes the marker, so a fill whose read may predate
 * a change is never stored.
 */
export class CacheEntry<T, P extends Params = Params> {
  readonly id: string;
  readonly #flights = new Map<string, Flight>();
  readonly #refreshing = new Set<string>();

  constructor(
    private readonly ctx: EntryContext,
    private readonly cfg: EntryConfig<T, P>,
  ) {
    this.id = cfg.naming.id;
  }

  /** The mapping this entry's names come from. */
  get mapping(): string {
    return this.cfg.naming.mapping.name;
  }

  /** The names these parameters render (the key before version counters, tag sets, counters). Throws CacheParamError. */
  names(params: P): RenderedEntry {
    return renderEntry(this.cfg.naming, params);
  }

  /**
   * The value for these parameters: from L1, from Redis, or from the loader (`loader`, else the entry's
   * `load`) under a lease. Resolves undefined for "not found". Redis trouble never rejects: the loader is
   * called instead. Rejects with the loader's error (not cached), CacheParamError for bad parameters,
   * CacheTimeoutError when the loader overruns `loadTimeoutMs`.
   */
  async get(params: P, loader?: Loader<T, P>): Promise<T | undefined> {
    const load = loader ?? this.cfg.load;
    if (!load) throw new CacheConfigError(`entry ${this.id}: no loader (give load when declaring the entry, or pass one to get)`);
    const names = renderEntry(this.cfg.naming, params);
    return (await this.#get(names, params, load, 1)) as T | undefined;
  }

  /** Deletes the key (under the current version counters) in Redis and L1: for the application's own writes. Rejects on Redis errors. */
  async delete(params: P): Promise<boolean> {
    const names = renderEntry(this.cfg.naming, params);
    const counters = this.cfg.naming.versionMode === 'embed' ? await this.#counters(names.versions) : [];
    const key = this.#physical(names, counters);
    this.ctx.l1?.invalidate([key]);
    return (await this.ctx.store.unlink(key)) > 0;
  }

  /** Reads what Redis holds for these parameters, filling nothing. Rejects on Redis errors. */
  async inspect(params: P): Promise<Inspection> {
    const names = renderEntry(this.cfg.naming, params);
    const counters = this.cfg.naming.versionMode === 'embed' ? await this.#counters(names.versions) : [];
    const key = this.#physical(names, counters);
    const [raw, pttl] = await Promise.all([this.ctx.store.get(key), this.ctx.store.pttl(key)]);
    const ttlMs = pttl >= 0 ? pttl : undefined;
    const base = { key: names.key, physicalKey: key, ...(ttlMs !== undefined ? { ttlMs } : {}) };
    if (raw === null) return { ...base, state: 'missing' };
    const s = readStored(raw);
    if (s.kind === 'lease') return { ...base, state: 'lease' };
    if (s.kind === 'corrupt') return { ...base, state: 'corrupt' };
    return { ...base, state: s.header.notFound ? 'not_found' : 'value', header: s.header };
  }

  #physical(names: RenderedEntry, counters: readonly number[]): string {
    return this.cfg.naming.versionMode === 'embed' ? physicalKey(names.key, counters) : names.key;
  }

  #l1For(key: string): L1Cache<L1Value> | undefined {
    const { l1, tracker } = this.ctx;
    return l1 && this.cfg.useL1 && tracker?.covers(key) ? l1 : undefined;
  }

  async #get(names: RenderedEntry, params: P, load: Loader<T, P>, attempt: number): Promise<unknown> {
    const { ctx } = this;
    const direct = (flight: Flight): Promise<Outcome> => this.#directOutcome(params, load, flight);
    if (!ctx.redisUsable()) return this.#shared(names.key, direct, names, params, load, attempt);
    let counters: number[] = [];
    if (names.versions.length > 0) {
      try {
        counters = await this.#counters(names.versions);
      } catch (e) {
        ctx.redisFailed(e, this.id);
        return this.#shared(names.key, direct, names, params, load, attempt);
      }
    }
    const key = this.#physical(names, counters);
    const cached = this.#l1For(key)?.get(key);
    if (cached?.kind === 'value' && (this.cfg.naming.versionMode === 'embed' || sameCounters(cached.header.counters, counters))) {
      ctx.metrics.hit(this.id, 'l1', cached.header.notFound);
      return cached.value;
    }
    return this.#shared(key, (flight) => this.#lookup(names, key, counters, params, load, flight), names, params, load, attempt);
  }

  /** Single-flight: the first caller for a key runs `run`; callers that come while it runs join it. */
  async #shared(key: string, run: (flight: Flight) => Promise<Outcome>, names: RenderedEntry, params: P, load: Loader<T, P>, attempt: number): Promise<unknown> {
    const existing = this.#flights.get(key);
    if (existing) return this.#join(existing, names, params, load, attempt);
    const flight: Flight = { promise: Promise.resolve({ value: undefined, confirmed: false }), loadSeq: undefined };
    flight.promise = run(flight);
    this.#flights.set(key, flight);
    try {
      return (await flight.promise).value;
    } finally {
      if (this.#flights.get(key) === flight) this.#flights.delete(key);
    }
  }

  /** Another call in this process is reading the same key: wait for it (bounded). */
  async #join(flight: Flight, names: RenderedEntry, params: P, load: Loader<T, P>, attempt: number): Promise<unknown> {
    const joined = this.ctx.nextSeq();
    this.ctx.metrics.coalesced(this.id);
    let outcome: Outcome;
    try {
      outcome = await withDeadline(flight.promise, this.cfg.policy.waitMs, () => Object.assign(new Error('wait'), { [WAIT_TIMEOUT]: true }));
    } catch (e) {
      if (e instanceof Error && WAIT_TIMEOUT in e) {
        this.ctx.metrics.leaseWait(this.id, 'timeout');
        return this.#waitTimedOut(params, load, undefined);
      }
      throw e; // the loader's error, seen by every caller that shared the load
    }
    // A value the fill could not store may predate a change that committed after this caller arrived;
    // it is good for callers that were there before the loader read the database.
    if (outcome.confirmed || (flight.loadSeq !== undefined && joined < flight.loadSeq)) return outcome.value;
    if (attempt < MAX_ATTEMPTS) return this.#get(names, params, load, attempt + 1);
    return this.#direct(params, load, 'retry', undefined);
  }

  async #lookup(names: RenderedEntry, key: string, counters: readonly number[], params: P, load: Loader<T, P>, flight: Flight): Promise<Outcome> {
    const l1 = this.#l1For(key);
    const ticket = l1?.ticket(key);
    try {
      let raw: string | null;
      try {
        raw = await this.ctx.store.get(key);
      } catch (e) {
        return await this.#redisDown(e, params, load, flight);
      }
      return await this.#resolve(raw, names, key, counters, params, load, flight, ticket);
    } finally {
      if (ticket) l1?.release(ticket);
    }
  }

  async #resolve(
    first: string | null,
    names: RenderedEntry,
    key: string,
    counters: readonly number[],
    params: P,
    load: Loader<T, P>,
    flight: Flight,
    ticket: L1Ticket | undefined,
  ): Promise<Outcome> {
    const { ctx, cfg } = this;
    const deadline = ctx.now() + cfg.policy.waitMs;
    let raw = first;
    let missCounted = false;
    let waiting = false;
    for (let step = 0; step < MAX_STEPS; step++) {
      const stored = raw === null ? undefined : readStored(raw);
      let unusable: string | undefined; // why a stored value cannot be used (it is then replaced)
      if (stored?.kind === 'value') {
        if (cfg.naming.versionMode === 'check' && !sameCounters(stored.header.counters, counters)) {
          unusable = 'outdated';
        } else {
          let value: unknown;
          try {
            value = stored.header.notFound ? undefined : cfg.codec.decode(stored.payload);
          } catch (e) {
            unusable = `payload does not decode: ${(e as Error).message}`;
          }
          if (unusable === undefined) {
            if (waiting) ctx.metrics.leaseWait(this.id, 'value');
            else ctx.metrics.hit(this.id, 'redis', stored.header.notFound);
            if (ticket) ctx.l1?.set(ticket, { kind: 'value', value, header: stored.header }, stored.header.expiresAt - ctx.now());
            this.#maybeRefresh(raw!, stored.header, names, key, counters, params, load);
            return { value, confirmed: true };
          }
        }
      } else if (stored?.kind === 'lease') {
        waiting = true;
        let next: string | null | typeof WAIT_TIMEOUT;
        try {
          next = await this.#waitForChange(key, raw!, deadline);
        } catch (e) {
          return await this.#redisDown(e, params, load, flight);
        }
        if (next === WAIT_TIMEOUT) {
          ctx.metrics.leaseWait(this.id, 'timeout');
          return { value: await this.#waitTimedOut(params, load, flight), confirmed: false };
        }
        raw = next;
        continue;
      } else if (stored?.kind === 'corrupt') {
        unusable = stored.reason;
      }
      if (unusable !== undefined && unusable !== 'outdated') {
        ctx.metrics.corrupt(this.id);
        ctx.warn.warn(`corrupt:${this.id}`, { entry: this.id, reason: unusable }, 'cache client: a stored value could not be read; replacing it');
      }
      if (waiting) {
        ctx.metrics.leaseWait(this.id, 'lease_gone');
        waiting = false;
      }
      if (!missCounted) ctx.metrics.miss(this.id);
      missCounted = true;

      const marker = leaseMarker(randomBytes(12).toString('base64url'));
      let acquired: boolean;
      try {
        if (raw === null) {
          const current = await ctx.store.acquire(key, marker, cfg.policy.leaseTtlMs);
          acquired = current === null;
          if (!acquired) raw = current;
        } else {
          // A corrupt or outdated value: replace it with our lease, unless it changed meanwhile.
          acquired = await ctx.store.compareAndSet(key, raw, marker, cfg.policy.leaseTtlMs);
          if (!acquired) raw = await ctx.store.get(key);
        }
      } catch (e) {
        return await this.#redisDown(e, params, load, flight);
      }
      if (acquired) return await this.#fill(names, key, marker, counters, params, load, flight);
    }
    return { value: await this.#direct(params, load, 'retry', flight), confirmed: false };
  }

  /** Polls the key (woken early by tracking when it covers the key) until it holds something else than `raw`. */
  async #waitForChange(key: string, raw: string, deadline: number): Promise<string | null | typeof WAIT_TIMEOUT> {
    let delay = 5;
    for (let i = 0; i < MAX_POLLS; i++) {
      const left = deadline - this.ctx.now();
      if (left <= 0) return WAIT_TIMEOUT;
      await this.ctx.wakeups.wait(key, Math.min(delay, left));
      delay = Math.min(delay * 2, 100);
      const next = await this.ctx.store.get(key);
      if (next !== raw) return next;
    }
    return WAIT_TIMEOUT;
  }

  /** The lease is ours: join the tag sets, read the database, store only if the lease is still there. */
  async #fill(names: RenderedEntry, key: string, marker: string, counters: readonly number[], params: P, load: Loader<T, P>, flight: Flight): Promise<Outcome> {
    const { ctx, cfg } = this;
    const policy = cfg.policy;
    await cfg.hooks.leased?.(key);
    try {
      await this.#register(names.tags, key);
    } catch (e) {
      this.#releaseQuietly(key, marker);
      return await this.#redisDown(e, params, load, flight);
    }
    await cfg.hooks.registered?.(key);

    flight.loadSeq = ctx.nextSeq();
    const t0 = performance.now();
    let value: T | undefined;
    try {
      value = await this.#callLoader(params, load);
    } catch (e) {
      if (!policy.negativeErrors?.(e)) {
        ctx.metrics.loaderError(this.id);
        this.#releaseQuietly(key, marker);
        throw e;
      }
      value = undefined;
    }
    const fillMs = performance.now() - t0;
    ctx.metrics.fillDuration(this.id, fillMs / 1_000);
    await cfg.hooks.loaded?.(key);

    if (value === undefined && policy.negativeTtlMs === 0) {
      // Nothing to store; the value is as good as a stored one if the lease was still there.
      let intact = false;
      try {
        intact = await ctx.store.release(key, marker);
      } catch (e) {
        ctx.redisFailed(e, this.id);
      }
      return { value, confirmed: intact };
    }
    let text: string;
    let ttl: number;
    try {
      ({ text, ttl } = this.#envelope(value, fillMs, counters));
    } catch (e) {
      this.#releaseQuietly(key, marker);
      throw e; // the codec could not encode the value: a programming error, not Redis trouble
    }
    let stored: boolean;
    try {
      stored = await ctx.store.compareAndSet(key, marker, text, ttl);
    } catch (e) {
      ctx.redisFailed(e, this.id);
      return { value, confirmed: false };
    }
    if (stored) ctx.metrics.fill(this.id);
    else ctx.metrics.rejected(this.id);
    return { value, confirmed: stored };
  }

  async #register(tags: readonly string[], key: string): Promise<void> {
    if (tags.length === 0) return;
    const p = this.cfg.policy;
    // The set outlives every member it holds: a member's TTL starts before its lease runs out.
    const setTtl = p.expireTagSets ? Math.max(p.ttlMs, p.negativeTtlMs) + p.leaseTtlMs + 1_000 : undefined;
    await Promise.all(tags.map((t) => this.ctx.store.register(t, key, setTtl)));
  }

  #envelope(value: T | undefined, fillMs: number, counters: readonly number[]): { text: string; ttl: number } {
    const { ctx, cfg } = this;
    const notFound = value === undefined;
    const ttl = jitteredTtl(notFound ? cfg.policy.negativeTtlMs : cfg.policy.ttlMs, cfg.policy.jitter, ctx.random);
    let rowVersion: string | undefined;
    if (!notFound) {
      const col = cfg.naming.mapping.versionColumn;
      const raw = cfg.rowVersion ? cfg.rowVersion(value) : col !== undefined && typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[col] : undefined;
      rowVersion = versionText(raw);
      if (rowVersion !== undefined && rowVersion.length > MAX_ROW_VERSION_LENGTH) {
        ctx.warn.warn(`version:${this.id}`, { entry: this.id }, `cache client: row version longer than ${MAX_ROW_VERSION_LENGTH} characters; not recorded`);
        rowVersion = undefined;
      }
    }
    const now = ctx.now();
    const header: EnvelopeHeader = {
      filledAt: now,
      expiresAt: now + ttl,
      fillMs,
      notFound,
      ...(rowVersion !== undefined ? { rowVersion } : {}),
      ...(cfg.naming.versionMode === 'check' && counters.length > 0 ? { counters } : {}),
    };
    return { text: encodeEnvelope(header, notFound ? undefined : cfg.codec.encode(value)), ttl };
  }

  #releaseQuietly(key: string, marker: string): void {
    this.ctx.store.release(key, marker).catch(() => undefined); // else the lease runs out by itself
  }

  async #callLoader(params: P, load: Loader<T, P>): Promise<T | undefined> {
    const ac = new AbortController();
    const ms = this.cfg.policy.loadTimeoutMs;
    const call = Promise.resolve().then(() => load(params, { signal: ac.signal }));
    return withDeadline(call, ms, () => {
      ac.abort();
      return new CacheTimeoutError(`entry ${this.id}: the loader did not finish within ${ms} ms`, 'load');
    });
  }

  /**
   * The loader without the cache (Redis unavailable, a wait that ran out, retries used up). Inside a
   * flight the call starts one turn of the event loop later, so that callers arriving together join
   * before the read and may share its value.
   */
  async #direct(params: P, load: Loader<T, P>, reason: DirectLoadReason, flight: Flight | undefined): Promise<T | undefined> {
    this.ctx.metrics.directLoad(this.id, reason);
    if (flight) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      flight.loadSeq = this.ctx.nextSeq();
    }
    try {
      return await this.#callLoader(params, load);
    } catch (e) {
      if (this.cfg.policy.negativeErrors?.(e)) return undefined;
      this.ctx.metrics.loaderError(this.id);
      throw e;
    }
  }

  async #directOutcome(params: P, load: Loader<T, P>, flight: Flight): Promise<Outcome> {
    return { value: await this.#direct(params, load, 'redis', flight), confirmed: false };
  }

  async #redisDown(e: unknown, params: P, load: Loader<T, P>, flight: Flight): Promise<Outcome> {
    this.ctx.redisFailed(e, this.id);
    return { value: await this.#direct(params, load, 'redis', flight), confirmed: false };
  }

  async #waitTimedOut(params: P, load: Loader<T, P>, flight: Flight | undefined): Promise<T | undefined> {
    if (this.cfg.policy.onWaitTimeout === 'error') throw new CacheTimeoutError(`entry ${this.id}: no value from another filler within ${this.cfg.policy.waitMs} ms`, 'wait');
    return this.#direct(params, load, 'wait_timeout', flight);
  }

  /** Version counters, from L1 when tracked there, else from Redis (missing = 0). */
  async #counters(names: readonly string[]): Promise<number[]> {
    const out: number[] = new Array<number>(names.length).fill(0);
    const fetch: number[] = [];
    for (let i = 0; i < names.length; i++) {
      const cached = this.#l1For(names[i]!)?.get(names[i]!);
      if (cached?.kind === 'counter') out[i] = cached.n;
      else fetch.push(i);
    }
    if (fetch.length === 0) return out;
    const tickets = fetch.map((i) => {
      const l1 = this.#l1For(names[i]!);
      return l1 ? { l1, ticket: l1.ticket(names[i]!) } : undefined;
    });
    try {
      const raws = await this.ctx.store.getMany(fetch.map((i) => names[i]!));
      raws.forEach((raw, j) => {
        const i = fetch[j]!;
        const n = raw === null ? 0 : Number(raw);
        if (!Number.isSafeInteger(n) || n < 0) throw new Error(`version counter of entry ${this.id} holds ${JSON.stringify(String(raw).slice(0, 40))}, not a count`);
        out[i] = n;
        const t = tickets[j];
        t?.l1.set(t.ticket, { kind: 'counter', n }, t.l1.maxAgeMs);
      });
    } finally {
      for (const t of tickets) t?.l1.release(t.ticket);
    }
    return out;
  }

  /** XFetch: maybe refresh in the background; the caller keeps the value it read. */
  #maybeRefresh(raw: string, header: EnvelopeHeader, names: RenderedEntry, key: string, counters: readonly number[], params: P, load: Loader<T, P>): void {
    const { ctx, cfg } = this;
    const beta = cfg.policy.earlyRefreshBeta;
    if (beta <= 0 || this.#refreshing.has(key)) return;
    if (!shouldRefreshEarly(ctx.now(), header.expiresAt, header.fillMs, beta, ctx.random)) return;
    ctx.metrics.earlyRefresh(this.id);
    this.#refreshing.add(key);
    const p: Promise<void> = this.#refresh(raw, names, key, counters, params, load)
      .catch((e: unknown) => ctx.logger.debug({ entry: this.id, err: { message: (e as Error).message } }, 'cache client: early refresh failed'))
      .finally(() => {
        this.#refreshing.delete(key);
        ctx.background.delete(p);
      });
    ctx.background.add(p);
  }

  /**
   * An early refresh has no lease marker (readers keep getting the old value): the old value itself is the
   * lease. The new one is stored only if the key still holds exactly the old one — a delete since voids it.
   */
  async #refresh(raw: string, names: RenderedEntry, key: string, counters: readonly number[], params: P, load: Loader<T, P>): Promise<void> {
    const { ctx, cfg } = this;
    try {
      await this.#register(names.tags, key);
    } catch (e) {
      ctx.redisFailed(e, this.id);
      return;
    }
    const t0 = performance.now();
    let value: T | undefined;
    try {
      value = await this.#callLoader(params, load);
    } catch (e) {
      if (!cfg.policy.negativeErrors?.(e)) {
        ctx.metrics.loaderError(this.id);
        return;
      }
      value = undefined;
    }
    const fillMs = performance.now() - t0;
    ctx.metrics.fillDuration(this.id, fillMs / 1_000);
    if (value === undefined && cfg.policy.negativeTtlMs === 0) return;
    const { text, ttl } = this.#envelope(value, fillMs, counters);
    let stored: boolean;
    try {
      stored = await ctx.store.compareAndSet(key, raw, text, ttl);
    } catch (e) {
      ctx.redisFailed(e, this.id);
      return;
    }
    if (stored) ctx.metrics.fill(this.id);
    else ctx.metrics.rejected(this.id);
  }
}
