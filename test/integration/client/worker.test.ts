import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { createCacheClient, readStored, type CacheClient, type FillHooks } from '../../../src/client/index.js';
import { appRedis, CLIENT_MAPPINGS, delay, gate, type Gate } from '../../support/client.js';
import { increments, purges, startMonitor, startWorkerStack, unlinks, type MonitorLog, type WorkerStack } from '../../support/client-stack.js';
import { postgresUnavailable } from '../../support/postgres.js';
import { startRedis, type RedisServer } from '../../support/redis-server.js';
import { stackUnavailable } from '../../support/stack/jars.js';

/**
 * The cache client against the real worker: Postgres rows, their Debezium-shaped change events on a
 * real Kafka broker, the CLI worker deleting in Redis (first pass, second pass 1 s later, tag purges,
 * version INCRs). MONITOR shows when Redis executed each of the worker's commands and the client's.
 */

const skip = postgresUnavailable() ?? stackUnavailable();

interface Customer {
  id: number;
  email: string;
  version: number;
}
interface Product {
  id: number;
  name: string;
  price: string;
}
type PageParams = { category_id: number; page: number };

const SEED = `
INSERT INTO inventory.customers (id, email, version) SELECT i, 'c' || i || '@x', 1 FROM generate_series(1, 30) i;
INSERT INTO inventory.products (id, category_id, name, price) SELECT c * 100 + i, c, 'p' || (c * 100 + i), 10 + i FROM generate_series(1, 9) c, generate_series(1, 10) i;
INSERT INTO inventory.orders (id, customer_id, total) SELECT c * 1000 + i, c, i FROM generate_series(1, 9) c, generate_series(1, 3) i;
`;

let server: RedisServer;
let admin: Redis;
let redis: Redis;
let monitor: MonitorLog;
let stack: WorkerStack;
let cache: CacheClient;

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
  cache = await createCacheClient({ redis, mappings: stack.mappings });
});
after(async () => {
  await cache?.close();
  redis?.disconnect();
  monitor?.stop();
  await stack?.stop();
  await server?.cleanup();
});

const customerById = async ({ id }: { id: number }): Promise<Customer | undefined> =>
  (await stack.db.query<Customer>('SELECT id, email, version FROM inventory.customers WHERE id = $1', [id])).rows[0];
const productsOf = async ({ category_id }: PageParams): Promise<Product[]> =>
  (await stack.db.query<Product>('SELECT id, name, price::text AS price FROM inventory.products WHERE category_id = $1 ORDER BY id', [category_id])).rows;

/** What Redis holds under a key, decoded (undefined: nothing, or not a value). */
async function cached<T>(key: string): Promise<T | undefined> {
  const raw = await admin.get(key);
  if (raw === null) return undefined;
  const s = readStored(raw);
  return s.kind === 'value' && !s.header.notFound ? (JSON.parse(s.payload) as T) : undefined;
}

/**
 * Pages live under the products' on_truncate version counter (products:version, 0 here): their physical
 * key is `category:<id>:page:<n>#v0`, and that is the member the tag sets hold.
 */
/** An entry of a category page whose fill stops at `step` (one entry per interleaving: hooks are per entry). */
function pageEntry(id: string, step?: keyof FillHooks, g?: Gate) {
  const hooks: FillHooks = step && g ? { [step]: () => g.wait() } : {};
  return cache.entry<Product[], PageParams>({ mapping: 'products', name: 'category:{category_id}:page:{page}', tags: ['category:{category_id}'], id, hooks, load: productsOf });
}

describe('cache client with the real worker (Kafka, CLI worker, Postgres)', { skip, timeout: 240_000 }, () => {
  it("a fill that read the old row and finishes after the worker's first and second deletes is rejected", async () => {
    const e = cache.entry<Customer, { id: number }>({ mapping: 'customers', key: 'customer:{id}', id: 'w-stale', load: customerById });
    const g = gate();
    const pending = e.get({ id: 10 }, async (p) => {
      const row = await customerById(p);
      await g.wait(); // a slow reader: it has read version 1
      return row;
    });
    await g.reached;
    assert.match((await admin.get('customer:10'))!, /^cdc1-lease:/);
    const since = monitor.commands.length;
    await stack.update('customers', 10, { email: 'c10.new@x', version: 2 });
    const [first, second] = await monitor.waitFor(unlinks('customer:10'), { since, count: 2, what: "the worker's first and second delete of customer:10" });
    assert.ok(second!.atUs - first!.atUs >= 900_000, `second delete ${Math.round((second!.atUs - first!.atUs) / 1000)} ms after the first`);
    g.open();
    const got = await pending;
    assert.equal(got?.version, 1, 'the slow caller gets what it read (its call began before the commit)');
    const cas = monitor.commands.slice(since).find((c) => c.args[0]?.toLowerCase() === 'evalsha' && c.args.includes('customer:10') && c.atUs > second!.atUs);
    assert.ok(cas, "the fill's compare-and-set ran after both deletes");
    assert.equal(await admin.exists('customer:10'), 0, 'and stored nothing');
    assert.equal(cache.stats()['stale_fills_rejected{w-stale}'], 1);
    assert.equal((await e.get({ id: 10 }))?.version, 2, 'the next read loads the new row');
    const stored = readStored((await admin.get('customer:10'))!);
    assert.ok(stored.kind === 'value' && stored.header.rowVersion === '2');
  });

  it("the worker's delete between the lease and the read: the read sees the new row, and the fill is still rejected (conservative)", async () => {
    const g = gate();
    const e = cache.entry<Customer, { id: number }>({ mapping: 'customers', key: 'customer:{id}', id: 'w-leased', load: customerById, hooks: { leased: () => g.wait() } });
    const pending = e.get({ id: 12 });
    await g.reached;
    const since = monitor.commands.length;
    await stack.update('customers', 12, { version: 2 });
    await monitor.waitFor(unlinks('customer:12'), { since, what: 'the first delete of customer:12' });
    g.open();
    assert.equal((await pending)?.version, 2);
    assert.equal(await admin.exists('customer:12'), 0);
    assert.equal(cache.stats()['stale_fills_rejected{w-leased}'], 1);
  });

  it('(the same interleaving without a lease: a plain SET after the second delete leaves version 1 until its TTL)', async () => {
    const old = await customerById({ id: 11 });
    const since = monitor.commands.length;
    await stack.update('customers', 11, { version: 2 });
    await monitor.waitFor(unlinks('customer:11'), { since, count: 2, what: 'both deletes of customer:11' });
    await admin.set('customer:11', JSON.stringify(old), 'EX', 300); // the naive slow reader writes back what it read
    await stack.caughtUp();
    assert.equal((JSON.parse((await admin.get('customer:11'))!) as { version: number }).version, 1, 'stale, and nothing will delete it');
  });

  describe('tag purge (RENAMENX + SSCAN) against fills, interleaving by interleaving', () => {
    it('purge before the lease: the fill reads the new rows, is stored, and the next purge deletes it', async () => {
      const page = pageEntry('w-tag-before');
      let since = monitor.commands.length;
      await stack.update('products', 101, { price: '41.00' });
      await monitor.waitFor(purges('category:1'), { since, count: 2, what: 'both purges of category:1' });
      const got = await page.get({ category_id: 1, page: 1 });
      assert.deepEqual(got, await productsOf({ category_id: 1, page: 1 }));
      assert.deepEqual(await cached('category:1:page:1#v0'), got);
      assert.equal(await admin.sismember('category:1', 'category:1:page:1#v0'), 1, 'registered');
      since = monitor.commands.length;
      await stack.update('products', 102, { price: '42.00' });
      await monitor.waitFor(unlinks('category:1:page:1#v0'), { since, what: 'the next purge deleting the page' });
      assert.equal(await admin.exists('category:1:page:1#v0'), 0);
    });

    it('purge between the lease and the registration: the fill reads the new rows, joins the fresh set, stays tracked', async () => {
      const g = gate();
      const page = pageEntry('w-tag-leased', 'leased', g);
      const pending = page.get({ category_id: 2, page: 1 });
      await g.reached; // the lease is ours; not registered yet
      let since = monitor.commands.length;
      await stack.update('products', 201, { price: '51.00' });
      await monitor.waitFor(purges('category:2'), { since, what: 'the first purge of category:2' });
      g.open();
      const got = await pending;
      assert.deepEqual(got, await productsOf({ category_id: 2, page: 1 }), 'read after the commit');
      assert.deepEqual(await cached('category:2:page:1#v0'), got);
      assert.equal(await admin.sismember('category:2', 'category:2:page:1#v0'), 1, 'in the set that the next purge moves');
      since = monitor.commands.length;
      await stack.update('products', 202, { price: '52.00' });
      await monitor.waitFor(unlinks('category:2:page:1#v0'), { since, what: 'the next purge deleting the page' });
      await stack.caughtUp();
      assert.equal(await admin.exists('category:2:page:1#v0'), 0);
    });

    it('purge between the registration and the read: the purge deletes the lease, the fill is rejected', async () => {
      const g = gate();
      const page = pageEntry('w-tag-registered', 'registered', g);
      const pending = page.get({ category_id: 3, page: 1 });
      await g.reached;
      const since = monitor.commands.length;
      await stack.update('products', 301, { price: '61.00' });
      await monitor.waitFor(unlinks('category:3:page:1#v0'), { since, what: 'the purge deleting the lease marker' });
      g.open();
      assert.deepEqual(await pending, await productsOf({ category_id: 3, page: 1 }));
      assert.equal(await admin.exists('category:3:page:1#v0'), 0);
      assert.equal(cache.stats()['stale_fills_rejected{w-tag-registered}'], 1);
    });

    it('purge between the read and the fill: the old rows are not stored', async () => {
      const g = gate();
      const page = pageEntry('w-tag-loaded', 'loaded', g);
      const before = await productsOf({ category_id: 4, page: 1 });
      const pending = page.get({ category_id: 4, page: 1 });
      await g.reached; // the loader has returned the old rows
      const since = monitor.commands.length;
      await stack.update('products', 401, { price: '71.00' });
      await monitor.waitFor(unlinks('category:4:page:1#v0'), { since, what: 'the purge deleting the lease marker' });
      g.open();
      assert.deepEqual(await pending, before, 'the caller gets what it read');
      await stack.caughtUp();
      assert.equal(await admin.exists('category:4:page:1#v0'), 0, 'but it is not stored');
      assert.equal(cache.stats()['stale_fills_rejected{w-tag-loaded}'], 1);
    });

    it('purge after the fill deletes the value', async () => {
      const page = pageEntry('w-tag-after');
      await page.get({ category_id: 5, page: 1 });
      assert.ok(await admin.exists('category:5:page:1#v0'));
      const since = monitor.commands.length;
      await stack.update('products', 501, { price: '81.00' });
      await monitor.waitFor(unlinks('category:5:page:1#v0'), { since, what: 'the purge deleting the page' });
      await stack.caughtUp();
      assert.equal(await admin.exists('category:5:page:1#v0'), 0);
    });

    it('(why the registration follows the lease: registering first, a purge in between unregisters the key for good)', async () => {
      const key = 'category:6:page:1';
      await admin.sadd('category:6', key); // register first ...
      let since = monitor.commands.length;
      await stack.update('products', 601, { price: '91.00' });
      await monitor.waitFor(unlinks(key), { since, what: 'the purge draining the set (the key does not exist yet)' });
      assert.equal(await admin.set(key, 'cdc1-lease:t', 'PX', 5_000, 'NX'), 'OK'); // ... then take the lease: nothing voids it
      await admin.set(key, JSON.stringify(await productsOf({ category_id: 6, page: 1 })), 'EX', 300); // a fresh fill, stored
      await stack.caughtUp();
      since = monitor.commands.length;
      await stack.update('products', 602, { price: '92.00' });
      await monitor.waitFor(purges('category:6'), { since, count: 2, what: 'both purges of the next change' });
      await stack.caughtUp();
      assert.equal(await admin.exists(key), 1, 'the next change does not delete it: the key is in no set');
      assert.notDeepEqual(JSON.parse((await admin.get(key))!), await productsOf({ category_id: 6, page: 1 }), 'stale until its TTL');
    });

    it('concurrent readers and writers: once the worker caught up, the page is absent or holds the current rows, and is tracked', async (t) => {
      const page = cache.entry<Product[], PageParams>({
        mapping: 'products',
        name: 'category:{category_id}:page:{page}',
        tags: ['category:{category_id}'],
        id: 'w-tag-stress',
        load: async (p) => {
          const rows = await productsOf(p);
          // The window between reading and storing; one fill in seven outlasts the second-delete delay.
          await delay(Math.random() < 1 / 7 ? 1_100 + Math.random() * 900 : Math.random() * 40);
          return rows;
        },
      });
      let stop = false;
      let reads = 0;
      const readers = Array.from({ length: 8 }, async () => {
        for (let i = 0; i < 10_000 && !stop; i++) {
          await page.get({ category_id: 7, page: 1 });
          reads++;
          await delay(Math.random() * 10);
        }
      });
      for (let i = 0; i < 40; i++) {
        await stack.update('products', 701 + (i % 10), { price: String(100 + i) });
        await delay(25);
      }
      await stack.caughtUp(60_000);
      stop = true;
      await Promise.all(readers);
      const current = await productsOf({ category_id: 7, page: 1 });
      const value = await cached<Product[]>('category:7:page:1#v0');
      if (value !== undefined) {
        assert.deepEqual(value, current, 'a cached page holds the current rows');
        assert.equal(await admin.sismember('category:7', 'category:7:page:1#v0'), 1, 'and is registered');
      }
      const s = cache.stats();
      t.diagnostic(`reads ${reads}, fills ${s['fills{w-tag-stress}'] ?? 0}, rejected ${s['stale_fills_rejected{w-tag-stress}'] ?? 0}, lease waits ${s['lease_waits{w-tag-stress}'] ?? 0}, page cached at the end: ${value !== undefined}`);
      assert.ok((s['fills{w-tag-stress}'] ?? 0) > 0);
    });
  });

  describe('version counters (INCR) against fills', () => {
    const recentOf = async ({ customer_id }: { customer_id: number }): Promise<{ id: string; total: string }[]> =>
      (await stack.db.query<{ id: string; total: string }>('SELECT id::text, total::text FROM inventory.orders WHERE customer_id = $1 ORDER BY id', [customer_id])).rows;

    it('a change between reading the version and reading the rows: the value lands under the old version, readers move on', async () => {
      const g = gate();
      const recent = cache.entry<{ id: string; total: string }[], { customer_id: number }>({
        mapping: 'orders',
        name: 'orders:customer:{customer_id}:recent',
        versions: ['orders:customer:{customer_id}:version'],
        id: 'w-ver-leased',
        hooks: { leased: () => g.wait() },
        load: recentOf,
      });
      const pending = recent.get({ customer_id: 1 }); // reads version 0 first
      await g.reached;
      const since = monitor.commands.length;
      await stack.update('orders', 1001, { total: '17.00' });
      await monitor.waitFor(increments('orders:customer:1:version'), { since, what: 'the INCR of the version' });
      g.open();
      await pending;
      assert.ok(await admin.exists('orders:customer:1:recent#v0'), 'stored under the version it read');
      assert.deepEqual(await recent.get({ customer_id: 1 }, recentOf), await recentOf({ customer_id: 1 }));
      assert.ok(await admin.exists('orders:customer:1:recent#v1'), 'the next read is under the new version');
    });

    it('a change after the rows were read: the old rows sit under the old version, which nobody reads any more', async () => {
      const g = gate();
      const recent = cache.entry<{ id: string; total: string }[], { customer_id: number }>({
        mapping: 'orders',
        name: 'orders:customer:{customer_id}:recent',
        versions: ['orders:customer:{customer_id}:version'],
        id: 'w-ver-loaded',
        hooks: { loaded: () => g.wait() },
        load: recentOf,
      });
      const old = await recentOf({ customer_id: 2 });
      const pending = recent.get({ customer_id: 2 });
      await g.reached;
      const since = monitor.commands.length;
      await stack.update('orders', 2001, { total: '27.00' });
      await monitor.waitFor(increments('orders:customer:2:version'), { since, what: 'the INCR of the version' });
      g.open();
      assert.deepEqual(await pending, old);
      assert.deepEqual(await cached('orders:customer:2:recent#v0'), old, 'the stale value is unreachable');
      const now = await recent.get({ customer_id: 2 });
      assert.deepEqual(now, await recentOf({ customer_id: 2 }));
      assert.notDeepEqual(now, old);
    });
  });
});
