import type { Redis } from 'ioredis';
import { waitFor } from '../processes.js';

/**
 * Assertions on the cache of one Redis database for the stack tests: plant values under keys, wait
 * until the worker removed them, tell which are still there.
 */
export class CacheProbe {
  constructor(readonly name: string, readonly redis: Redis) {}

  async plant(keys: readonly string[], value = 'cached'): Promise<void> {
    if (keys.length === 0) return;
    const p = this.redis.pipeline();
    for (const k of keys) p.set(k, value);
    await p.exec();
  }

  async present(keys: readonly string[]): Promise<string[]> {
    if (keys.length === 0) return [];
    const p = this.redis.pipeline();
    for (const k of keys) p.exists(k);
    const res = (await p.exec()) ?? [];
    return keys.filter((_, i) => res[i]?.[1] === 1);
  }

  /** Waits until none of the keys exists; the error names those left and what `context()` says. */
  async waitGone(keys: readonly string[], { timeoutMs = 60_000, context = () => '' }: { timeoutMs?: number; context?: () => string } = {}): Promise<void> {
    try {
      await waitFor(async () => (await this.present(keys)).length === 0, { timeoutMs, intervalMs: 100, message: `${this.name}: the keys to be invalidated` });
    } catch (e) {
      throw new Error(`${(e as Error).message}; still present: ${(await this.present(keys)).join(', ')}\n${context()}`);
    }
  }
}
