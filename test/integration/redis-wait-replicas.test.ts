import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { resolveRedisConnection } from '../../src/config/redis-connection.js';
import { hashSlot } from '../../src/pipeline/sink/hash-slot.js';
import { RedisSink } from '../../src/pipeline/sink/redis-sink.js';
import { SinkConfigError, SinkError } from '../../src/pipeline/sink/sink.js';
import { waitFor, withTimeout } from '../support/processes.js';
import { startRedisCluster, type ClusterNodeInfo, type RedisCluster } from '../support/redis-cluster.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';
import { exitOf, spawnCli } from '../support/worker.js';

const quiet = pino({ level: 'silent' });

async function errorOf(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  assert.fail('expected an error');
}

/** A key that hashes to a slot served by `master`. */
function keyOn(master: ClusterNodeInfo, prefix: string): string {
  for (let i = 0; i < 100_000; i++) {
    const k = `${prefix}:${i}`;
    const slot = hashSlot(k);
    if (master.ranges.some(([a, b]) => slot >= a && slot <= b)) return k;
  }
  throw new Error('no key found');
}

describe('--redis-wait-replicas against a Redis Cluster with a shard that lost its replica', { timeout: 120_000 }, () => {
  let cluster: RedisCluster;
  let sink: RedisSink;
  let masters: ClusterNodeInfo[];
  before(async () => {
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
    const nodes = await cluster.nodes();
    masters = nodes.filter((n) => n.master).sort((a, b) => a.ranges[0]![0] - b.ranges[0]![0]);
    for (const m of masters) {
      const c = cluster.node(m.port);
      await waitFor(async () => /slave0:.*state=online/.test(await c.info('replication')), { timeoutMs: 30_000, message: `the replica of ${m.port} online` });
    }
    sink = new RedisSink({ connection: resolveRedisConnection(cluster.seeds, { redisCluster: true }, {}), commandTimeoutMs: 1_000, chunkSize: 512, waitReplicas: 1 }, quiet);
    await sink.ping(); // every shard has its replica at start
    // The third shard's replica goes away: its master has no replica to WAIT for.
    const lost = nodes.find((n) => n.replicaOf === masters[2]!.id)!;
    await cluster.node(lost.port).call('SHUTDOWN', 'NOSAVE').catch(() => undefined);
    const m = cluster.node(masters[2]!.port);
    await waitFor(async () => /connected_slaves:0/.test(await m.info('replication')), { timeoutMs: 10_000, message: 'the third master lost its replica' });
  });
  after(async () => {
    await sink?.close();
    await cluster?.cleanup();
  });

  it('a pass that writes only to shards with their replicas completes (WAIT goes to the masters written, not to every master)', async () => {
    const redis = cluster.client();
    const keys = [keyOn(masters[0]!, 'a'), keyOn(masters[1]!, 'b'), keyOn(masters[0]!, 'c')];
    for (const k of keys) await redis.set(k, 'cached');
    const tag = keyOn(masters[1]!, 'tag');
    await redis.sadd(tag, keys[0]!);
    // Before: WAIT went to all three masters, the third answered 0, and every pass failed (and was retried forever).
    assert.equal(await withTimeout(sink.unlink(keys), 5_000, 'unlink'), 3);
    await withTimeout(sink.bumpVersions([keyOn(masters[0]!, 'ver')]), 5_000, 'bumpVersions');
    await withTimeout(sink.purgeTags([tag]), 5_000, 'purgeTags');
    assert.equal(await redis.exists(tag), 0);
  });

  it('a pass that writes to the replica-less shard fails (retried by the worker), naming that master', async () => {
    const err = await errorOf(sink.unlink([keyOn(masters[0]!, 'd'), keyOn(masters[2]!, 'e')]));
    assert.ok(err instanceof SinkError && !err.fatal, err.message);
    assert.match(err.message, new RegExp(`WAIT 1: 127\\.0\\.0\\.1:${masters[2]!.port} had 0 replica\\(s\\) acknowledging`));
    assert.doesNotMatch(err.message, new RegExp(`:${masters[0]!.port} `));
  });

  it('at start, a shard without its replica is a configuration error naming the master', async () => {
    const fresh = new RedisSink({ connection: resolveRedisConnection(cluster.seeds, { redisCluster: true }, {}), commandTimeoutMs: 1_000, chunkSize: 512, waitReplicas: 1 }, quiet);
    try {
      const err = await errorOf(fresh.ping());
      assert.ok(err instanceof SinkConfigError, err.message);
      assert.match(err.message, new RegExp(`^--redis-wait-replicas 1: 127\\.0\\.0\\.1:${masters[2]!.port} has 0 replica\\(s\\) acknowledging`));
    } finally {
      await fresh.close();
    }
  });
});

describe('--redis-wait-replicas against one Redis', { timeout: 60_000 }, () => {
  let redis: RedisServer;
  before(async () => (redis = await startRedis()));
  after(async () => redis?.cleanup());

  it('without a replica the CLI stops at start with exit 78 and one line naming the setting (it stalled forever with one warning)', async () => {
    const child = spawnCli(['run', '--brokers', '127.0.0.1:1', '--redis', redis.url, '--topics', 't', '--redis-wait-replicas', '1', '--redis-timeout', '1s', '--log-level', 'error']);
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await withTimeout(exitOf(child), 30_000, 'the CLI to exit');
    assert.equal(code, 78, stderr);
    assert.match(stderr, new RegExp(`cdc-invalidator: --redis-wait-replicas 1: 127\\.0\\.0\\.1:${redis.port} has 0 replica\\(s\\) acknowledging \\(WAIT 1 within 500 ms\\): no delete pass could complete`));
  });

  it('with a replica the start check passes', async () => {
    const replica = await startRedis();
    try {
      await replica.client().replicaof('127.0.0.1', redis.port);
      const master = redis.client();
      await waitFor(async () => /slave0:.*state=online/.test(await master.info('replication')), { timeoutMs: 15_000, message: 'the replica online' });
      const sink = new RedisSink({ url: redis.url, commandTimeoutMs: 1_000, chunkSize: 512, waitReplicas: 1 }, quiet);
      try {
        await sink.ping();
        assert.equal(await sink.unlink(['k']), 0);
      } finally {
        await sink.close();
      }
    } finally {
      await replica.cleanup();
    }
  });
});
