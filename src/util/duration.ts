/** Parses a duration: a bare number is milliseconds; units ms, s, m, h. */
export function parseDuration(input: string | number, what = 'duration'): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) throw new RangeError(`${what}: expected a non-negative number, got ${input}`);
    return Math.round(input);
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(input);
  if (!m) throw new RangeError(`${what}: expected milliseconds or a duration such as 1500ms, 2s, 5m; got "${input}"`);
  const value = Number(m[1]);
  const unit = m[2] ?? 'ms';
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000;
  return Math.round(value * factor);
}
