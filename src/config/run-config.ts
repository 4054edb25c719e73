import type { TopicSelection } from '../domain/types.js';
import { parseTopicsFlag } from './topics.js';
import { ConfigError } from './errors.js';
import { attributeName, envName, findSetting, withDeprecatedEnv } from './settings.js';
import { initialPositionValue, type InitialPosition, parseTolerance, type PoisonTolerance, boolValue, brokerList, DURATION_RANGES, durationValue, integerValue, oneOf, topicName } from './values.js';
import { describeRedisConnection, resolveRedisConnection, type RedisConnection, type RedisFlags } from './redis-connection.js';
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
  maxPendingSecondDeletes?: string;
  fromBeginning?: boolean;
  initialPosition?: string;
  topicRefreshInterval?: string;
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
  dlqCreatePartitions?: string;
  dlqCreateReplication?: string;
  maxRecordBytes?: string;
  format?: string;
  schemaRegistry?: string;
  schemaRegistryCa?: string;
  schemaRegistryTimeout?: string;
  healthPort?: string;
  logKeys?: boolean;
  verifySample?: string;
  verifyAfter?: string;
  verifyMaxPending?: string;
}

export interface RunConfig {
  readonly brokers: readonly string[];
  readonly group: string;
  /** Undefined with a topic prefix until the mappings name the tables. */
  readonly topics: TopicSelection;
  readonly redisUrl: string;
  readonly mappingsDir: string;
  readonly secondDeleteDelayMs: number;
  /** Where a group's very first start begins; every other partition without a committed offset starts at the earliest. */
  readonly initialPosition: InitialPosition;
  /** How often the topic list is read for new matching topics. */
  readonly topicRefreshMs: number;
  /** Backpressure: a batch waits while more names than this await their second delete. */
  readonly maxPendingSecondDeletes: number;
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
  /** The poison breaker (src/pipeline/poison/breaker.ts). */
  readonly poisonTolerance: PoisonTolerance;
  readonly dlqTopic: string;
  /** Create the dead-letter topic when missing, with these partitions and replication; absent: a missing topic is a start-up error. */
  readonly dlqCreate?: { readonly partitions: number; readonly replicationFactor: number };
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
  /** The inspector: share of changes read back (0 = off), how long after the second delete, most pending. */
  readonly verifySample: number;
  readonly verifyAfterMs: number;
  readonly verifyMaxPending: number;
  /** Deprecated names in use (the caller logs them once). */
  readonly warnings: readonly string[];
}

/** A setting's value and where it came from (a flag, an environment variable, the default). */
export interface SettingValue {
  readonly value: string;
  /** `--flag`, the variable's name, or `default` — what a message about a bad value names. */
  readonly source: string;
  readonly isDefault: boolean;
}

/** Reads settings from flags over environment over the table's defaults. */
export class SettingReader {
  readonly warnings: string[];
  readonly env: NodeJS.ProcessEnv;
  readonly #aliasOf: Map<string, string>;

  constructor(readonly flags: object, env: NodeJS.ProcessEnv) {
    const normalized = withDeprecatedEnv(env);
    this.env = normalized.env;
    this.warnings = normalized.warnings;
    this.#aliasOf = normalized.aliasOf;
  }

  get(name: string): SettingValue {
    const setting = findSetting(name);
    const flag = (this.flags as Record<string, string | boolean | string[] | undefined>)[attributeName(name)]; // commander's option values
    if (flag !== undefined) return { value: String(flag), source: `--${name}`, isDefault: false };
    if (setting.env) {
      const variable = envName(setting);
      const v = this.env[variable];
      if (v !== undefined && v.trim() !== '') return { value: v.trim(), source: this.#aliasOf.get(variable) ?? variable, isDefault: false };
    }
    return { value: setting.default, source: `--${name}`, isDefault: true };
  }

  text(name: string): string {
    return this.get(name).value;
  }

  /** A message part naming the value and where it came from: `--heartbeat-interval 3s (the default)`. */
  describe(name: string): string {
    const v = this.get(name);
    return v.isDefault ? `--${name} ${v.value} (the default)` : `${v.source} ${v.value}`;
  }

  bool(name: string): boolean {
    const v = this.get(name);
    return boolValue(v.value, v.source);
  }

  duration(name: keyof typeof DURATION_RANGES): number {
    const v = this.get(name);
    const [min, max] = DURATION_RANGES[name];
    return durationValue(v.value, v.source, min, max);
  }

  integer(name: string, min: number, max: number): number {
    const v = this.get(name);
    return integerValue(v.value, v.source, min, max);
  }
}

function tolerance(r: SettingReader): PoisonTolerance {
  const v = r.get('poison-tolerance');
  const t = parseTolerance(v.value);
  if (!t) throw new ConfigError(`${v.source}: expected none, all or a ratio between 0 and 1 (e.g. 0.5), got "${v.value}"`);
  return t;
}

/** --initial-position, or its deprecated spelling --from-beginning (= earliest). */
function initialPosition(r: SettingReader): InitialPosition {
  const v = r.get('initial-position');
  const position = initialPositionValue(v.value, v.source);
  const old = r.get('from-beginning');
  if (old.isDefault || !r.bool('from-beginning')) return position;
  if (!v.isDefault && position.kind !== 'earliest') throw new ConfigError(`${old.source} contradicts ${r.describe('initial-position')}: give only --initial-position`);
  r.warnings.push(`${old.source} is deprecated: use ${old.source.startsWith('--') ? '--initial-position earliest' : `${envName('initial-position')}=earliest`}`);
  return { kind: 'earliest' };
}

/** --dlq-create-partitions and --dlq-create-replication: both stated, or neither. */
function dlqCreate(r: SettingReader): { dlqCreate?: RunConfig['dlqCreate'] } {
  const partitions = r.integer('dlq-create-partitions', 0, 100_000);
  const replication = r.get('dlq-create-replication');
  if (partitions === 0) {
    if (!replication.isDefault) throw new ConfigError(`${r.describe('dlq-create-replication')} is given but ${r.describe('dlq-create-partitions')} never creates the topic`);
    return {};
  }
  if (replication.isDefault) throw new ConfigError(`${r.describe('dlq-create-partitions')} needs --dlq-create-replication: the replication factor to create the dead-letter topic with`);
  return { dlqCreate: { partitions, replicationFactor: integerValue(replication.value, replication.source, 1, 32_767) } };
}

/** A share in [0, 1] written as a decimal (0.01, 1). */
function ratio(r: SettingReader, name: string): number {
  const v = r.get(name);
  const n = Number(v.value);
  if (!/^(0|1|0?\.\d+|1\.0*)$/.test(v.value) || !(n >= 0 && n <= 1)) throw new ConfigError(`${v.source}: expected a share between 0 and 1 (e.g. 0.01), got "${v.value}"`);
  return n;
}

/** The largest --max-pending-second-deletes (about 1 GB of names held in memory). */
const MAX_PENDING_SECOND_DELETES = 10_000_000;

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function port(r: SettingReader, name: string): number {
  const v = r.get(name);
  return integerValue(v.value, v.source, 0, 65_535);
}

/** The topic selection: exactly one of --topics and --topic-prefix. */
function topicSelection(r: SettingReader): TopicSelection {
  const topics = r.get('topics');
  const prefix = r.get('topic-prefix');
  if (topics.value && prefix.value) throw new ConfigError('give either --topics or --topic-prefix, not both');
  if (!topics.value && !prefix.value) throw new ConfigError('no topics: give --topics (list or /regex/) or --topic-prefix');
  if (prefix.value) return { kind: 'prefix', prefix: topicName(prefix.value, prefix.source) };
  let sel: TopicSelection;
  try {
    sel = parseTopicsFlag(topics.value);
  } catch (e) {
    throw new ConfigError(`${topics.source}: ${(e as Error).message}`);
  }
  if (sel.kind === 'list') for (const t of sel.topics) topicName(t, topics.source);
  return sel;
}

/** What every command that talks to Kafka shares. */
export interface KafkaCommandConfig {
  readonly brokers: readonly string[];
  readonly topics: TopicSelection;
  readonly mappingsDir: string;
  readonly logLevel: RunConfig['logLevel'];
  readonly kafkaSecurity: KafkaSecurity;
  /** Deprecated names in use (the caller logs them once). */
  readonly warnings: readonly string[];
}

function kafkaCommon(r: SettingReader): KafkaCommandConfig {
  const brokers = r.get('brokers');
  const level = r.get('log-level');
  return {
    brokers: Object.freeze(brokerList(brokers.value, brokers.source)),
    topics: topicSelection(r),
    mappingsDir: r.text('mappings'),
    logLevel: oneOf(level.value, level.source, LEVELS),
    kafkaSecurity: resolveKafkaSecurity(r.flags, r.env),
    warnings: r.warnings,
  };
}

/** The consumer group timings, checked together (the heartbeat must come well within the session). */
function groupTimings(r: SettingReader): { sessionTimeoutMs: number; heartbeatIntervalMs: number; rebalanceTimeoutMs: number } {
  const sessionTimeoutMs = r.duration('session-timeout');
  const heartbeatIntervalMs = r.duration('heartbeat-interval');
  if (heartbeatIntervalMs >= sessionTimeoutMs) {
    throw new ConfigError(`${r.describe('heartbeat-interval')} must be shorter than ${r.describe('session-timeout')}`);
  }
  return { sessionTimeoutMs, heartbeatIntervalMs, rebalanceTimeoutMs: r.duration('rebalance-timeout') };
}

/** Resolves `run`'s settings: flags over env over defaults, validated, frozen. Throws ConfigError. */
export function resolveRunConfig(flags: RunFlags, env: NodeJS.ProcessEnv = process.env): RunConfig {
  const r = new SettingReader(flags, env);
  const common = kafkaCommon(r);
  const group = r.text('group');
  if (group.trim() === '') throw new ConfigError(`${r.get('group').source}: the consumer group id must not be empty`);
  const onError = r.get('on-error');
  const dlq = r.get('dlq-topic');
  const redisUrl = r.text('redis');
  return Object.freeze({
    ...common,
    group,
    redisUrl,
    secondDeleteDelayMs: r.duration('second-delete-delay'),
    initialPosition: initialPosition(r),
    topicRefreshMs: r.duration('topic-refresh-interval'),
    maxPendingSecondDeletes: r.integer('max-pending-second-deletes', 1, MAX_PENDING_SECOND_DELETES),
    concurrency: r.integer('concurrency', 1, 1_000),
    commitIntervalMs: r.duration('commit-interval'),
    shutdownGraceMs: r.duration('shutdown-grace'),
    ...groupTimings(r),
    fetchMaxWaitMs: r.duration('fetch-max-wait'),
    redisTimeoutMs: r.duration('redis-timeout'),
    redisWaitReplicas: r.integer('redis-wait-replicas', 0, 100),
    redis: resolveRedisConnection(redisUrl, flags, r.env),
    onError: oneOf(onError.value, onError.source, ['dlq', 'fail'] as const),
    poisonTolerance: tolerance(r),
    dlqTopic: dlq.isDefault ? `${group}.dlq` : topicName(dlq.value, dlq.source),
    ...dlqCreate(r),
    maxRecordBytes: r.integer('max-record-bytes', 1, 1_073_741_824),
    ...resolveDecoderConfig(flags, r.env),
    healthPort: port(r, 'health-port'),
    logKeys: r.bool('log-keys'),
    verifySample: ratio(r, 'verify-sample'),
    verifyAfterMs: r.duration('verify-after'),
    verifyMaxPending: r.integer('verify-max-pending', 1, 1_000_000),
  });
}

/** `replay`: Kafka, Redis, the decoder and the second delete; no group, no commit settings. */
export interface ReplayConfig extends KafkaCommandConfig {
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly secondDeleteDelayMs: number;
  readonly maxPendingSecondDeletes: number;
  readonly redisTimeoutMs: number;
  readonly redisWaitReplicas: number;
  readonly redis: RedisConnection;
  readonly format: ValueFormat;
  readonly schemaRegistry?: SchemaRegistryConfig;
}

export function resolveReplayConfig(flags: RunFlags, env: NodeJS.ProcessEnv = process.env): ReplayConfig {
  const r = new SettingReader(flags, env);
  return Object.freeze({
    ...kafkaCommon(r),
    ...groupTimings(r),
    secondDeleteDelayMs: r.duration('second-delete-delay'),
    maxPendingSecondDeletes: r.integer('max-pending-second-deletes', 1, MAX_PENDING_SECOND_DELETES),
    redisTimeoutMs: r.duration('redis-timeout'),
    redisWaitReplicas: r.integer('redis-wait-replicas', 0, 100),
    redis: resolveRedisConnection(r.text('redis'), flags, r.env),
    ...resolveDecoderConfig(flags, r.env),
  });
}

/** `tap`: Kafka and the decoder only (it touches no Redis and no live group). */
export interface TapConfig extends KafkaCommandConfig {
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly format: ValueFormat;
  readonly schemaRegistry?: SchemaRegistryConfig;
}

export function resolveTapConfig(flags: RunFlags, env: NodeJS.ProcessEnv = process.env): TapConfig {
  const r = new SettingReader(flags, env);
  return Object.freeze({ ...kafkaCommon(r), ...groupTimings(r), ...resolveDecoderConfig(flags, r.env) });
}

/** `offsets show|reset`: Kafka and the group only. */
export interface OffsetsConfig extends KafkaCommandConfig {
  readonly group: string;
}

export function resolveOffsetsConfig(flags: RunFlags, env: NodeJS.ProcessEnv = process.env): OffsetsConfig {
  const r = new SettingReader(flags, env);
  const group = r.text('group');
  if (group.trim() === '') throw new ConfigError(`${r.get('group').source}: the consumer group id must not be empty`);
  return Object.freeze({ ...kafkaCommon(r), group });
}

/** The config for logs: the Redis URL without its password. */
export function describeConfig(c: RunConfig): Record<string, unknown> {
  const { warnings: _w, ...rest } = c;
  let redis = c.redisUrl;
  try {
    const u = new URL(c.redisUrl);
    if (u.password) u.password = '***';
    redis = u.toString();
  } catch {
    redis = '[unparseable]';
  }
  return { ...rest, topics: c.topics.kind === 'regex' ? String(c.topics.pattern) : c.topics, redisUrl: redis, redis: describeRedisConnection(c.redis), schemaRegistry: describeSchemaRegistry(c.schemaRegistry), kafkaSecurity: describeKafkaSecurity(c.kafkaSecurity) };
}
