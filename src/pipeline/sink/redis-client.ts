import type { ConnectionOptions } from 'node:tls';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisConnection } from '../../config/redis-connection.js';

export type RedisClient = Redis | Cluster;

export interface RedisClientOptions {
  /** A command not answered within this time fails (and the caller retries). */
  readonly commandTimeoutMs: number;
}

/** Reconnect backoff: 100 ms doubling to 2 s, forever (the worker pauses meanwhile). */
const reconnectDelay = (times: number): number => Math.min(50 * 2 ** Math.min(times, 10), 2_000);

/** READONLY: we talk to a replica (an old master after a failover): reconnect, which asks the sentinels again. */
export function reconnectOnReadonly(err: Error): 1 | false {
  // 1 (reconnect, fail the command) rather than 2 (reconnect and resend): with the offline queue off a
  // resent command would fail anyway before the new connection is ready; the worker's retry loop resends.
  return err.message.startsWith('READONLY') ? 1 : false;
}

function tlsOptions(c: RedisConnection): ConnectionOptions | undefined {
  if (!c.tls) return undefined;
  return { ...(c.tls.ca ? { ca: c.tls.ca } : {}), ...(c.tls.cert ? { cert: c.tls.cert } : {}), ...(c.tls.key ? { key: c.tls.key } : {}) };
}

/**
 * Options every connection shares. The offline queue is off: while Redis is unreachable a command
 * fails at once and the worker's retry loop (which pauses consumption) decides — nothing piles up
 * in memory. No ready check: it would need INFO, which the least-privilege ACL does not grant; a
 * server still loading answers LOADING, which the worker retries.
 */
function baseOptions(c: RedisConnection, o: RedisClientOptions): RedisOptions {
  const tls = tlsOptions(c);
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    enableReadyCheck: false,
    commandTimeout: o.commandTimeoutMs,
    connectTimeout: Math.max(1_000, o.commandTimeoutMs),
    retryStrategy: reconnectDelay,
    // No connectionName: with the ready check off, ioredis (5.x, event_handler.js) marks a connection
    // ready once CLIENT SETNAME settles even when the socket closed meanwhile — a cut during the
    // handshake then leaves a "ready" client on a dead socket that never reconnects.
    disableClientInfo: true,
    ...(c.username !== undefined ? { username: c.username } : {}),
    ...(c.password !== undefined ? { password: c.password } : {}),
    ...(tls ? { tls } : {}),
  };
}

/** One ioredis client for the configured topology: a Redis, a Cluster, or a Redis through Sentinel. */
export function createRedisClient(c: RedisConnection, o: RedisClientOptions): RedisClient {
  const base = baseOptions(c, o);
  const t = c.topology;
  if (t.kind === 'standalone') return new Redis({ ...base, host: t.endpoint.host, port: t.endpoint.port, db: t.db });
  if (t.kind === 'sentinel') {
    const tls = base.tls;
    return new Redis({
      ...base,
      sentinels: t.sentinels.map((e) => ({ host: e.host, port: e.port })),
      name: t.masterName,
      role: 'master',
      db: t.db,
      ...(t.sentinelUsername !== undefined ? { sentinelUsername: t.sentinelUsername } : {}),
      ...(t.sentinelPassword !== undefined ? { sentinelPassword: t.sentinelPassword } : {}),
      // TLS applies to the sentinels and to the master they name.
      ...(tls ? { sentinelTLS: tls, enableTLSForSentinelMode: true } : {}),
      sentinelCommandTimeout: o.commandTimeoutMs,
      sentinelRetryStrategy: reconnectDelay,
      // +switch-master from any sentinel drops the connection at once instead of at the first READONLY.
      failoverDetector: true,
      reconnectOnError: reconnectOnReadonly,
    });
  }
  const { retryStrategy: _node, enableOfflineQueue: _queue, ...nodeOptions } = base;
  const options: ClusterOptions = {
    // Commands fail at once while no slot map is known, as with one Redis.
    enableOfflineQueue: false,
    enableReadyCheck: true, // CLUSTER INFO: cluster_state must be ok
    scaleReads: 'master',
    maxRedirections: 16,
    retryDelayOnMoved: 0,
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    retryDelayOnTryAgain: 100,
    slotsRefreshTimeout: Math.max(1_000, o.commandTimeoutMs),
    slotsRefreshInterval: 5_000,
    clusterRetryStrategy: reconnectDelay,
    redisOptions: nodeOptions,
  };
  return new Cluster(
    t.seeds.map((e) => ({ host: e.host, port: e.port })),
    options,
  );
}
