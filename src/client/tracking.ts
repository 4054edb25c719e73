import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { coverPrefixes } from './prefixes.js';
import { withDeadline } from './timing.js';

export const INVALIDATE_CHANNEL = '__redis__:invalidate';

export interface TrackerOptions {
  /** How often the connection is checked with PING while up. */
  readonly heartbeatMs: number;
  /** A PING not answered in this time counts the connection as lost (it is dropped and made again). */
  readonly heartbeatTimeoutMs: number;
  readonly logger: Logger;
  /** Every invalidation: the keys Redis reported, or null for "everything" (a flush, or the connection lost or regained). */
  readonly onInvalidate: (keys: readonly string[] | null) => void;
  /** The tracking connection came up (after its flush) or went down. */
  readonly onState?: (up: boolean) => void;
}

/**
 * Redis client-side tracking over RESP2 (what ioredis speaks): one connection of our own (a duplicate
 * of the application's client) runs `CLIENT TRACKING on REDIRECT <its own id> BCAST PREFIX …` and then
 * `SUBSCRIBE __redis__:invalidate`, so Redis sends it the name of every key under the prefixes that any
 * client changes, deletes, or lets expire — the worker's UNLINKs included, with no code in the worker.
 *
 * Tracking state lives and dies with the connection: while it is down, or not yet set up again, `up`
 * is false (readers bypass L1); when it is set up again everything is flushed, since what changed
 * meanwhile is unknown. A PING heartbeat catches a connection that died silently.
 */
export class InvalidationTracker {
  #conn: Redis | undefined;
  #prefixes: string[] = [];
  #up = false;
  #generation = 0;
  #closed = false;
  #pinging = false;
  #setupFailures = 0;
  #heartbeat: NodeJS.Timeout | undefined;
  #retry: NodeJS.Timeout | undefined;
  #downLogged = false;
  readonly #listeners = new Set<(up: boolean) => void>();

  constructor(
    private readonly base: Redis,
    private readonly opts: TrackerOptions,
  ) {}

  get up(): boolean {
    return this.#up;
  }

  get prefixes(): readonly string[] {
    return this.#prefixes;
  }

  /** Whether Redis reports changes of this key to us right now. */
  covers(key: string): boolean {
    return this.#up && this.#prefixes.some((p) => key.startsWith(p));
  }

  /**
   * Adds prefixes to track. When the set grows, the connection is made again with the new set (a
   * tracking connection in subscribe mode cannot change its prefixes), which flushes L1.
   */
  track(prefixes: Iterable<string>): void {
    const next = coverPrefixes([...this.#prefixes, ...prefixes]);
    if (next.length === this.#prefixes.length && next.every((p, i) => p === this.#prefixes[i])) return;
    this.#prefixes = next;
    if (this.#conn && !this.#closed) {
      this.#down();
      if (this.#conn.status === 'ready') this.#conn.disconnect(true);
    }
  }

  start(): void {
    if (this.#conn || this.#closed) return;
    const conn = this.base.duplicate({
      lazyConnect: true,
      autoResubscribe: false,
      enableReadyCheck: false, // no INFO: the client's ACL need not grant it
      disableClientInfo: true, // no CLIENT SETINFO either
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 10), 2_000),
    });
    this.#conn = conn;
    conn.on('ready', () => {
      const generation = ++this.#generation;
      void this.#setup(conn, generation);
    });
    conn.on('close', () => this.#down());
    conn.on('error', (e: Error) => {
      if (!this.#downLogged) this.opts.logger.warn({ err: { message: e.message } }, 'cache client: invalidation tracking connection error; L1 bypassed until it is back');
      this.#downLogged = true;
    });
    conn.on('messageBuffer', (channel: Buffer, message: unknown) => this.#message(channel, message));
    this.#heartbeat = setInterval(() => void this.#ping(), this.opts.heartbeatMs);
    this.#heartbeat.unref();
    conn.connect().catch(() => undefined); // failures arrive as 'error' events; ioredis keeps reconnecting
  }

  /** Resolves true once tracking is up, false after timeoutMs. */
  waitUp(timeoutMs: number): Promise<boolean> {
    if (this.#up) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (up: boolean): void => {
        if (!up) return;
        clearTimeout(timer);
        this.#listeners.delete(done);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.#listeners.delete(done);
        resolve(false);
      }, timeoutMs);
      this.#listeners.add(done);
    });
  }

  close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#heartbeat);
    clearTimeout(this.#retry);
    this.#down();
    this.#conn?.disconnect();
    this.#listeners.clear();
    return Promise.resolve();
  }

  #state(up: boolean): void {
    this.opts.onState?.(up);
    for (const l of [...this.#listeners]) l(up);
  }

  #down(): void {
    this.#generation++;
    if (!this.#up) return;
    this.#up = false;
    this.opts.onInvalidate(null);
    this.#state(false);
  }

  async #setup(conn: Redis, generation: number): Promise<void> {
    if (this.#prefixes.length === 0) return; // nothing to track yet: track() reconnects when there is
    try {
      const id = String(await conn.client('ID'));
      const prefixArgs = this.#prefixes.includes('') ? [] : this.#prefixes.flatMap((p) => ['PREFIX', p]);
      await conn.call('CLIENT', 'TRACKING', 'on', 'REDIRECT', id, 'BCAST', ...prefixArgs);
      await conn.subscribe(INVALIDATE_CHANNEL);
      if (generation !== this.#generation || this.#closed) return;
      this.opts.onInvalidate(null); // what changed while we were not tracking is unknown
      this.#up = true;
      this.#setupFailures = 0;
      if (this.#downLogged) this.opts.logger.info({ prefixes: this.#prefixes.length }, 'cache client: invalidation tracking is up again');
      this.#downLogged = false;
      this.#state(true);
    } catch (e) {
      if (generation !== this.#generation || this.#closed) return;
      const delay = Math.min(500 * 2 ** Math.min(this.#setupFailures++, 6), 30_000);
      this.opts.logger.warn({ err: { message: (e as Error).message }, retryInMs: delay }, 'cache client: could not set up invalidation tracking; L1 bypassed');
      this.#downLogged = true;
      clearTimeout(this.#retry);
      this.#retry = setTimeout(() => {
        if (!this.#closed && generation === this.#generation) conn.disconnect(true);
      }, delay);
      this.#retry.unref();
    }
  }

  #message(channel: Buffer, message: unknown): void {
    if (channel.toString() !== INVALIDATE_CHANNEL) return;
    if (message === null || message === undefined) {
      this.opts.onInvalidate(null); // FLUSHALL / FLUSHDB
      return;
    }
    const items = Array.isArray(message) ? message : [message];
    this.opts.onInvalidate(items.map((k) => (Buffer.isBuffer(k) ? k.toString('utf8') : String(k))));
  }

  async #ping(): Promise<void> {
    const conn = this.#conn;
    if (!conn || !this.#up || this.#pinging || this.#closed) return;
    this.#pinging = true;
    const generation = this.#generation;
    try {
      await withDeadline(conn.ping(), this.opts.heartbeatTimeoutMs, () => new Error(`no PONG within ${this.opts.heartbeatTimeoutMs} ms`));
    } catch (e) {
      if (generation === this.#generation && !this.#closed) {
        this.opts.logger.warn({ err: { message: (e as Error).message } }, 'cache client: invalidation tracking connection lost; L1 bypassed until it is back');
        this.#downLogged = true;
        this.#down();
        conn.disconnect(true);
      }
    } finally {
      this.#pinging = false;
    }
  }
}
