import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { createCacheClient, type CacheClient, type CacheEntry } from '../../../src/client/index.js';
import { appRedis, CLIENT_MAPPINGS, delay } from '../../support/client.js';
import { startMonitor, startWorkerStack, unlinks, type MonitorLog, type WorkerStack } from '../../support/client-stack.js';
import { postgresUnavailable } from '../../support/postgres.js';
import { waitFor } from '../../support/processes.js';
import { startRedis, type RedisServer } from '../../support/redis-server.js';
import { stackUnavailable } from '../../support/stack/jars.js';

/** L1 (in-process LRU) invalidated by Redis client tracking when the real worker deletes. */

const skip = postgresUnavailable() ?? stackUnavailable();

interface Customer {
  id: number;
  email: string;
  version: number;
}

let server: RedisServer;
let admin: Redis;
let redis: Redis;
let monitor: MonitorLog;
let stack: WorkerStack;
let cache: CacheClient;
let byId: CacheEntry<Customer, { id: number }>;

const SEED = `INSERT INTO inventory.customers (id, email, version) SELECT i, 'c' || i || '@x', 1 FROM generate_series(1, 100) i;`;
const load = async ({ id }: { id: number }): Promise<Customer | undefined> =>
  (await stack.db.query<Customer>('SELECT id, email, version FROM inventory.customers WHERE id = $1', [id])).rows[0];

/** Wall-clock µs, comparable with MONITOR's timestamps (same host clock). */
const nowUs = (): number => Math.round((performance.timeOrigin + performance.now()) * 1_000);

before(async () => {
  if (skip) return;
  server = await startRedis();
  admin = server.client();
  monitor = await startMonitor(server.port);
  stack = await startWorkerStack({
    mappingsYaml: CLIENT_MAPPINGS,
    redis: server.url,
    seedSql: SEED,
    warmUp: async (s) => {
      await s.insert('customers', { id: 1_000, email: 'warm@x', version: 1 });
      await monitor.waitFor(unlinks('customer:1000'), { what: 'the worker deleting customer:1000 (warm-up)', timeoutMs: 90_000 });
    },
  });
  redis = await appRedis(server.port);
  cache = await createCacheClient({ redis, mappings: stack.mappings, l1: { heartbeatMs: 200, heartbeatTimeoutMs: 300 } });
  byId = cache.entry<Customer, { id: number }>({ mapping: 'customers', key: 'customer:{id}', load });
  assert.ok(await cache.waitForTracking(5_000), 'tracking up');
});
after(async () => {
  await cache?.close();
  redis?.disconnect();
  monitor?.stop();
  await stack?.stop();
  await server?.cleanup();
});

/** Fills the key and reads it until it is served from L1. */
async function warm(id: number): Promise<void> {
  await byId.get({ id });
  await waitFor(
    async () => {
      await byId.get({ id });
      return cache.l1Has(`customer:${id}`);
    },
    { timeoutMs: 5_000, intervalMs: 10, message: `customer:${id} in L1` },
  );
}

describe('L1 invalidated through Redis client tracking', { skip, timeout: 180_000 }, () => {
  it('tracks the key prefixes of the entries (BCAST), and serves repeated reads from the process', async () => {
    assert.deepEqual(cache.trackedPrefixes, ['customer:']);
    await warm(1);
    const before = cache.stats()['l1_hits'] ?? 0;
    for (let i = 0; i < 10; i++) assert.equal((await byId.get({ id: 1 }))?.id, 1);
    assert.equal((cache.stats()['l1_hits'] ?? 0) - before, 10);
  });

  it("drops a value within 50 ms of the worker's delete (20 changes, each measured from the UNLINK to L1)", async (t) => {
    const latencies: number[] = [];
    for (let id = 10; id < 30; id++) {
      await warm(id);
      const dropped = new Promise<number>((resolve) => {
        const off = cache.onInvalidation((keys) => {
          if (keys === null || keys.includes(`customer:${id}`)) {
            off();
            resolve(nowUs());
          }
        });
      });
      const since = monitor.commands.length;
      await stack.update('customers', id, { version: 2 });
      const [del] = await monitor.waitFor(unlinks(`customer:${id}`), { since, what: `the worker deleting customer:${id}` });
      const at = await dropped;
      assert.equal(cache.l1Has(`customer:${id}`), false);
      latencies.push((at - del!.atUs) / 1_000);
      assert.equal((await byId.get({ id }))?.version, 2, 'the next read has the new row');
    }
    const sorted = [...latencies].sort((a, b) => a - b);
    t.diagnostic(`UNLINK → L1 dropped, ms: median ${sorted[10]!.toFixed(2)}, max ${sorted.at(-1)!.toFixed(2)}`);
    assert.ok(sorted.at(-1)! < 50, `max ${sorted.at(-1)!.toFixed(1)} ms`);
  });

  it('while the tracking connection is down L1 is bypassed; when it is back it starts empty', async () => {
    await warm(40);
    await admin.client('KILL', 'TYPE', 'pubsub');
    await waitFor(() => !cache.l1Active, { timeoutMs: 5_000, message: 'tracking down' });
    assert.equal(cache.l1Size, 0, 'flushed when the connection went');
    const since = monitor.commands.length;
    await stack.update('customers', 40, { version: 3 });
    await monitor.waitFor(unlinks('customer:40'), { since, what: 'the worker deleting customer:40' });
    const hits = cache.stats()['l1_hits'] ?? 0;
    assert.equal((await byId.get({ id: 40 }))?.version, 3);
    assert.equal((await byId.get({ id: 40 }))?.version, 3);
    await waitFor(() => cache.l1Active, { timeoutMs: 10_000, message: 'tracking up again' });
    await warm(40);
    assert.ok((cache.stats()['l1_hits'] ?? 0) > hits, 'L1 in use again');
  });

  it('a tracking connection that stops answering is noticed by the heartbeat, dropped and made again', async () => {
    await warm(50);
    await admin.call('CLIENT', 'PAUSE', '1500', 'ALL');
    await waitFor(() => !cache.l1Active, { timeoutMs: 3_000, intervalMs: 10, message: 'heartbeat noticed the silence' });
    assert.equal(cache.l1Has('customer:50'), false);
    await waitFor(() => cache.l1Active, { timeoutMs: 10_000, message: 'tracking up again after the pause' });
    await delay(50);
    await warm(50);
  });
});
