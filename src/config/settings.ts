/**
 * The one table of every command's settings: flag, environment variable (named after the flag:
 * CDC_INVALIDATOR_ + the flag in upper snake case), deprecated names still accepted, default, help
 * text. The CLI builds its options from it, help shows its defaults and variables, the README's
 * table is generated from it (scripts/settings-table.ts; a test keeps them equal).
 */

export type CommandName = 'run' | 'replay' | 'tap' | 'offsets' | 'offsets reset' | 'explain' | 'mappings';

export interface Setting {
  /** The flag without dashes (`brokers` → `--brokers`); env-only settings (credentials) have no flag. */
  readonly name: string;
  readonly flag: boolean;
  /** The flag's value placeholder (`<list>`); absent: a switch. */
  readonly arg?: string;
  /** Read from the environment too (one-shot arguments of a single invocation are not). */
  readonly env: boolean;
  /** Default as the user writes it ('' = none). */
  readonly default: string;
  readonly help: string;
  /** Today's environment names of this setting, accepted with a deprecation warning. */
  readonly deprecatedEnv?: readonly string[];
  /** Deprecated flag spellings (accepted with a warning). */
  readonly deprecatedFlags?: readonly string[];
  readonly commands: readonly CommandName[];
  /** A credential: environment only, also as NAME_FILE (a file holding it). */
  readonly secret?: boolean;
}

export const ENV_PREFIX = 'CDC_INVALIDATOR_';

const KAFKA: readonly CommandName[] = ['run', 'replay', 'tap', 'offsets'];
const STREAM: readonly CommandName[] = ['run', 'replay', 'tap'];
const REDIS: readonly CommandName[] = ['run', 'replay'];

const s = (name: string, o: Omit<Setting, 'name' | 'flag' | 'env'> & { flag?: boolean; env?: boolean }): Setting => ({ name, flag: o.flag ?? true, env: o.env ?? true, ...o });

export const SETTINGS: readonly Setting[] = [
  s('brokers', { arg: '<host:port,…>', default: 'localhost:9092', help: 'Kafka bootstrap servers, comma-separated', deprecatedEnv: ['KAFKA_BROKERS'], commands: KAFKA }),
  s('group', { arg: '<id>', default: 'cdc-invalidator', help: 'consumer group id', deprecatedEnv: ['KAFKA_GROUP_ID'], commands: ['run', 'offsets'] }),
  s('topics', { arg: '<list|/regex/>', default: '', help: 'topics: a comma-separated list or /regex/', deprecatedEnv: ['KAFKA_TOPICS'], commands: KAFKA }),
  s('topic-prefix', { arg: '<prefix>', default: '', help: 'Debezium topic.prefix: consumes <prefix>.<schema>.<table> of every mapped table', deprecatedEnv: ['TOPIC_PREFIX'], commands: KAFKA }),
  s('redis', { arg: '<url>', default: 'redis://localhost:6379', help: 'Redis URL (redis:// or rediss://); with --redis-cluster a comma-separated list of seed URLs', deprecatedEnv: ['REDIS_URL'], commands: REDIS }),
  s('mappings', { arg: '<dir>', default: './mappings', help: 'directory of mapping files', deprecatedEnv: ['MAPPINGS_DIR'], commands: ['run', 'replay', 'tap', 'offsets', 'explain', 'mappings'] }),
  s('second-delete-delay', { arg: '<duration>', default: '1000ms', help: 'delay of the second delete (ms, or 1500ms, 2s; at most 10m); 0 turns it off', deprecatedEnv: ['SECOND_DELETE_DELAY'], commands: REDIS }),
  s('max-pending-second-deletes', { arg: '<n>', default: '200000', help: 'backpressure: while more names (keys, tags) than this await their second delete, the next batch waits (1–10000000)', commands: REDIS }),
  s('from-beginning', { default: 'false', help: 'where the group has no committed offset, start at the earliest (else the latest)', deprecatedEnv: ['FROM_BEGINNING'], commands: ['run'] }),
  s('log-level', { arg: '<level>', default: 'info', help: 'fatal, error, warn, info, debug, trace or silent', deprecatedEnv: ['LOG_LEVEL'], commands: KAFKA }),
  s('concurrency', { arg: '<n>', default: '4', help: 'partitions processed concurrently (1–1000)', deprecatedEnv: ['CONCURRENCY'], commands: ['run'] }),
  s('commit-interval', { arg: '<duration>', default: '200ms', help: 'least time between two offset commits (0–1m)', deprecatedEnv: ['COMMIT_INTERVAL'], commands: ['run'] }),
  s('shutdown-grace', { arg: '<duration>', default: '10s', help: 'time to drain on SIGTERM, or after a failure, before pending work is abandoned, left uncommitted (0–1h)', deprecatedEnv: ['SHUTDOWN_GRACE'], commands: ['run'] }),
  s('session-timeout', { arg: '<duration>', default: '30s', help: 'consumer group session timeout (1s–30m)', deprecatedEnv: ['KAFKA_SESSION_TIMEOUT'], commands: STREAM }),
  s('heartbeat-interval', { arg: '<duration>', default: '3s', help: 'consumer group heartbeat interval (10ms–10m, shorter than --session-timeout)', deprecatedEnv: ['KAFKA_HEARTBEAT_INTERVAL'], commands: STREAM }),
  s('rebalance-timeout', { arg: '<duration>', default: '60s', help: 'consumer group rebalance timeout (1s–30m)', deprecatedEnv: ['KAFKA_REBALANCE_TIMEOUT'], commands: STREAM }),
  s('fetch-max-wait', { arg: '<duration>', default: '500ms', help: 'longest time a fetch waits for new records (0–30s; Kafka answers as soon as there are some)', deprecatedEnv: ['KAFKA_FETCH_MAX_WAIT'], commands: ['run'] }),
  s('redis-timeout', { arg: '<duration>', default: '5s', help: 'a Redis call not answered in this time fails and is retried (10ms–10m)', deprecatedEnv: ['REDIS_COMMAND_TIMEOUT'], commands: REDIS }),
  s('redis-cluster', { default: 'false', help: 'Redis Cluster: --redis is a comma-separated list of seed URLs', deprecatedEnv: ['REDIS_CLUSTER'], commands: REDIS }),
  s('redis-sentinels', { arg: '<host:port,…>', default: '', help: 'Redis Sentinel: host:port of the sentinels, comma-separated (with --redis-sentinel-master)', deprecatedEnv: ['REDIS_SENTINELS'], commands: REDIS }),
  s('redis-sentinel-master', { arg: '<name>', default: '', help: 'the master name the sentinels monitor', deprecatedEnv: ['REDIS_SENTINEL_MASTER'], commands: REDIS }),
  s('redis-wait-replicas', { arg: '<n>', default: '0', help: 'replicas each delete pass must reach (Redis WAIT) before it counts as done and offsets move on; 0 = off', deprecatedEnv: ['REDIS_WAIT_REPLICAS'], commands: REDIS }),
  s('redis-tls-ca', { arg: '<file>', default: '', help: 'PEM CA bundle Redis certificates are verified with (turns TLS on)', deprecatedEnv: ['REDIS_TLS_CA_FILE'], commands: REDIS }),
  s('redis-tls-cert', { arg: '<file>', default: '', help: 'PEM client certificate for Redis (with --redis-tls-key; turns TLS on)', deprecatedEnv: ['REDIS_TLS_CERT_FILE'], commands: REDIS }),
  s('redis-tls-key', { arg: '<file>', default: '', help: 'PEM private key of the Redis client certificate', deprecatedEnv: ['REDIS_TLS_KEY_FILE'], commands: REDIS }),
  s('redis-username', { flag: false, secret: true, default: '', help: 'Redis ACL user (default: the user in --redis, else "default")', deprecatedEnv: ['REDIS_USERNAME'], commands: REDIS }),
  s('redis-password', { flag: false, secret: true, default: '', help: 'Redis password (never a flag)', deprecatedEnv: ['REDIS_PASSWORD'], commands: REDIS }),
  s('redis-sentinel-username', { flag: false, secret: true, default: '', help: 'ACL user on the sentinels', deprecatedEnv: ['REDIS_SENTINEL_USERNAME'], commands: REDIS }),
  s('redis-sentinel-password', { flag: false, secret: true, default: '', help: 'password on the sentinels', deprecatedEnv: ['REDIS_SENTINEL_PASSWORD'], commands: REDIS }),
  s('on-error', { arg: '<policy>', default: 'dlq', help: 'a poison record: dlq (park it in the dead-letter topic, go on) or fail (stop before it, exit 1)', deprecatedEnv: ['ON_ERROR'], commands: ['run'] }),
  s('poison-tolerance', { arg: '<none|ratio|all>', default: '0.5', help: 'the poison breaker: stop (exit 1) when more than this share of the last 100 records of a partition were poison, committing nothing of the batch that tripped it; none = at the first poison record, all = never', commands: ['run'] }),
  s('dlq-topic', { arg: '<topic>', default: '<group>.dlq', help: 'the dead-letter topic', deprecatedEnv: ['DLQ_TOPIC'], commands: ['run'] }),
  s('max-record-bytes', { arg: '<n>', default: '8388608', help: 'a record value larger than this is poison, too_large (1–1073741824)', deprecatedEnv: ['MAX_RECORD_BYTES'], commands: ['run'] }),
  s('format', { arg: '<format>', default: 'auto', help: 'record values: json, avro (Schema Registry framed: Avro, Protobuf, JSON Schema) or auto (framed values through the registry, the rest as JSON)', deprecatedEnv: ['VALUE_FORMAT'], commands: STREAM }),
  s('schema-registry', { arg: '<url>', default: '', help: 'Confluent-compatible Schema Registry URL (needed by --format avro)', deprecatedEnv: ['SCHEMA_REGISTRY_URL'], commands: [...STREAM, 'explain'] }),
  s('schema-registry-username', { flag: false, secret: true, default: '', help: 'Schema Registry basic-auth user', deprecatedEnv: ['SCHEMA_REGISTRY_USERNAME'], commands: [...STREAM, 'explain'] }),
  s('schema-registry-password', { flag: false, secret: true, default: '', help: 'Schema Registry basic-auth password (never a flag)', deprecatedEnv: ['SCHEMA_REGISTRY_PASSWORD'], commands: [...STREAM, 'explain'] }),
  s('schema-registry-ca', { arg: '<file>', default: '', help: 'PEM CA bundle for an https:// registry (default: the system CAs)', deprecatedEnv: ['SCHEMA_REGISTRY_CA_FILE'], commands: [...STREAM, 'explain'] }),
  s('schema-registry-timeout', { arg: '<duration>', default: '5s', help: 'a registry lookup not answered in this time is retried, the partition waits (1ms–5m)', deprecatedEnv: ['SCHEMA_REGISTRY_TIMEOUT'], commands: STREAM }),
  s('health-port', { arg: '<port>', default: '0', help: 'port of the HTTP server with /livez, /readyz and /metrics (0 = none)', deprecatedEnv: ['HEALTH_PORT'], commands: ['run'] }),
  s('kafka-sasl-mechanism', { arg: '<mechanism>', default: '', help: 'Kafka SASL: plain, scram-sha-256 or scram-sha-512 (empty = no SASL)', deprecatedEnv: ['KAFKA_SASL_MECHANISM'], commands: KAFKA }),
  s('kafka-sasl-username', { flag: false, secret: true, default: '', help: 'Kafka SASL user', deprecatedEnv: ['KAFKA_SASL_USERNAME'], commands: KAFKA }),
  s('kafka-sasl-password', { flag: false, secret: true, default: '', help: 'Kafka SASL password (never a flag)', deprecatedEnv: ['KAFKA_SASL_PASSWORD'], commands: KAFKA }),
  s('kafka-tls', { default: 'false', help: 'TLS to the brokers (a CA, client certificate or server name turns it on too)', deprecatedEnv: ['KAFKA_TLS'], commands: KAFKA }),
  s('kafka-tls-ca', { arg: '<file>', default: '', help: 'PEM CA bundle the broker certificates are checked against (default: the system CAs)', deprecatedEnv: ['KAFKA_TLS_CA_FILE'], commands: KAFKA }),
  s('kafka-tls-cert', { arg: '<file>', default: '', help: 'PEM client certificate (mutual TLS); needs --kafka-tls-key', deprecatedEnv: ['KAFKA_TLS_CERT_FILE'], commands: KAFKA }),
  s('kafka-tls-key', { arg: '<file>', default: '', help: 'PEM private key of the client certificate', deprecatedEnv: ['KAFKA_TLS_KEY_FILE'], commands: KAFKA }),
  s('kafka-tls-key-password', { flag: false, secret: true, default: '', help: 'passphrase of an encrypted client key', deprecatedEnv: ['KAFKA_TLS_KEY_PASSWORD'], commands: KAFKA }),
  s('kafka-tls-servername', { arg: '<name>', default: '', help: 'TLS server name (SNI, certificate check) when it differs from the broker host', deprecatedEnv: ['KAFKA_TLS_SERVERNAME'], commands: KAFKA }),
  s('verify-sample', { arg: '<ratio>', default: '0', help: "the inspector: share of changes whose keys are read back after their second delete (0–1; 0 = off); a value whose envelope says it was filled from an older row version is counted stale and deleted", commands: ['run'] }),
  s('verify-after', { arg: '<duration>', default: '5s', help: "how long after a change's second delete the inspector reads its keys back (100ms–10m)", commands: ['run'] }),
  s('verify-max-pending', { arg: '<n>', default: '10000', help: 'most keys awaiting the inspector at once; more samples are dropped and counted (1–1000000)', commands: ['run'] }),
  s('log-keys', { default: 'false', help: 'allow cache key names and row values in debug logs (they may hold user data)', deprecatedEnv: ['LOG_KEYS'], commands: ['run'] }),
  // replay
  s('from', { env: false, arg: '<position>', default: 'earliest', help: 'window start: earliest, latest, now, an ISO time, a duration ago (2h) or partition:offset pairs', commands: ['replay'] }),
  s('to', { env: false, arg: '<position>', default: 'latest', help: 'window end (excluded), same forms as --from', commands: ['replay'] }),
  s('mapping', { env: false, arg: '<name>', default: '', help: 'apply only this mapping (repeatable)', commands: ['replay'] }),
  s('ops', { env: false, arg: '<list>', default: '', help: 'also fire on these ops, e.g. r to replay snapshot reads', commands: ['replay'] }),
  s('dry-run', { env: false, default: 'false', help: 'count events and distinct keys, print a sample; touch nothing', commands: ['replay'] }),
  s('max-rate', { env: false, arg: '<keys/s>', default: '', help: 'at most this many keys per second to Redis (default: no limit)', commands: ['replay'] }),
  // tap
  s('table', { env: false, arg: '<schema.table>', default: '', help: 'only events of this table', commands: ['tap'] }),
  s('limit', { env: false, arg: '<n>', default: '', help: 'stop after n events (default: until Ctrl-C)', commands: ['tap'] }),
  s('worker-metrics', { env: false, arg: '<url>', default: '', help: "a live worker's /metrics (its --health-port): every 5 s, print on stderr what each pass removed per mapping", commands: ['tap'] }),
  // offsets reset
  s('to', { env: false, arg: '<position>', default: '', help: 'the new committed offsets: earliest, latest, an ISO time, a duration ago or partition:offset pairs', commands: ['offsets reset'] }),
  s('shift-by', { env: false, arg: '<n>', default: '', help: 'move every partition by n (negative: back)', commands: ['offsets reset'] }),
  s('execute', { env: false, default: 'false', help: 'apply the plan (without it: print the plan only)', commands: ['offsets reset'] }),
  // explain
  s('topic', { env: false, arg: '<name>', default: '', help: 'topic the record came from (routes events that carry no source block)', commands: ['explain'] }),
  s('output', { env: false, arg: '<format>', default: 'json', help: 'json (one line per file) or text', deprecatedFlags: ['format'], commands: ['explain'] }),
];

export function findSetting(name: string): Setting {
  const found = SETTINGS.find((x) => x.name === name);
  if (!found) throw new Error(`no setting ${name}`);
  return found;
}

export function envName(setting: Setting | string): string {
  const name = typeof setting === 'string' ? setting : setting.name;
  return ENV_PREFIX + name.toUpperCase().replace(/-/g, '_');
}

/** The commander attribute of a flag (`redis-tls-ca` → `redisTlsCa`). */
export function attributeName(name: string): string {
  return name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

export function settingsOf(command: CommandName): Setting[] {
  return SETTINGS.filter((x) => x.commands.includes(command));
}

/** Help text of a setting: what it does, its variable, its default. */
export function helpText(setting: Setting): string {
  const parts = [setting.help];
  const extra: string[] = [];
  if (setting.env) extra.push(`env ${envName(setting)}`);
  if (setting.default !== '' && setting.default !== 'false') extra.push(`default ${setting.default}`);
  return extra.length ? `${parts.join('')} (${extra.join(', ')})` : parts.join('');
}

/**
 * The environment with today's deprecated names copied to the new ones (where the new one is unset),
 * and one warning per deprecated name in use. Credentials bring their `_FILE` form along.
 */
export function withDeprecatedEnv(env: NodeJS.ProcessEnv): { env: NodeJS.ProcessEnv; warnings: string[]; aliasOf: Map<string, string> } {
  const out: NodeJS.ProcessEnv = { ...env };
  const warnings: string[] = [];
  const aliasOf = new Map<string, string>();
  const set = (v: string | undefined): boolean => v !== undefined && v !== '';
  for (const setting of SETTINGS) {
    if (!setting.env) continue;
    const pairs: [string, string][] = (setting.deprecatedEnv ?? []).map((old) => [old, envName(setting)]);
    if (setting.secret) for (const old of setting.deprecatedEnv ?? []) pairs.push([`${old}_FILE`, `${envName(setting)}_FILE`]);
    for (const [old, now] of pairs) {
      if (!set(env[old])) continue;
      if (set(env[now])) {
        warnings.push(`${old} is deprecated and ignored: ${now} is set too`);
        continue;
      }
      out[now] = env[old];
      aliasOf.set(now, old);
      warnings.push(`${old} is deprecated: use ${now}`);
    }
  }
  return { env: out, warnings, aliasOf };
}

/** The README's settings table (between `<!-- settings:begin -->` and `<!-- settings:end -->`). */
export function markdownTable(): string {
  const rows = ['| flag | env var (deprecated name) | default | commands | meaning |', '| --- | --- | --- | --- | --- |'];
  const code = (t: string): string => `\`${t}\``;
  for (const x of SETTINGS) {
    if (!x.env) continue;
    const flag = x.flag ? code(`--${x.name}`) : '—';
    const names = [envName(x), ...(x.secret ? [`${envName(x)}_FILE`] : [])].map(code).join(', ');
    const old = (x.deprecatedEnv ?? []).map(code).join(', ');
    const env = old ? `${names} (${old})` : names;
    const dflt = x.default === '' ? '—' : code(x.default);
    const commands = x.commands.filter((c) => c !== 'offsets reset').join(', ');
    rows.push(`| ${flag} | ${env} | ${dflt} | ${commands} | ${x.help.replace(/\|/g, '\\|')} |`);
  }
  return rows.join('\n');
}

export const TABLE_BEGIN = '<!-- settings:begin (generated from src/config/settings.ts: npm run docs:settings) -->';
export const TABLE_END = '<!-- settings:end -->';
