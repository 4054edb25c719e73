import assert from 'node:assert/strict';
import { waitFor } from '../../support/processes.js';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { CacheTimeoutError, createCacheClient, readStored, type CacheClient } from '../../../src/client/index.js';
import { appRedis, CLIENT_MAPPINGS, delay, gate } from '../../support/client.js';
import { startRedis, type RedisServer } from '../../support/redis-server.js';
import { mappingsDir } from '../../support/worker.js';

interface Customer {
  id: number;
  email: string;
  version: number;
}

let server: RedisServer;
let redis: Redis;
let admin: Redis;
let dir: string;
const clients: CacheClient[] = [];

async function client(opts: Partial<Parameters<typeof createCacheClient>[0]> = {}): Promise<CacheClient> {
  const c = await createCacheClient({ redis, mappings: dir, ...opts });
  clients.push(c);
  return c;
}

before(async () => {
  server = await startRedis();
  redis = await appRedis(server.port);
  admin = server.client();
  dir = await mappingsDir(CLIENT_MAPPINGS);
});
after(async () => {
  for (const c of clients) await c.close();
  redis?.disconnect();
  await server?.cleanup();
});

describe('cache client against a real Redis', { timeout: 60_000 }, () => {
  it('a miss fills under a lease (envelope with row version, jittered TTL, tag registration); the next read hits', async () => {
    const cache = await client({ defaults: { ttlMs: 60_000, jitter: 0.2 } });
    const byId = cache.entry<Customer, { id: number }>({ mapping: 'customers', key: 'customer:{id}', id: 'c1' });
    let calls = 0;
    const load = async ({ id }: { id: number }): Promise<Customer> => {
      calls++;
      return { id, email: 'ada@example.com', version: 7 };
    };
    assert.deepEqual(await byId.get({ id: 1 }, load), { id: 1, email: 'ada@example.com', version: 7 });
    assert.deepEqual(await byId.get({ id: 1 }, load), { id: 1, email: 'ada@example.com', version: 7 });
    assert.equal(calls, 1);
    const raw = (await admin.get('customer:1'))!;
    const stored = readStored(raw);
    assert.ok(stored.kind === 'value');
    assert.equal(stored.header.rowVersion, '7', 'version_column "version" recorded');
    assert.equal(stored.payload, '{"id":1,"email":"ada@example.com","version":7}');
    const ttl = await admin.pttl('customer:1');
    assert.ok(ttl > 47_000 && ttl <= 60_000, `TTL ${ttl} within [ttl × 0.8, ttl]`);
    assert.equal(stored.header.expiresAt - stored.header.filledAt <= 60_000 && stored.header.expiresAt - stored.header.filledAt >= 48_000, true);
    assert.deepEqual(await admin.smembers('customers:all'), ['customer:1'], 'registered in the on_truncate tag');
    assert.ok((await admin.pttl('customers:all')) > 60_000, 'the tag set outlives its member');
    const s = cache.stats();
    assert.deepEqual([s['misses{c1}'], s['fills{c1}'], s['hits{c1}']], [1, 1, 1]);
    const inspected = await byId.inspect({ id: 1 });
    assert.equal(inspected.state, 'value');
    assert.equal(inspected.header?.rowVersion, '7');
  });

  it('100 concurrent callers on one cold key call the loader once (and once per key over 10 keys)', async () => {
    const cache = await client();
    const e = cache.entry<Customer, { id: number }>({ mapping: 'customers', key: 'customer:{id}', id: 'c100' });
    const calls = new Map<number, number>();
    const load = async ({ id }: { id: number }): Promise<Customer> => {
      calls.set(id, (calls.get(id) ?? 0) + 1);
      await delay(50);
      return { id, email: `${id}@x`, version: 1 };
    };
    const one = await Promise.all(Array.from({ length: 100 }, () => e.get({ id: 100 }, load)));
    assert.equal(calls.get(100), 1);
    assert.ok(one.every((v) => v?.id === 100));
    const many = await Promise.all(Array.from({ length: 1_000 }, (_, i) => e.get({ id: 200 + (i % 10) }, load)));
    assert.ok(many.every((v, i) => v?.id === 200 + (i % 10)));
    for (let k = 200; k < 210; k++) assert.equal(calls.get(k), 1, `loader calls for key ${k}`);
    assert.equal(cache.stats()['coalesced{c100}'], 99 + 990);
  });

  it('two clients (separate connections, no shared process state) share one fill through the lease in Redis', async () => {
    const other = await appRedis(server.port);
    try {
      const a = (await client()).entry<Customer, { id: number }>({ mapping: 'customers', key: 'customer:{id}', id: 'lease-a' });
      const b = (await client({ redis: other })).entry<Customer, { id: number }>({ mapping: 'customers', key: 'customer:{id}', id: 'lease-b' });
      let calls = 0;
      const load = async ({ id }: { id: number }): Promise<Customer> => {
        calls++;
        await delay(150);
        return { id, email: 'x', version: 1 };
      };
      const [x, y] = await Promise.all([a.get({ id: 300 }, load), delay(20).then(() => b.get({ id: 300 }, load))]);
      assert.deepEqual([x, y], [{ id: 300, email: 'x', version: 1 }, { id: 300, email: 'x', version: 1 }]);
      assert.equal(calls, 1);
      assert.equal(clients.at(-1)!.stats()['lease_waits_value{lease-b}'], 1);
    } finally {
      other.disconnect();
    }
  });

  it('a fill whose key was deleted after its lease was taken is not stored (and the next read loads again)', async () => {
    const cache = await client();
    const e = cache.entry<Customer, { id: number }>({ mapping: 'customers', key: 'customer:{id}', id: 'stale' });
    const g = gate();
    const pending = e.get({ id: 400 }, async ({ id }) => {
      await g.wait();
      return { id, email: 'old', version: 1 };
    });
    await g.reached;
    assert.match((await admin.get('customer:400'))!, /^cdc1-lease:/);
    await admin.unlink('customer:400'); // the worker's delete
    g.open();
    assert.deepEqual(await pending, { id: 400, email: 'old', version: 1 }, 'the caller still gets what it read');
    assert.equal(await admin.exists('customer:400'), 0, 'nothing stored');
    assert.equal(cache.stats()['stale_fills_rejected{stale}'], 1);
    assert.deepEqual(await e.get({ id: 400 }, async ({ id }) => ({ id, email: 'new', version: 2 })), { id: 400, email: 'new', version: 2 });
    assert.equal(readStored((await admin.get('customer:400'))!).kind, 'value');
  });

  it('caches "not found" with its own TTL; negativeTtlMs 0 caches nothing', async () => {
    const cache = await client({ defaults: { negativeTtlMs: 2_000, jitter: 0 } });
    const e = cache.entry<Customer, { id: number }>({ mapping: 'customers', key: 'customer:{id}', id: 'neg' });
    let calls = 0;
    const none = async (): Promise<Customer | undefined> => {
      calls++;
      return undefined;
    };
    assert.equal(await e.get({ id: 500 }, none), undefined);
    assert.equal(await e.get({ id: 500 }, none), undefined);
    assert.equal(calls, 1);
    const stored = readStored((await admin.get('customer:500'))!);
    assert.ok(stored.kind === 'value' && stored.header.notFound && stored.payload === '');
    const ttl = await admin.pttl('customer:500');
    assert.ok(ttl > 1_500 && ttl <= 2_000, `negative TTL ${ttl}`);
    assert.equal(cache.stats()['negative_hits{neg}'], 1);
    const off = cache.entry<Customer, { id: number }>({ mapping: 'customers', key: 'customer:{id}', id: 'neg-off', negativeTtlMs: 0 });
    assert.equal(await off.get({ id: 501 }, none), undefined);
    assert.equal(await admin.exists('customer:501'), 0);
  });

  it('a loader error reaches every caller that shared the load, is not cached, and gives the lease back at once', async () => {
    const cache = await client();
    const e = cache.entry<Customer, { id: number }>({ mapping: 'customers', key: 'customer:{id}', id: 'err', leaseTtlMs: 30_000 });
    let calls = 0;
    const failing = async (): Promise<Customer> => {
      calls++;
      await delay(30);
      throw new Error('database down');
    };
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => e.get({ id: 600 }, failing)));
    assert.ok(results.every((r) => r.status === 'rejected' && (r.reason as Error).message === 'database down'));
    assert.equal(calls, 1);
    assert.equal(await admin.exists('customer:600'), 0, 'no error cached, no lease left for 30 s');
    const t0 = performance.now();
    assert.equal((await e.get({ id: 600 }, async ({ id }) => ({ id, email: 'ok', version: 1 })))?.email, 'ok');
    assert.ok(performance.now() - t0 < 1_000, 'the next caller did not wait for the lease to run out');

    const configured = cache.entry<Customer, { id: number }>({
      mapping: 'customers',
      key: 'customer:{id}',
      id: 'err-neg',
      negativeErrors: (err) => (err as Error).message === 'no such customer',
    });
    assert.equal(await configured.get({ id: 601 }, async () => Promise.reject(new Error('no such customer'))), undefined);
    assert.equal((await configured.inspect({ id: 601 })).state, 'not_found', 'configured as negative: cached as "not found"');
  });

  it('a corrupt entry (foreign bytes, or a payload that does not decode) is replaced by a fill', async () => {
    const cache = await client();
    const e = cache.entry<Customer, { id: number }>({ mapping: 'customers', key: 'customer:{id}', id: 'corrupt' });
    await admin.set('customer:700', 'legacy value');
    await admin.set('customer:701', 'cdc1:{"t":1,"e":99999999999999,"d":1}\n{not json');
    for (const id of [700, 701]) {
      assert.deepEqual(await e.get({ id }, async () => ({ id, email: 'fresh', version: 1 })), { id, email: 'fresh', version: 1 });
      const s = readStored((await admin.get(`customer:${id}`))!);
      assert.ok(s.kind === 'value' && s.payload.includes('fresh'));
    }
    assert.equal(cache.stats()['corrupt_entries{corrupt}'], 2);
  });

  it('a filler slower than its lease loses it: the waiter takes over after the lease runs out, nothing stale is stored', async () => {
    const cache = await client();
    const other = await appRedis(server.port);
    try {
      const a = cache.entry<Customer, { id: number }>({ mapping: 'customers', key: 'customer:{id}', id: 'slow-a', leaseTtlMs: 200 });
      const b = (await client({ redis: other })).entry<Customer, { id: number }>({ mapping: 'customers', key: 'customer:{id}', id: 'slow-b', leaseTtlMs: 200, waitMs: 2_000 });
      const g = gate();
      const slow = a.get({ id: 800 }, async ({ id }) => {
        await g.wait();
        return { id, email: 'slow', version: 1 };
      });
      await g.reached;
      const t0 = performance.now();
      const waiter = await b.get({ id: 800 }, async ({ id }) => ({ id, email: 'waiter', version: 2 }));
      const waited = performance.now() - t0;
      assert.equal(waiter?.email, 'waiter');
      assert.ok(waited >= 150 && waited < 1_500, `waited ${Math.round(waited)} ms for a 200 ms lease`);
      g.open();
      await slow;
      assert.match((await admin.get('customer:800'))!, /"waiter"/, "the slow filler did not overwrite the waiter's value");
      assert.equal(cache.stats()['stale_fills_rejected{slow-a}'], 1);
    } finally {
      other.disconnect();
    }
  });

  it('bounded waits: onWaitTimeout load (default) reads the database itself, error rejects; loadTimeoutMs aborts the loader', async () => {
    const cache = await client();
    await admin.set('customer:900', 'cdc1-lease:someone-else', 'PX', 10_000);
    const load = cache.entry<Customer, { id: number }>({ mapping: 'customers', key: 'customer:{id}', id: 'wait-load', waitMs: 150 });
    const t0 = performance.now();
    assert.equal((await load.get({ id: 900 }, async ({ id }) => ({ id, email: 'direct', version: 1 })))?.email, 'direct');
    assert.ok(performance.now() - t0 < 1_000);
    assert.match((await admin.get('customer:900'))!, /^cdc1-lease:/, 'a direct read stores nothing');
    const strict = cache.entry<Customer, { id: number }>({ mapping: 'customers', key: 'customer:{id}', id: 'wait-error', waitMs: 100, onWaitTimeout: 'error' });
    await assert.rejects(strict.get({ id: 900 }, async () => ({ id: 900, email: 'x', version: 1 })), (e: unknown) => e instanceof CacheTimeoutError && e.what === 'wait');

    const hanging = cache.entry<Customer, { id: number }>({ mapping: 'customers', key: 'customer:{id}', id: 'hang', loadTimeoutMs: 100 });
    let aborted = false;
    await assert.rejects(
      hanging.get({ id: 901 }, (_params, { signal }) => new Promise((_, reject) => signal.addEventListener('abort', () => ((aborted = true), reject(new Error('aborted')))))),
      (e: unknown) => e instanceof CacheTimeoutError && e.what === 'load',
    );
    assert.equal(aborted, true);
  });

  it('probabilistic early refresh: a read near expiry gets the current value and refreshes it in the background', async () => {
    // XFetch draws a random number: a fixed one (−ln 0.5 × 5 ms × 1000 ≫ 400 ms) makes the refresh certain
    // (with Math.random a draw above e^-0.08 ≈ 0.92 — about 1 run in 13 — would not have refreshed).
    const cache = await client({ random: () => 0.5 });
    const e = cache.entry<Customer, { id: number }>({ mapping: 'customers', key: 'customer:{id}', id: 'xfetch', ttlMs: 400, jitter: 0, earlyRefresh: { beta: 1_000 } });
    let version = 1;
    const load = async ({ id }: { id: number }): Promise<Customer> => {
      await delay(5);
      return { id, email: 'x', version: version++ };
    };
    assert.equal((await e.get({ id: 1000 }, load))?.version, 1);
    const second = await e.get({ id: 1000 }, load); // fill took ≥ 5 ms, beta 1000: due at once
    assert.equal(second?.version, 1, 'the caller is not kept waiting for the refresh');
    // The refresh runs in the background: wait for it (bounded) rather than a fixed 100 ms.
    await waitFor(async () => /"version":2/.test((await admin.get('customer:1000')) ?? ''), { timeoutMs: 5_000, intervalMs: 10, message: 'the background refresh storing version 2' });
    assert.equal(readStored((await admin.get('customer:1000'))!).kind, 'value');
    assert.ok((cache.stats()['early_refreshes{xfetch}'] ?? 0) >= 1);
  });

  it('versions: an own name lives under the counters it read (name#v<n>); a mapping key is checked against them', async () => {
    const cache = await client();
    const recent = cache.entry<string[], { customer_id: number }>({ mapping: 'orders', name: 'orders:customer:{customer_id}:recent', versions: ['orders:customer:{customer_id}:version'] });
    let n = 0;
    const load = async (): Promise<string[]> => [`list ${++n}`];
    assert.deepEqual(await recent.get({ customer_id: 5 }, load), ['list 1']);
    assert.equal(readStored((await admin.get('orders:customer:5:recent#v0'))!).kind, 'value', 'a missing counter is 0');
    assert.deepEqual(await recent.get({ customer_id: 5 }, load), ['list 1']);
    await admin.incr('orders:customer:5:version'); // what the worker does
    assert.deepEqual(await recent.get({ customer_id: 5 }, load), ['list 2']);
    assert.ok(await admin.exists('orders:customer:5:recent#v1'));

    const product = cache.entry<{ id: number; xmin: string }, { id: number }>({ mapping: 'products', id: 'checked' });
    let m = 0;
    const loadProduct = async ({ id }: { id: number }) => ({ id, xmin: String(++m) });
    assert.equal((await product.get({ id: 1 }, loadProduct))?.xmin, '1');
    const header = readStored((await admin.get('product:1'))!);
    assert.ok(header.kind === 'value');
    assert.deepEqual(header.header.counters, [0], 'the counter values read before the fill (missing = 0)');
    assert.equal(header.header.rowVersion, '1', 'version_column xmin');
    assert.equal((await product.get({ id: 1 }, loadProduct))?.xmin, '1');
    await admin.incr('products:version'); // a truncate
    assert.equal((await product.get({ id: 1 }, loadProduct))?.xmin, '2', 'filled under another counter value: a miss');
    const after = readStored((await admin.get('product:1'))!);
    assert.ok(after.kind === 'value' && after.header.counters?.[0] === 1);
  });

  it('exports its metrics on a prom-client registry', async () => {
    const registry = new Registry();
    const cache = await client({ registry });
    const e = cache.entry<Customer, { id: number }>({ mapping: 'customers', key: 'customer:{id}', id: 'prom' });
    await e.get({ id: 1100 }, async ({ id }) => ({ id, email: 'x', version: 1 }));
    await e.get({ id: 1100 }, async ({ id }) => ({ id, email: 'x', version: 1 }));
    const text = await registry.metrics();
    for (const line of [
      'cdc_invalidator_client_misses_total{entry="prom"} 1',
      'cdc_invalidator_client_fills_total{entry="prom"} 1',
      'cdc_invalidator_client_hits_total{entry="prom"} 1',
      'cdc_invalidator_client_fill_duration_seconds_count{entry="prom"} 1',
    ]) {
      assert.ok(text.includes(line), `${line} in\n${text}`);
    }
    for (const name of ['l1_hits_total', 'negative_hits_total', 'lease_waits_total', 'stale_fills_rejected_total']) {
      assert.ok(text.includes(`# TYPE cdc_invalidator_client_${name} counter`), name);
    }
    await client({ registry }); // a second client on the same registry shares the metrics
  });
});
