import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { withDeadline } from './timing.js';

export type RedisLike = Redis | Cluster;

/**
 * The client's Redis commands. Every script touches exactly one key (KEYS[1]), so each runs in one
 * hash slot on Redis Cluster; ARGV carries values only.
 */
const LUA = {
  /** Take the lease: if the key is empty, put the marker there with a TTL; else return what is there. */
  acquire: `local v = redis.call('GET', KEYS[1])
if v then return v end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false`,
  /** Compare-and-set: store ARGV[2] with TTL ARGV[3] only if the key still holds exactly ARGV[1]. */
  cas: `if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0`,
  /** Compare-and-delete: give a lease back (or drop a value) only if the key still holds exactly ARGV[1]. */
  release: `if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0`,
  /** Register a member in a tag set and make the set outlive it: its TTL is raised to ARGV[2] ms if lower (or none). */
  register: `redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1`,
} as const;

type ScriptName = keyof typeof LUA;
const SHA: Readonly<Record<ScriptName, string>> = Object.fromEntries(
  Object.entries(LUA).map(([name, lua]) => [name, createHash('sha1').update(lua).digest('hex')]),
) as Record<ScriptName, string>;

/** A Redis call that did not answer within the client's timeout. */
export class StoreTimeoutError extends Error {
  override readonly name = 'StoreTimeoutError';
}

/**
 * The Redis side of the protocol, every call bounded by `timeoutMs` whatever the ioredis client's own
 * settings (an offline queue or a long commandTimeout cannot make a caller wait longer). Scripts go as
 * EVALSHA, and as EVAL once when the server does not know them (NOSCRIPT): no SCRIPT LOAD, no
 * defineCommand on the application's client.
 */
export class CacheStore {
  constructor(
    readonly redis: RedisLike,
    readonly timeoutMs: number,
  ) {}

  #bounded<T>(what: string, p: Promise<T>): Promise<T> {
    return withDeadline(p, this.timeoutMs, () => new StoreTimeoutError(`redis ${what}: no answer within ${this.timeoutMs} ms`));
  }

  async #script(name: ScriptName, key: string, args: readonly (string | number)[]): Promise<unknown> {
    try {
      return await this.redis.evalsha(SHA[name], 1, key, ...args);
    } catch (e) {
      if (!(e instanceof Error) || !e.message.startsWith('NOSCRIPT')) throw e;
      return await this.redis.eval(LUA[name], 1, key, ...args);
    }
  }

  get(key: string): Promise<string | null> {
    return this.#bounded('GET', this.redis.get(key));
  }

  /** Counters (missing = null), one GET each: they may sit in different cluster slots. */
  getMany(keys: readonly string[]): Promise<(string | null)[]> {
    return this.#bounded('GET', Promise.all(keys.map((k) => this.redis.get(k))));
  }

  /** Puts `marker` under an empty key with a TTL and resolves null (the lease is ours), or resolves what the key holds. */
  async acquire(key: string, marker: string, ttlMs: number): Promise<string | null> {
    // The script replies with the key's value (a bulk string) or nil.
    const v = (await this.#bounded('acquire', this.#script('acquire', key, [marker, ttlMs]))) as string | null | undefined;
    return v === null || v === undefined ? null : String(v);
  }

  /** Stores `value` (TTL ttlMs) only if the key holds exactly `expected`; resolves whether it did. */
  async compareAndSet(key: string, expected: string, value: string, ttlMs: number): Promise<boolean> {
    return Number(await this.#bounded('compare-and-set', this.#script('cas', key, [expected, value, ttlMs]))) === 1;
  }

  /** Deletes the key only if it holds exactly `expected`; resolves whether it did. */
  async release(key: string, expected: string): Promise<boolean> {
    return Number(await this.#bounded('release', this.#script('release', key, [expected]))) === 1;
  }

  /** SADD the member to the tag set; with `setTtlMs`, the set's TTL is raised to it when lower. */
  async register(tag: string, member: string, setTtlMs: number | undefined): Promise<void> {
    if (setTtlMs === undefined) await this.#bounded('SADD', this.redis.sadd(tag, member));
    else await this.#bounded('register', this.#script('register', tag, [member, setTtlMs]));
  }

  /** Remaining TTL in ms (−1 none, −2 no key). */
  pttl(key: string): Promise<number> {
    return this.#bounded('PTTL', this.redis.pttl(key));
  }

  unlink(key: string): Promise<number> {
    return this.#bounded('UNLINK', this.redis.unlink(key));
  }
}
