import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { createCacheClient, readStored, type CacheClient } from '../../../src/client/index.js';
import { appRedis, CLIENT_MAPPINGS, delay } from '../../support/client.js';
import { waitFor } from '../../support/processes.js';
import { startRedis, type RedisServer } from '../../support/redis-server.js';
import { mappingsDir } from '../../support/worker.js';

/** Redis goes away (stopped, or frozen by CLIENT PAUSE): reads fall through to the loader, bounded, with no unhandled rejection. */

interface Customer {
  id: number;
  v: number;
}

let server: RedisServer;
let dir: string;
const unhandled: unknown[] = [];
const onUnhandled = (e: unknown): void => void unhandled.push(e);

before(async () => {
  process.on('unhandledRejection', onUnhandled);
  server = await startRedis();
  dir = await mappingsDir(CLIENT_MAPPINGS);
});
after(async () => {
  process.off('unhandledRejection', onUnhandled);
  await server?.cleanup();
});

describe('cache client during a Redis outage', { timeout: 90_000 }, () => {
  it('stopped Redis: reads call the loader at once (100 callers share one call), caching resumes when Redis is back', async () => {
    const redis = await appRedis(server.port);
    const cache: CacheClient = await createCacheClient({ redis, mappings: dir, l1: { heartbeatMs: 200, heartbeatTimeoutMs: 300 }, redisRetryAfterMs: 200 });
    try {
      const e = cache.entry<Customer, { id: number }>({ mapping: 'customers', key: 'customer:{id}' });
      let calls = 0;
      const load = async ({ id }: { id: number }): Promise<Customer> => {
        calls++;
        await delay(20);
        return { id, v: calls };
      };
      assert.ok(await cache.waitForTracking(5_000));
      await e.get({ id: 1 }, load);
      await server.stop();
      await waitFor(() => redis.status !== 'ready' && !cache.l1Active, { timeoutMs: 5_000, message: 'the clients noticed' });

      calls = 0;
      const t0 = performance.now();
      const during = await Promise.all(Array.from({ length: 100 }, () => e.get({ id: 1 }, load)));
      const took = performance.now() - t0;
      assert.equal(calls, 1, 'callers arriving together share one database read');
      assert.ok(during.every((v) => v?.v === 1));
      assert.ok(took < 500, `answered in ${Math.round(took)} ms without Redis`);
      for (let i = 0; i < 5; i++) assert.ok(await e.get({ id: 2 + i }, load));
      const s = cache.stats();
      assert.ok((s['redis_errors'] ?? 0) >= 1 && (s['direct_loads_redis'] ?? 0) >= 6, JSON.stringify(s));

      await server.restart();
      await waitFor(() => redis.status === 'ready', { timeoutMs: 10_000, message: 'the application client reconnected' });
      await waitFor(
        async () => {
          await e.get({ id: 9 }, load);
          return (await redis.exists('customer:9')) === 1;
        },
        { timeoutMs: 10_000, intervalMs: 100, message: 'a read filling the cache again' },
      );
      assert.equal(readStored((await redis.get('customer:9'))!).kind, 'value');
      await waitFor(() => cache.l1Active, { timeoutMs: 10_000, message: 'tracking (L1) up again' });
      assert.deepEqual(unhandled, []);
    } finally {
      await cache.close();
      redis.disconnect();
    }
  });

  it('a Redis that stops answering (CLIENT PAUSE), behind a client with its offline queue on: reads take at most redisTimeoutMs more', async () => {
    const redis = new Redis({ port: server.port, host: '127.0.0.1' }); // ioredis defaults: offline queue on, no command timeout
    redis.on('error', () => undefined);
    await waitFor(() => redis.status === 'ready', { message: 'ready' });
    const admin = new Redis({ port: server.port, host: '127.0.0.1' });
    admin.on('error', () => undefined);
    const cache = await createCacheClient({ redis, mappings: dir, redisTimeoutMs: 150 });
    try {
      const e = cache.entry<Customer, { id: number }>({ mapping: 'customers', key: 'customer:{id}' });
      await admin.call('CLIENT', 'PAUSE', '2000', 'ALL');
      const t0 = performance.now();
      assert.deepEqual(await e.get({ id: 20 }, async ({ id }) => ({ id, v: 1 })), { id: 20, v: 1 });
      const took = performance.now() - t0;
      assert.ok(took >= 140 && took < 700, `took ${Math.round(took)} ms`);
      const t1 = performance.now();
      await e.get({ id: 21 }, async ({ id }) => ({ id, v: 1 }));
      assert.ok(performance.now() - t1 < 100, 'after a failure Redis is skipped for redisRetryAfterMs');
      await delay(2_100);
      assert.deepEqual(unhandled, [], 'late replies of abandoned calls surface nowhere');
    } finally {
      await cache.close();
      redis.disconnect();
      admin.disconnect();
    }
  });
});
