import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Cluster } from 'ioredis';
import { CacheConfigError, createCacheClient, readStored, type CacheClient } from '../../../src/client/index.js';
import { hashSlot } from '../../../src/pipeline/sink/hash-slot.js';
import { CLIENT_MAPPINGS, delay, gate } from '../../support/client.js';
import { startMonitor, startWorkerStack, unlinks, type Executed, type MonitorLog, type WorkerStack } from '../../support/client-stack.js';
import { postgresUnavailable } from '../../support/postgres.js';
import { waitFor } from '../../support/processes.js';
import { startRedisCluster, type RedisCluster } from '../../support/redis-cluster.js';
import { stackUnavailable } from '../../support/stack/jars.js';

/** The lease on Redis Cluster: every script names one key, so it runs on the key's master; the real worker deletes with --redis-cluster. */

const skip = postgresUnavailable() ?? stackUnavailable();

interface Customer {
  id: number;
  email: string;
  version: number;
}

let cluster: RedisCluster;
let monitors: MonitorLog[];
let stack: WorkerStack;
let redis: Cluster;
let cache: CacheClient;

const SEED = `
INSERT INTO inventory.customers (id, email, version) SELECT i, 'c' || i || '@x', 1 FROM generate_series(1, 50) i;
INSERT INTO inventory.products (id, category_id, name, price) SELECT i, 1 + i % 3, 'p' || i, 10 FROM generate_series(1, 30) i;
`;
const customerById = async ({ id }: { id: number }): Promise<Customer | undefined> =>
  (await stack.db.query<Customer>('SELECT id, email, version FROM inventory.customers WHERE id = $1', [id])).rows[0];

/** Commands executed on any master since `since` (µs), in Redis time order. */
const executed = (sinceUs: number): Executed[] =>
  monitors
    .flatMap((m) => m.commands)
    .filter((c) => c.atUs >= sinceUs)
    .sort((a, b) => a.atUs - b.atUs);
const nowUs = (): number => Math.round((performance.timeOrigin + performance.now()) * 1_000);
async function seen(match: (args: readonly string[]) => boolean, sinceUs: number, count: number, what: string): Promise<Executed[]> {
  let found: Executed[] = [];
  await waitFor(
    () => {
      found = executed(sinceUs).filter((c) => match(c.args));
      return found.length >= count;
    },
    { timeoutMs: 30_000, intervalMs: 5, message: () => `${what} (${found.length} of ${count})` },
  );
  return found;
}

before(async () => {
  if (skip) return;
  cluster = await startRedisCluster({ masters: 3 });
  const masters = (await cluster.nodes()).filter((n) => n.master);
  monitors = await Promise.all(masters.map((n) => startMonitor(n.port)));
  stack = await startWorkerStack({
    mappingsYaml: CLIENT_MAPPINGS,
    redis: cluster.seeds,
    redisCluster: true,
    seedSql: SEED,
    warmUp: async (s) => {
      const t = nowUs();
      await s.insert('customers', { id: 1_000, email: 'warm@x', version: 1 });
      await seen(unlinks('customer:1000'), t, 1, 'the worker deleting customer:1000 (warm-up)');
    },
  });
  redis = new Cluster(
    cluster.ports.map((port) => ({ host: '127.0.0.1', port })),
    { enableOfflineQueue: false, redisOptions: { maxRetriesPerRequest: 0, commandTimeout: 1_000 }, clusterRetryStrategy: () => 100 },
  );
  redis.on('error', () => undefined);
  await waitFor(() => redis.status === 'ready', { timeoutMs: 10_000, message: 'cluster client ready' });
  cache = await createCacheClient({ redis, mappings: stack.mappings });
});
after(async () => {
  await cache?.close();
  redis?.disconnect();
  for (const m of monitors ?? []) m.stop();
  await stack?.stop();
  await cluster?.cleanup();
});

describe('cache client on Redis Cluster with the real worker', { skip, timeout: 180_000 }, () => {
  it('100 concurrent callers on each of 12 cold keys spread over the masters: the loader runs once per key', async () => {
    const e = cache.entry<Customer, { id: number }>({ mapping: 'customers', key: 'customer:{id}', id: 'cl-100' });
    const calls = new Map<number, number>();
    const load = async ({ id }: { id: number }): Promise<Customer | undefined> => {
      calls.set(id, (calls.get(id) ?? 0) + 1);
      await delay(30);
      return customerById({ id });
    };
    const ids = Array.from({ length: 12 }, (_, i) => i + 1);
    const nodesOf = new Set(ids.map((id) => redis.slots[hashSlot(`customer:${id}`)]?.[0]));
    assert.equal(nodesOf.size, 3, 'the keys sit on all three masters');
    const got = await Promise.all(Array.from({ length: 1_200 }, (_, i) => e.get({ id: ids[i % 12]! }, load)));
    assert.ok(got.every((c, i) => c?.id === ids[i % 12]));
    for (const id of ids) assert.equal(calls.get(id), 1, `loader calls for customer:${id}`);
    for (const id of ids) assert.equal(readStored((await redis.get(`customer:${id}`))!).kind, 'value');
  });

  it("a fill that read the old row and finishes after the worker's deletes is rejected on the key's master", async () => {
    const e = cache.entry<Customer, { id: number }>({ mapping: 'customers', key: 'customer:{id}', id: 'cl-stale', load: customerById });
    const g = gate();
    const pending = e.get({ id: 30 }, async (p) => {
      const row = await customerById(p);
      await g.wait();
      return row;
    });
    await g.reached;
    const t = nowUs();
    await stack.update('customers', 30, { version: 2 });
    await seen(unlinks('customer:30'), t, 2, "the worker's first and second delete");
    g.open();
    assert.equal((await pending)?.version, 1);
    assert.equal(await redis.exists('customer:30'), 0);
    assert.equal(cache.stats()['stale_fills_rejected{cl-stale}'], 1);
    assert.equal((await e.get({ id: 30 }))?.version, 2);
  });

  it('a tag set and its member in different slots: registration on the tag’s master, the purge voids the lease on the member’s', async () => {
    const g = gate();
    const page = cache.entry<{ id: number }[], { category_id: number; page: number }>({
      mapping: 'products',
      name: 'category:{category_id}:page:{page}',
      tags: ['category:{category_id}'],
      id: 'cl-page',
      hooks: { registered: () => g.wait() },
      load: async ({ category_id }) => (await stack.db.query<{ id: number }>('SELECT id FROM inventory.products WHERE category_id = $1 ORDER BY id', [category_id])).rows,
    });
    const key = 'category:2:page:1#v0';
    assert.notEqual(hashSlot(key), hashSlot('category:2'));
    const pending = page.get({ category_id: 2, page: 1 });
    await g.reached;
    assert.equal(await redis.sismember('category:2', key), 1);
    const t = nowUs();
    await stack.update('products', 1, { price: '11.00' }); // product 1 is in category 1 + (1 % 3) = 2
    await seen(unlinks(key), t, 1, 'the purge of category:2 deleting the lease marker');
    g.open();
    await pending;
    assert.equal(await redis.exists(key), 0);
    assert.equal(cache.stats()['stale_fills_rejected{cl-page}'], 1);
  });

  it('refuses L1 on a Cluster client, saying why', async () => {
    await assert.rejects(createCacheClient({ redis, mappings: stack.mappings, l1: true }), (e: unknown) => e instanceof CacheConfigError && /not available on Redis Cluster/.test(e.message));
  });
});
