/**
 * The Kafka clients of the bench's bake-off, each behind the pipeline's `Source` port: kafkajs (the
 * project's KafkaSource), @platformatic/kafka and @confluentinc/kafka-javascript (the latter only
 * when built locally, see confluent.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { createKafka } from '../../../src/pipeline/source/kafka-client.js';
import { KafkaSource } from '../../../src/pipeline/source/kafka-source.js';
import { topicMatcher } from '../../../src/pipeline/source/topic-match.js';
import type { Source } from '../../../src/pipeline/source/source.js';
import { loadConfluent } from './confluent.js';
import { ConfluentSource } from './confluent-source.js';
import type { BenchSourceOptions } from './options.js';
import { PlatformaticSource } from './platformatic-source.js';

export const CLIENTS = ['kafkajs', 'platformatic', 'confluent'] as const;
export type ClientName = (typeof CLIENTS)[number];

export interface ClientInfo {
  readonly name: ClientName;
  /** npm package name */
  readonly pkg: string;
  readonly version: string | undefined;
  /** Why the bench cannot run it here (one line); undefined when it can. */
  readonly unavailable: string | undefined;
}

/** The installed version (read beside the resolved entry point: not every package exports its package.json). */
function installedVersion(pkg: string): string | undefined {
  try {
    let dir = dirname(createRequire(import.meta.url).resolve(pkg));
    for (let i = 0; i < 6; i++, dir = dirname(dir)) {
      const file = join(dir, 'package.json');
      if (!existsSync(file)) continue;
      const json = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (json.name === pkg) return json.version;
    }
    return undefined;
  } catch {
    return undefined;
  }
}

export function clientInfo(name: ClientName): ClientInfo {
  if (name === 'confluent') {
    const c = loadConfluent();
    return { name, pkg: '@confluentinc/kafka-javascript', version: c.version, unavailable: c.reason };
  }
  const pkg = name === 'kafkajs' ? 'kafkajs' : '@platformatic/kafka';
  const version = installedVersion(pkg);
  return { name, pkg, version, unavailable: version === undefined ? `${pkg} is not installed (npm ci)` : undefined };
}

export function isClientName(s: string): s is ClientName {
  return (CLIENTS as readonly string[]).includes(s);
}

/** A Source of the named client, with the worker's consumer settings. */
export function makeSource(name: ClientName, brokers: readonly string[], opts: BenchSourceOptions, logger: Logger): Source {
  const clientId = `cdc-invalidator-${name}`;
  switch (name) {
    case 'kafkajs': {
      const { fromBeginning, topics, ...rest } = opts;
      return new KafkaSource(
        createKafka({ brokers, clientId }, logger),
        {
          ...rest,
          topics: topicMatcher({ kind: 'list', topics: [...topics] }, []),
          initialPosition: { kind: fromBeginning ? 'earliest' : 'latest' },
          topicRefreshMs: 60_000,
        },
        logger,
      );
    }
    case 'platformatic':
      return new PlatformaticSource({ ...opts, brokers, clientId }, logger);
    case 'confluent': {
      const c = loadConfluent();
      if (!c.module) throw new Error(`@confluentinc/kafka-javascript: ${c.reason}`);
      return new ConfluentSource(c.module, { ...opts, brokers, clientId }, logger);
    }
  }
}
