import type { TopicSelection } from '../domain/types.js';

/** Parses `--topics`: `/regex/` or a comma-separated list. */
export function parseTopicsFlag(value: string): TopicSelection {
  const m = /^\/(.+)\/([a-z]*)$/.exec(value.trim());
  if (m) return { kind: 'regex', pattern: new RegExp(m[1]!, m[2]) };
  const topics = value.split(',').map((t) => t.trim()).filter(Boolean);
  if (topics.length === 0) throw new RangeError('expected a comma-separated list or /regex/');
  return { kind: 'list', topics };
}
