import { ConfigError } from './errors.js';

/**
 * How setting values are written, the same in flags, environment variables and mapping files:
 * integers are decimal digits (no sign, no exponent, no fraction), durations are a number of
 * milliseconds or a number with a unit (ms, s, m, h). Every value is checked against its range.
 */

const INTEGER = /^\d+$/;
const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/;

/** Text as a user would read it back: `9999ms`, `1.5s`, `10m`. */
export function formatDuration(ms: number): string {
  if (ms >= 3_600_000 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms >= 1_000 && ms % 1_000 === 0) return `${ms / 1_000}s`;
  return `${ms}ms`;
}

/** An integer in [min, max]; `source` names the flag, variable or field in the message. */
export function integerValue(text: string, source: string, min: number, max: number): number {
  const t = text.trim();
  const n = INTEGER.test(t) ? Number(t) : NaN;
  if (!Number.isSafeInteger(n)) throw new ConfigError(`${source}: expected a whole number (digits only), got "${text}"`);
  if (n < min || n > max) throw new ConfigError(`${source}: ${t} is out of range (${min}–${max})`);
  return n;
}

/** A duration in [minMs, maxMs], in milliseconds (rounded). */
export function durationValue(text: string, source: string, minMs: number, maxMs: number): number {
  const m = DURATION.exec(text.trim());
  if (!m) throw new ConfigError(`${source}: expected milliseconds or a duration such as 1500ms, 2s, 5m, 1h; got "${text}"`);
  const factor = m[2] === 's' ? 1_000 : m[2] === 'm' ? 60_000 : m[2] === 'h' ? 3_600_000 : 1;
  const ms = Math.round(Number(m[1]) * factor);
  if (!Number.isFinite(ms) || ms < minMs || ms > maxMs) {
    throw new ConfigError(`${source}: ${text.trim()} is out of range (${formatDuration(minMs)}–${formatDuration(maxMs)})`);
  }
  return ms;
}

export function boolValue(text: string, source: string): boolean {
  if (/^(1|true|yes|on)$/i.test(text.trim())) return true;
  if (/^(0|false|no|off|)$/i.test(text.trim())) return false;
  throw new ConfigError(`${source}: expected true or false, got "${text}"`);
}

export function oneOf<T extends string>(text: string, source: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(text)) return text as T;
  throw new ConfigError(`${source}: expected one of ${allowed.join(', ')}, got "${text}"`);
}

/** Kafka's rule for topic names: 1–249 characters of [a-zA-Z0-9._-], not "." or "..". */
export function topicName(text: string, source: string): string {
  const t = text.trim();
  if (!/^[a-zA-Z0-9._-]{1,249}$/.test(t) || t === '.' || t === '..') {
    throw new ConfigError(`${source}: "${text}" is not a Kafka topic name (1–249 of a-z A-Z 0-9 . _ -)`);
  }
  return t;
}

/** `host:port,host:port`: every entry a host and a port in 1–65535. */
export function brokerList(text: string, source: string): string[] {
  const items = text.split(',').map((b) => b.trim()).filter(Boolean);
  if (items.length === 0) throw new ConfigError(`${source}: no broker given`);
  for (const item of items) {
    const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/.exec(item);
    const port = m ? Number(m[2]) : NaN;
    if (!m || port < 1 || port > 65_535) throw new ConfigError(`${source}: "${item}" is not host:port (port 1–65535)`);
  }
  return items;
}

/** Every duration setting's range, in milliseconds (the README and docs/reliability.md state them). */
export const DURATION_RANGES = {
  'second-delete-delay': [0, 600_000],
  'commit-interval': [0, 60_000],
  'shutdown-grace': [0, 3_600_000],
  'session-timeout': [1_000, 1_800_000],
  'heartbeat-interval': [10, 600_000],
  'rebalance-timeout': [1_000, 1_800_000],
  'fetch-max-wait': [0, 30_000],
  'redis-timeout': [10, 600_000],
  'schema-registry-timeout': [1, 300_000],
  'verify-after': [100, 600_000],
} as const satisfies Record<string, readonly [number, number]>;

/** The poison breaker's tolerance: none, all, or a ratio in (0, 1) of the last 100 records of a partition. */
export type PoisonTolerance = { readonly kind: 'none' } | { readonly kind: 'all' } | { readonly kind: 'ratio'; readonly ratio: number };

/** Parses the tolerance setting: none, all, or a ratio in (0, 1). */
export function parseTolerance(text: string): PoisonTolerance | undefined {
  if (text === 'none') return { kind: 'none' };
  if (text === 'all') return { kind: 'all' };
  if (!/^(0?\.\d+|0|1(\.0+)?)$/.test(text)) return undefined;
  const ratio = Number(text);
  if (!(ratio > 0 && ratio < 1)) return undefined;
  return { kind: 'ratio', ratio };
}
