import { sleep } from '../../util/backoff.js';
import type { InvalidationSink } from './sink.js';

/**
 * Caps the keys per second sent to Redis (replay's --max-rate) with a token bucket of one
 * second's worth; large calls are split so no single pipeline exceeds the bucket.
 */
export class RateLimitedSink implements InvalidationSink {
  #tokens: number;
  #last = performance.now();

  constructor(private readonly inner: InvalidationSink, private readonly perSecond: number) {
    this.#tokens = perSecond;
  }

  async #take(n: number): Promise<void> {
    for (;;) {
      const now = performance.now();
      this.#tokens = Math.min(this.perSecond, this.#tokens + ((now - this.#last) / 1000) * this.perSecond);
      this.#last = now;
      if (this.#tokens >= n) {
        this.#tokens -= n;
        return;
      }
      await sleep(Math.ceil(((n - this.#tokens) / this.perSecond) * 1000));
    }
  }

  async unlink(keys: readonly string[]): Promise<number> {
    const step = Math.max(1, Math.floor(this.perSecond));
    let removed = 0;
    for (let i = 0; i < keys.length; i += step) {
      const chunk = keys.slice(i, i + step);
      await this.#take(chunk.length);
      removed += await this.inner.unlink(chunk);
    }
    return removed;
  }

  async purgeTags(tags: readonly string[]): Promise<number> {
    await this.#take(Math.min(tags.length, this.perSecond));
    return this.inner.purgeTags(tags);
  }

  async bumpVersions(versions: readonly string[]): Promise<void> {
    await this.#take(Math.min(versions.length, this.perSecond));
    return this.inner.bumpVersions(versions);
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
