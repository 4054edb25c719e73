import type { Admin } from 'kafkajs';
import type { Logger } from 'pino';
import { ConfigError } from '../config/errors.js';
import type { TopicSelection } from '../domain/types.js';
import { resolveTopics, topicMatcher } from '../pipeline/source/topic-match.js';

/**
 * The topics a command reads, as they exist now. A regex or a list that finds nothing, or a listed
 * topic that does not exist, is a ConfigError naming the setting; a mapped table without a topic
 * under the prefix is only logged (not every table has changed yet).
 */
export async function existingTopics(admin: Admin, sel: TopicSelection, tables: readonly string[], logger: Logger): Promise<string[]> {
  const matcher = topicMatcher(sel, tables);
  const { present, missing } = resolveTopics(matcher, await admin.listTopics());
  if (sel.kind === 'list' && missing.length > 0) throw new ConfigError(`--topics: ${missing.map((t) => `"${t}"`).join(', ')} does not exist`);
  if (missing.length > 0) logger.warn({ topics: missing }, 'mapped tables without a topic (yet): skipped');
  if (present.length === 0) throw new ConfigError(`${matcher.describe} matches no topic`);
  return present;
}
