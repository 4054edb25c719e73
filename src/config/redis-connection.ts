import { ConfigError } from './errors.js';
import { fileFromEnv, secretFromEnv } from './secrets.js';

/** The Redis flags of `run` and `replay` as commander hands them over (src/config/settings.ts). */
export interface RedisFlags {
  redisCluster?: boolean;
  redisSentinels?: string;
  redisSentinelMaster?: string;
  redisWaitReplicas?: string;
  redisTlsCa?: string;
  redisTlsCert?: string;
  redisTlsKey?: string;
}

export interface RedisEndpoint {
  readonly host: string;
  readonly port: number;
}

/** PEM contents, read once at start. `tls` present = TLS on (system CAs when `ca` is absent). */
export interface RedisTls {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

export type RedisTopology =
  | { readonly kind: 'standalone'; readonly endpoint: RedisEndpoint; readonly db: number }
  | { readonly kind: 'cluster'; readonly seeds: readonly RedisEndpoint[] }
  | {
      readonly kind: 'sentinel';
      readonly sentinels: readonly RedisEndpoint[];
      readonly masterName: string;
      readonly db: number;
      readonly sentinelUsername: string | undefined;
      readonly sentinelPassword: string | undefined;
    };

/** Everything needed to build the client (src/pipeline/sink/redis-client.ts). */
export interface RedisConnection {
  readonly topology: RedisTopology;
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly tls: RedisTls | undefined;
}

interface ParsedUrl {
  readonly endpoint: RedisEndpoint;
  readonly tls: boolean;
  readonly db: number;
  readonly username: string | undefined;
  readonly password: string | undefined;
}

function parseUrl(raw: string, what: string): ParsedUrl {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new ConfigError(`${what}: "${redactUrl(raw)}" is not a URL (expected redis://host:port or rediss://host:port)`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new ConfigError(`${what}: expected a redis:// or rediss:// URL, got ${u.protocol}//`);
  if (!u.hostname) throw new ConfigError(`${what}: no host in ${redactUrl(raw)}`);
  const port = u.port === '' ? 6379 : Number(u.port);
  const dbText = u.pathname.replace(/^\//, '');
  const db = dbText === '' ? 0 : Number(dbText);
  if (!Number.isInteger(db) || db < 0) throw new ConfigError(`${what}: database "${dbText}" is not a number`);
  return {
    endpoint: { host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port },
    tls: u.protocol === 'rediss:',
    db,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
  };
}

/** A URL for messages: any password replaced. */
function redactUrl(raw: string): string {
  return raw.replace(/(\/\/[^/@]*:)[^/@]*@/, '$1***@');
}

function endpoints(list: string, what: string): RedisEndpoint[] {
  const items = list.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new ConfigError(`${what}: no host:port given`);
  return items.map((item) => {
    const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(item);
    const port = m ? Number(m[2]) : NaN;
    if (!m || port < 1 || port > 65_535) throw new ConfigError(`${what}: expected host:port, got "${item}"`);
    return { host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port };
  });
}

function pick(flag: string | undefined, env: NodeJS.ProcessEnv, name: string): string {
  const fromEnv = env[name];
  return flag ?? (fromEnv !== undefined ? fromEnv.trim() : '');
}

function boolSetting(flag: boolean | undefined, env: NodeJS.ProcessEnv, name: string): boolean {
  if (flag !== undefined) return flag;
  const v = (env[name] ?? '').trim();
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off|)$/i.test(v)) return false;
  throw new ConfigError(`${name}: expected true or false, got "${v}"`);
}

/** One credential: from the URL(s) or from the environment, not both. */
function credential(fromUrl: string | undefined, env: NodeJS.ProcessEnv, name: string): string | undefined {
  const fromEnv = secretFromEnv(env, name);
  if (fromUrl !== undefined && fromEnv !== undefined) throw new ConfigError(`--redis carries a ${name === 'CDC_INVALIDATOR_REDIS_PASSWORD' ? 'password' : 'user name'} and ${name} is set too; give one (prefer ${name} or ${name}_FILE)`);
  return fromEnv ?? fromUrl;
}

/**
 * Resolves the Redis connection from `--redis` (one URL, or with --redis-cluster a comma-separated
 * list of seed URLs), the topology and TLS flags/env, and the credentials from env/files.
 * Throws ConfigError naming the flag or variable at fault.
 */
export function resolveRedisConnection(redis: string, flags: RedisFlags, env: NodeJS.ProcessEnv): RedisConnection {
  const cluster = boolSetting(flags.redisCluster, env, 'CDC_INVALIDATOR_REDIS_CLUSTER');
  const sentinelList = pick(flags.redisSentinels, env, 'CDC_INVALIDATOR_REDIS_SENTINELS');
  const masterName = pick(flags.redisSentinelMaster, env, 'CDC_INVALIDATOR_REDIS_SENTINEL_MASTER');
  if (cluster && sentinelList) throw new ConfigError('--redis-cluster and --redis-sentinels exclude each other');
  if (sentinelList && !masterName) throw new ConfigError('--redis-sentinels needs --redis-sentinel-master (env CDC_INVALIDATOR_REDIS_SENTINEL_MASTER)');
  if (masterName && !sentinelList) throw new ConfigError('--redis-sentinel-master needs --redis-sentinels (env CDC_INVALIDATOR_REDIS_SENTINELS)');

  const urls = redis.split(',').map((s) => s.trim()).filter(Boolean);
  if (urls.length === 0) throw new ConfigError('--redis: no URL given');
  if (urls.length > 1 && !cluster) throw new ConfigError('--redis: a list of URLs needs --redis-cluster (env CDC_INVALIDATOR_REDIS_CLUSTER=true)');
  const parsed = urls.map((u, i) => parseUrl(u, urls.length > 1 ? `--redis (entry ${i + 1})` : '--redis'));
  const first = parsed[0]!;
  if (parsed.some((p) => p.tls !== first.tls)) throw new ConfigError('--redis: mix of redis:// and rediss:// seeds; use one scheme');
  const urlUser = parsed.find((p) => p.username !== undefined)?.username;
  const urlPassword = parsed.find((p) => p.password !== undefined)?.password;
  if (cluster && parsed.some((p) => p.db !== 0)) throw new ConfigError('--redis: Redis Cluster has only database 0');

  const ca = fileFromEnv(env, 'CDC_INVALIDATOR_REDIS_TLS_CA', flags.redisTlsCa);
  const cert = fileFromEnv(env, 'CDC_INVALIDATOR_REDIS_TLS_CERT', flags.redisTlsCert);
  const key = fileFromEnv(env, 'CDC_INVALIDATOR_REDIS_TLS_KEY', flags.redisTlsKey);
  if ((cert === undefined) !== (key === undefined)) throw new ConfigError('--redis-tls-cert and --redis-tls-key (CDC_INVALIDATOR_REDIS_TLS_CERT, CDC_INVALIDATOR_REDIS_TLS_KEY) go together');
  const tlsOn = first.tls || ca !== undefined || cert !== undefined;
  const tls: RedisTls | undefined = tlsOn ? Object.freeze({ ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) }) : undefined;

  let topology: RedisTopology;
  if (cluster) topology = { kind: 'cluster', seeds: Object.freeze(parsed.map((p) => p.endpoint)) };
  else if (sentinelList) {
    topology = {
      kind: 'sentinel',
      sentinels: Object.freeze(endpoints(sentinelList, '--redis-sentinels')),
      masterName,
      db: first.db,
      sentinelUsername: secretFromEnv(env, 'CDC_INVALIDATOR_REDIS_SENTINEL_USERNAME'),
      sentinelPassword: secretFromEnv(env, 'CDC_INVALIDATOR_REDIS_SENTINEL_PASSWORD'),
    };
  } else topology = { kind: 'standalone', endpoint: first.endpoint, db: first.db };

  return Object.freeze({
    topology: Object.freeze(topology),
    username: credential(urlUser, env, 'CDC_INVALIDATOR_REDIS_USERNAME'),
    password: credential(urlPassword, env, 'CDC_INVALIDATOR_REDIS_PASSWORD'),
    tls,
  });
}

/** A connection from one redis:// or rediss:// URL alone (tests, tools). */
export function redisConnectionFromUrl(url: string): RedisConnection {
  return resolveRedisConnection(url, {}, {});
}

/** For logs: topology, endpoints, user, whether a password and TLS files are set — never a secret. */
export function describeRedisConnection(c: RedisConnection): Record<string, unknown> {
  const t = c.topology;
  const hostPort = (e: RedisEndpoint): string => `${e.host}:${e.port}`;
  const where =
    t.kind === 'standalone'
      ? { endpoint: hostPort(t.endpoint), db: t.db }
      : t.kind === 'cluster'
        ? { seeds: t.seeds.map(hostPort) }
        : { sentinels: t.sentinels.map(hostPort), master: t.masterName, db: t.db, sentinelAuth: t.sentinelPassword !== undefined };
  return {
    topology: t.kind,
    ...where,
    username: c.username,
    password: c.password === undefined ? undefined : '***',
    tls: c.tls ? { ca: c.tls.ca !== undefined, clientCert: c.tls.cert !== undefined } : false,
  };
}
