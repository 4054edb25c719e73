/** TTL jitter, probabilistic early refresh and bounded waits: small pure helpers. */

/** A TTL drawn uniformly from [ttl × (1 − jitter), ttl] (never above what was configured), at least 1 ms. */
export function jitteredTtl(ttlMs: number, jitter: number, random: () => number): number {
  return Math.max(1, Math.round(ttlMs * (1 - jitter * random())));
}

/**
 * XFetch (Vattani, Chierichetti, Lowenstein: "Optimal probabilistic cache stampede prevention", VLDB 2015):
 * refresh early when `now − fillMs × beta × ln(u) ≥ expiresAt` for u uniform in (0, 1]. The probability
 * rises as expiry nears, and a value that took longer to compute starts refreshing earlier.
 */
export function shouldRefreshEarly(nowMs: number, expiresAt: number, fillMs: number, beta: number, random: () => number): boolean {
  if (beta <= 0) return false;
  const u = 1 - random(); // (0, 1]: ln(0) would be −∞
  return nowMs - Math.max(1, fillMs) * beta * Math.log(u) >= expiresAt;
}

/**
 * Resolves as `p`, or rejects with `onTimeout()` after `ms`. A late rejection of `p` is swallowed (the
 * caller has moved on): no unhandled rejection, no timer left behind.
 */
export function withDeadline<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  p.catch(() => undefined);
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** A promise that resolves after ms (or at once for ms ≤ 0). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
