/** How the worker picks its topics: a list, a regex, or a Debezium prefix plus the mapped tables. */
export type TopicSelection =
  | { readonly kind: 'list'; readonly topics: readonly string[] }
  | { readonly kind: 'regex'; readonly pattern: RegExp }
  | { readonly kind: 'prefix'; readonly prefix: string };

/** Parses `--topics`: `/regex/` or a comma-separated list. */
export function parseTopicsFlag(value: string): TopicSelection {
  const m = /^\/(.+)\/([a-z]*)$/.exec(value.trim());
  if (m) return { kind: 'regex', pattern: new RegExp(m[1]!, m[2]) };
  const topics = value.split(',').map((t) => t.trim()).filter(Boolean);
  if (topics.length === 0) throw new RangeError('--topics: expected a comma-separated list or /regex/');
  return { kind: 'list', topics };
}

/** Debezium names a table's topic `<prefix>.<schema>.<table>`. */
export function topicsForPrefix(prefix: string, tables: readonly string[]): string[] {
  return tables.map((t) => `${prefix}.${t}`);
}

export function describeTopics(sel: TopicSelection): string {
  switch (sel.kind) {
    case 'list':
      return sel.topics.join(',');
    case 'regex':
      return sel.pattern.toString();
    case 'prefix':
      return `${sel.prefix}.<mapped tables>`;
  }
}
