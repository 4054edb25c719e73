import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { purgingName, SinkError, type InvalidationSink } from './sink.js';

export interface RedisSinkOptions {
  readonly url: string;
  /** A command (pipeline) not answered within this time fails and is retried. */
  readonly commandTimeoutMs: number;
  /** Keys per UNLINK command; a batch is sent as one pipeline of such commands. */
  readonly chunkSize: number;
}

const FATAL = /^(NOPERM|WRONGTYPE|NOAUTH|WRONGPASS|ERR unknown command|ERR wrong number)/;

function classify(err: unknown): SinkError {
  if (err instanceof SinkError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new SinkError(message, FATAL.test(message), { cause: err });
}

/** The results of a pipeline, or its first error. */
function throwFirst(results: [Error | null, unknown][] | null): unknown[] {
  return (results ?? []).map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}

/**
 * Redis through ioredis with the offline queue off: while Redis is unreachable every call fails
 * at once, and the caller's retry loop (which pauses consumption) decides what happens — nothing
 * piles up in memory. ioredis keeps reconnecting in the background.
 */
export class RedisSink implements InvalidationSink {
  readonly #redis: Redis;

  constructor(private readonly opts: RedisSinkOptions, logger: Logger) {
    const options: RedisOptions = {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: opts.commandTimeoutMs,
      connectTimeout: Math.max(1_000, opts.commandTimeoutMs),
      lazyConnect: false,
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 10), 2_000),
      connectionName: 'cdc-invalidator',
    };
    this.#redis = new Redis(opts.url, options);
    let down = false;
    this.#redis.on('error', (e: Error) => {
      if (!down) logger.warn({ err: { message: e.message } }, 'redis connection error; reconnecting');
      down = true;
    });
    this.#redis.on('ready', () => {
      if (down) logger.info('redis connection ready again');
      down = false;
    });
  }

  async unlink(keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return 0;
    const size = this.opts.chunkSize;
    try {
      if (keys.length <= size) return await this.#redis.unlink(...keys);
      const pipeline = this.#redis.pipeline();
      for (let i = 0; i < keys.length; i += size) pipeline.unlink(...keys.slice(i, i + size));
      let removed = 0;
      for (const n of throwFirst(await pipeline.exec())) removed += Number(n);
      return removed;
    } catch (e) {
      throw classify(e);
    }
  }

  async purgeTags(tags: readonly string[]): Promise<number> {
    let members = 0;
    try {
      for (const tag of tags) members += await this.#purgeTag(tag);
    } catch (e) {
      throw classify(e);
    }
    return members;
  }

  /**
   * Moves the tag set aside with RENAMENX (an SADD after that lands in a fresh set, purged by the
   * second pass) and drains the moved set with SSCAN in chunks: UNLINK the members, then SREM them.
   * The moved set's name is fixed per tag, so a retry, a replay after a crash, or a second worker
   * purging the same tag first finishes what is there; RENAMENX never overwrites it.
   */
  async #purgeTag(tag: string): Promise<number> {
    const purging = purgingName(tag);
    let members = await this.#drain(purging);
    for (let attempt = 0; attempt < 100; attempt++) {
      let moved: number;
      try {
        moved = await this.#redis.renamenx(tag, purging);
      } catch (e) {
        if (/no such key/i.test((e as Error).message)) return members;
        throw e;
      }
      members += await this.#drain(purging);
      if (moved === 1) return members;
    }
    throw new SinkError(`tag ${tag}: could not move the set aside after 100 attempts`, false);
  }

  async #drain(set: string): Promise<number> {
    let members = 0;
    for (let pass = 0; pass < 1_000; pass++) {
      let cursor = '0';
      let steps = 0;
      do {
        const [next, chunk] = await this.#redis.sscan(set, cursor, 'COUNT', this.opts.chunkSize);
        cursor = next;
        if (chunk.length > 0) {
          await this.#redis.unlink(...chunk); // members leave the set only once they are gone
          await this.#redis.srem(set, ...chunk);
          members += chunk.length;
        }
      } while (cursor !== '0' && ++steps < 10_000_000);
      if ((await this.#redis.scard(set)) === 0) return members;
    }
    throw new SinkError(`set ${set} keeps growing while it is drained`, false);
  }

  async bumpVersions(versions: readonly string[]): Promise<void> {
    if (versions.length === 0) return;
    try {
      const p = this.#redis.pipeline();
      for (const v of versions) p.incr(v);
      throwFirst(await p.exec());
    } catch (e) {
      throw classify(e);
    }
  }

  async ping(): Promise<void> {
    try {
      await this.#ready();
      await this.#redis.ping();
    } catch (e) {
      throw classify(e);
    }
  }

  /** While the first connection is being made, wait for it (bounded) instead of failing at once. */
  async #ready(): Promise<void> {
    const r = this.#redis;
    if (r.status !== 'connecting' && r.status !== 'connect' && r.status !== 'wait') return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        r.off('ready', done);
        r.off('error', done);
        resolve();
      };
      const timer = setTimeout(done, this.opts.commandTimeoutMs);
      r.once('ready', done);
      r.once('error', done);
    });
  }

  async close(): Promise<void> {
    try {
      await this.#redis.quit();
    } catch {
      this.#redis.disconnect();
    }
  }
}
