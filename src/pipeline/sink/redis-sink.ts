import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { SinkError, type InvalidationSink } from './sink.js';

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
      const results = (await pipeline.exec()) ?? [];
      let removed = 0;
      for (const [err, n] of results) {
        if (err) throw err;
        removed += Number(n);
      }
      return removed;
    } catch (e) {
      throw classify(e);
    }
  }

  async ping(): Promise<void> {
    try {
      await this.#redis.ping();
    } catch (e) {
      throw classify(e);
    }
  }

  async close(): Promise<void> {
    try {
      await this.#redis.quit();
    } catch {
      this.#redis.disconnect();
    }
  }
}
