/** Seeded randomness and key popularity for the lab: the same seed gives the same choices. */

/** mulberry32: a small seeded generator in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Picks row ids 1..n with Zipf popularity (id 1 the most popular): P(k) ∝ 1 / k^s. */
export class Zipf {
  readonly #cdf: Float64Array;

  constructor(readonly n: number, s: number) {
    this.#cdf = new Float64Array(n);
    let sum = 0;
    for (let k = 1; k <= n; k++) {
      sum += 1 / k ** s;
      this.#cdf[k - 1] = sum;
    }
    for (let k = 0; k < n; k++) this.#cdf[k]! /= sum;
  }

  /** An id for a uniform draw u in [0, 1). */
  pick(u: number): number {
    let lo = 0;
    let hi = this.n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  }
}

/** A pause of a fill between reading the row and writing the cache: a share of fills, uniform in [0, max]. */
export function fillPause(random: () => number, share: number, maxMs: number): number {
  return random() < share ? random() * maxMs : 0;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
