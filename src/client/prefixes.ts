import type { Template } from '../mapping/template.js';

/**
 * Key prefixes for Redis client-side tracking in broadcasting mode (`CLIENT TRACKING on BCAST PREFIX …`):
 * Redis then reports every change of a key that starts with one of them.
 */

/** The literal text a template's names start with (before its first `{column}`); '' when it starts with a column. */
export function literalPrefix(t: Template): string {
  const first = t.parts[0];
  return typeof first === 'string' ? first : '';
}

/**
 * The smallest set of prefixes covering the given ones: Redis refuses overlapping BCAST prefixes
 * ("customer:" and "customer:email:"), and the shorter one covers the longer. Sorted. '' covers every key.
 */
export function coverPrefixes(prefixes: Iterable<string>): string[] {
  const sorted = [...new Set(prefixes)].sort((a, b) => a.length - b.length || a.localeCompare(b));
  const out: string[] = [];
  for (const p of sorted) if (!out.some((q) => p.startsWith(q))) out.push(p);
  return out.sort();
}

/** Whether `key` starts with one of the prefixes. */
export function isCovered(prefixes: readonly string[], key: string): boolean {
  return prefixes.some((p) => key.startsWith(p));
}
