import type { TopicSelection } from '../domain/types.js';
import { parseTopicsFlag } from './topics.js';
import { parseDuration } from '../util/duration.js';
import { ConfigError } from './errors.js';
import { describeRedisConnection, REDIS_SETTINGS, resolveRedisConnection, type RedisConnection, type RedisFlags } from './redis-connection.js';
import { describeSchemaRegistry, resolveDecoderConfig, type SchemaRegistryConfig, type ValueFormat } from './schema-registry.js';
import { describeKafkaSecurity, resolveKafkaSecurity, type KafkaSecurity, type KafkaSecurityFlags } from './kafka-security.js';

/** The options of `run` as the CLI hands them over (all optional strings/booleans). */
export interface RunFlags extends RedisFlags, KafkaSecurityFlags {
  brokers?: string;
  group?: string;
  topics?: string;
  topicPrefix?: string;
  redis?: string;
  mappings?: string;
  secondDeleteDelay?: string;
  fromBeginning?: boolean;
  logLevel?: string;
  concurrency?: string;
  commitInterval?: string;
  shutdownGrace?: string;
  sessionTimeout?: string;
  heartbeatInterval?: string;
  rebalanceTimeout?: string;
  fetchMaxWait?: string;
  redisTimeout?: string;
  onError?: string;
  dlqTopic?: string;
  maxRecordBytes?: string;
  format?: string;
  schemaRegistry?: string;
  schemaRegistryCa?: string;
  schemaRegistryTimeout?: string;
  healthPort?: string;
  logKeys?: boolean;
}

export interface RunConfig {
  readonly brokers: readonly string[];
  readonly group: string;
  /** Undefined with a topic prefix until the mappings name the tables. */
  readonly topics: TopicSelection;
  readonly redisUrl: string;
  readonly mappingsDir: string;
  readonly secondDeleteDelayMs: number;
  readonly fromBeginning: boolean;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  readonly concurrency: number;
  readonly commitIntervalMs: number;
  readonly shutdownGraceMs: number;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly fetchMaxWaitMs: number;
  readonly redisTimeoutMs: number;
  /** Redis WAIT after each pass: replicas that must have it (0 = off). */
  readonly redisWaitReplicas: number;
  /** Topology, credentials and TLS of Redis (secrets inside: log describeConfig, never this). */
  readonly redis: RedisConnection;
  readonly onError: 'dlq' | 'fail';
  readonly dlqTopic: string;
  readonly maxRecordBytes: number;
  /** json, avro (registry-framed: Avro, Protobuf, JSON Schema) or auto (told apart per record). */
  readonly format: ValueFormat;
  /** Absent = no registry (format json, or auto decoding JSON only). Credentials: log through describeConfig. */
  readonly schemaRegistry?: SchemaRegistryConfig;
  /** 0 = no health server. */
  readonly healthPort: number;
  /** Kafka SASL and TLS (credentials and key bytes: never log this object, use describeConfig). */
  readonly kafkaSecurity: KafkaSecurity;
  /** Key names and row values may appear in debug logs (they can hold user data). */
  readonly logKeys: boolean;
}

/** Flag, environment variable and default of every `run` setting: the README's table comes from here. */
export const RUN_SETTINGS = [
  ['--brokers', 'KAFKA_BROKERS', 'localhost:9092', 'Kafka bootstrap servers, comma-separated'],
  ['--group', 'KAFKA_GROUP_ID', 'cdc-invalidator', 'consumer group id'],
  ['--topics', 'KAFKA_TOPICS', '', 'topics: a comma-separated list or /regex/'],
  ['--topic-prefix', 'TOPIC_PREFIX', '', "Debezium topic.prefix: subscribes to <prefix>.<schema>.<table> of every mapped table"],
  ['--redis', 'REDIS_URL', 'redis://localhost:6379', 'Redis URL (redis:// or rediss://)'],
  ['--mappings', 'MAPPINGS_DIR', './mappings', 'directory of mapping files'],
  ['--second-delete-delay', 'SECOND_DELETE_DELAY', '1000ms', 'delay of the second delete (ms or 1500ms, 2s); 0 turns it off'],
  ['--from-beginning', 'FROM_BEGINNING', 'false', 'where the group has no committed offset, start at the earliest (else the latest)'],
  ['--log-level', 'LOG_LEVEL', 'info', 'fatal, error, warn, info, debug, trace, silent'],
  ['--concurrency', 'CONCURRENCY', '4', 'partitions processed concurrently'],
  ['--commit-interval', 'COMMIT_INTERVAL', '200ms', 'least time between two offset commits'],
  ['--shutdown-grace', 'SHUTDOWN_GRACE', '10s', 'time to drain on SIGTERM before pending work is abandoned (uncommitted)'],
  ['--session-timeout', 'KAFKA_SESSION_TIMEOUT', '30s', 'consumer group session timeout'],
  ['--heartbeat-interval', 'KAFKA_HEARTBEAT_INTERVAL', '3s', 'consumer group heartbeat interval'],
  ['--rebalance-timeout', 'KAFKA_REBALANCE_TIMEOUT', '60s', 'consumer group rebalance timeout'],
  ['--fetch-max-wait', 'KAFKA_FETCH_MAX_WAIT', '500ms', 'longest time a fetch waits for new records (Kafka answers earlier as soon as there are some)'],
  ['--redis-timeout', 'REDIS_COMMAND_TIMEOUT', '5s', 'a Redis call not answered in this time fails and is retried'],
  ...REDIS_SETTINGS,
  ['--on-error', 'ON_ERROR', 'dlq', 'a poison record: dlq (park it in the dead-letter topic, go on) or fail (stop before it, exit 1)'],
  ['--dlq-topic', 'DLQ_TOPIC', '<group>.dlq', 'the dead-letter topic'],
  ['--max-record-bytes', 'MAX_RECORD_BYTES', '8388608', 'a record value larger than this is poison (too_large)'],
  ['--format', 'VALUE_FORMAT', 'auto', 'json, avro (Schema Registry framed: Avro, Protobuf, JSON Schema) or auto (framed values through the registry, the rest as JSON)'],
  ['--schema-registry', 'SCHEMA_REGISTRY_URL', '', 'Confluent-compatible Schema Registry URL (needed by --format avro)'],
  ['', 'SCHEMA_REGISTRY_USERNAME', '', 'Schema Registry basic-auth user (or SCHEMA_REGISTRY_USERNAME_FILE)'],
  ['', 'SCHEMA_REGISTRY_PASSWORD', '', 'Schema Registry basic-auth password, or SCHEMA_REGISTRY_PASSWORD_FILE (never a flag)'],
  ['--schema-registry-ca', 'SCHEMA_REGISTRY_CA_FILE', '', 'PEM CA bundle for an https:// registry (default: the system CAs)'],
  ['--schema-registry-timeout', 'SCHEMA_REGISTRY_TIMEOUT', '5s', 'a registry lookup not answered in this time is retried (the partition waits)'],
  ['--health-port', 'HEALTH_PORT', '0', 'port of the HTTP server with /livez, /readyz and /metrics (0 = none)'],
  ['--kafka-sasl-mechanism', 'KAFKA_SASL_MECHANISM', '', 'Kafka SASL: plain, scram-sha-256 or scram-sha-512 (empty = no SASL)'],
  ['', 'KAFKA_SASL_USERNAME', '', 'Kafka SASL user (or KAFKA_SASL_USERNAME_FILE: a file holding it)'],
  ['', 'KAFKA_SASL_PASSWORD', '', 'Kafka SASL password, or KAFKA_SASL_PASSWORD_FILE: a file holding it (never a flag)'],
  ['--kafka-tls', 'KAFKA_TLS', 'false', 'TLS to the brokers (a CA, client certificate or server name turns it on too)'],
  ['--kafka-tls-ca', 'KAFKA_TLS_CA_FILE', '', 'PEM CA bundle the broker certificates are checked against (default: the system CAs)'],
  ['--kafka-tls-cert', 'KAFKA_TLS_CERT_FILE', '', 'PEM client certificate (mutual TLS); needs --kafka-tls-key'],
  ['--kafka-tls-key', 'KAFKA_TLS_KEY_FILE', '', 'PEM private key of the client certificate'],
  ['', 'KAFKA_TLS_KEY_PASSWORD', '', 'passphrase of an encrypted client key, or KAFKA_TLS_KEY_PASSWORD_FILE'],
  ['--kafka-tls-servername', 'KAFKA_TLS_SERVERNAME', '', 'TLS server name (SNI, certificate check) when it differs from the broker host'],
  ['--log-keys', 'LOG_KEYS', 'false', 'allow cache key names and row values in debug logs (they may hold user data)'],
] as const;

/** A flag of `run`. */
export type RunSettingFlag = (typeof RUN_SETTINGS)[number][0];

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function pick(flag: string | undefined, env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const fromEnv = env[name];
  return flag ?? (fromEnv !== undefined && fromEnv !== '' ? fromEnv : fallback);
}

function duration(value: string, flag: string): number {
  try {
    return parseDuration(value, flag);
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
}

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(`${flag}: expected a positive integer, got "${value}"`);
  return n;
}

function nonNegativeInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new ConfigError(`${flag}: expected 0 or a positive integer, got "${value}"`);
  return n;
}

function port(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new ConfigError(`${flag}: expected a port number (0 = off), got "${value}"`);
  return n;
}

function bool(value: string, flag: string): boolean {
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off|)$/i.test(value)) return false;
  throw new ConfigError(`${flag}: expected true or false, got "${value}"`);
}

/** Resolves flags over env over defaults, validates, and freezes. Throws ConfigError. */
export function resolveRunConfig(flags: RunFlags, env: NodeJS.ProcessEnv = process.env): RunConfig {
  const get = (flag: string | undefined, name: RunSettingFlag): string => {
    const row = RUN_SETTINGS.find((r) => r[0] === name)!;
    return pick(flag, env, row[1], row[2]);
  };
  const brokers = get(flags.brokers, '--brokers').split(',').map((b) => b.trim()).filter(Boolean);
  if (brokers.length === 0) throw new ConfigError('--brokers: no broker given');

  const topicsRaw = get(flags.topics, '--topics');
  const prefix = get(flags.topicPrefix, '--topic-prefix');
  if (topicsRaw && prefix) throw new ConfigError('give either --topics or --topic-prefix, not both');
  if (!topicsRaw && !prefix) throw new ConfigError('no topics: give --topics (list or /regex/) or --topic-prefix');
  let topics: TopicSelection;
  try {
    topics = topicsRaw ? parseTopicsFlag(topicsRaw) : { kind: 'prefix', prefix };
  } catch (e) {
    throw new ConfigError(`--topics: ${(e as Error).message}`);
  }

  const redisUrl = get(flags.redis, '--redis');
  if (!/^rediss?:\/\//.test(redisUrl)) throw new ConfigError('--redis: expected a redis:// or rediss:// URL');

  const logLevel = get(flags.logLevel, '--log-level');
  if (!(LEVELS as readonly string[]).includes(logLevel)) throw new ConfigError(`--log-level: expected one of ${LEVELS.join(', ')}`);

  const sessionTimeoutMs = duration(get(flags.sessionTimeout, '--session-timeout'), '--session-timeout');
  const heartbeatIntervalMs = duration(get(flags.heartbeatInterval, '--heartbeat-interval'), '--heartbeat-interval');
  if (heartbeatIntervalMs >= sessionTimeoutMs) throw new ConfigError('--heartbeat-interval must be shorter than --session-timeout');

  const group = get(flags.group, '--group');
  const onError = get(flags.onError, '--on-error');
  if (onError !== 'dlq' && onError !== 'fail') throw new ConfigError(`--on-error: expected dlq or fail, got "${onError}"`);

  return Object.freeze({
    brokers: Object.freeze(brokers),
    group,
    topics,
    redisUrl,
    mappingsDir: get(flags.mappings, '--mappings'),
    secondDeleteDelayMs: duration(get(flags.secondDeleteDelay, '--second-delete-delay'), '--second-delete-delay'),
    fromBeginning: flags.fromBeginning ?? bool(env['FROM_BEGINNING'] ?? 'false', 'FROM_BEGINNING'),
    logLevel: logLevel as RunConfig['logLevel'],
    concurrency: positiveInt(get(flags.concurrency, '--concurrency'), '--concurrency'),
    commitIntervalMs: duration(get(flags.commitInterval, '--commit-interval'), '--commit-interval'),
    shutdownGraceMs: duration(get(flags.shutdownGrace, '--shutdown-grace'), '--shutdown-grace'),
    sessionTimeoutMs,
    heartbeatIntervalMs,
    rebalanceTimeoutMs: duration(get(flags.rebalanceTimeout, '--rebalance-timeout'), '--rebalance-timeout'),
    fetchMaxWaitMs: duration(get(flags.fetchMaxWait, '--fetch-max-wait'), '--fetch-max-wait'),
    redisTimeoutMs: duration(get(flags.redisTimeout, '--redis-timeout'), '--redis-timeout'),
    redisWaitReplicas: nonNegativeInt(get(flags.redisWaitReplicas, '--redis-wait-replicas'), '--redis-wait-replicas'),
    redis: resolveRedisConnection(redisUrl, flags, env),
    onError,
    dlqTopic: pick(flags.dlqTopic, env, 'DLQ_TOPIC', `${group}.dlq`),
    maxRecordBytes: positiveInt(get(flags.maxRecordBytes, '--max-record-bytes'), '--max-record-bytes'),
    ...resolveDecoderConfig(flags, env),
    healthPort: port(get(flags.healthPort, '--health-port'), '--health-port'),
    kafkaSecurity: resolveKafkaSecurity(flags, env),
    logKeys: flags.logKeys ?? bool(env['LOG_KEYS'] ?? 'false', 'LOG_KEYS'),
  });
}

/** The config for logs: the Redis URL without its password. */
export function describeConfig(c: RunConfig): Record<string, unknown> {
  let redis = c.redisUrl;
  try {
    const u = new URL(c.redisUrl);
    if (u.password) u.password = '***';
    redis = u.toString();
  } catch {
    redis = '[unparseable]';
  }
  return { ...c, topics: c.topics.kind === 'regex' ? String(c.topics.pattern) : c.topics, redisUrl: redis, redis: describeRedisConnection(c.redis), schemaRegistry: describeSchemaRegistry(c.schemaRegistry), kafkaSecurity: describeKafkaSecurity(c.kafkaSecurity) };
}
