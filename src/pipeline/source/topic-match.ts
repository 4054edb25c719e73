import { topicsForPrefix, type TopicSelection } from '../../domain/types.js';

/**
 * Which topics the worker consumes, decided by the worker itself against the cluster's topic list
 * (kafkajs matches a regex only once, when it subscribes): a topic that appears later is found by
 * the next look at the list.
 */
export interface TopicMatcher {
  /** The setting, for logs: `--topics /^shop\./`. */
  readonly describe: string;
  /** Topics named outright (a list, or the mapped tables under a prefix); empty for a regex. */
  readonly named: readonly string[];
  matches(topic: string): boolean;
}

/** Kafka's own topics, never consumed even when a regex matches them. */
const INTERNAL = new Set(['__consumer_offsets', '__transaction_state', '__share_group_state', '__cluster_metadata']);

export function topicMatcher(selection: TopicSelection, tables: readonly string[]): TopicMatcher {
  switch (selection.kind) {
    case 'regex': {
      const re = selection.pattern;
      return { describe: `--topics ${String(re)}`, named: [], matches: (t) => !INTERNAL.has(t) && new RegExp(re.source, re.flags).test(t) };
    }
    case 'list': {
      const named = [...selection.topics];
      return { describe: `--topics ${named.join(',')}`, named, matches: (t) => named.includes(t) };
    }
    case 'prefix': {
      const named = topicsForPrefix(selection.prefix, tables);
      return { describe: `--topic-prefix ${selection.prefix}`, named, matches: (t) => named.includes(t) };
    }
  }
}

/** The matching topics that exist (sorted), and the named ones that do not (yet). */
export function resolveTopics(matcher: TopicMatcher, existing: readonly string[]): { present: string[]; missing: string[] } {
  const present = existing.filter((t) => matcher.matches(t)).sort();
  const missing = matcher.named.filter((t) => !existing.includes(t));
  return { present, missing };
}
