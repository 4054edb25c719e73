import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { createCacheClient, type CacheClient } from '../../../src/client/index.js';
import { delay } from '../../support/client.js';
import { repoRoot } from '../../support/paths.js';
import { waitFor } from '../../support/processes.js';
import { startRedis, type RedisServer } from '../../support/redis-server.js';
import { mappingsDir } from '../../support/worker.js';

/** The cache client as an ACL user with exactly the least privilege docs/production-redis.md documents for it. */

const MAPPINGS = `mappings:
  - name: customers
    table: shop.customers
    keys: ["cache:customer:{id}"]
    tags: ["tag:region:{region}"]
    versions: ["ver:customers"]
    on_truncate:
      tags: ["tag:customers:all"]
`;
const PASSWORD = 'client-pw-3c9e';

async function documentedAcl(): Promise<string[]> {
  const doc = await readFile(join(repoRoot(), 'docs', 'production-redis.md'), 'utf8');
  const line = doc.split('\n').find((l) => l.startsWith('user cache-client on '));
  assert.ok(line, 'docs/production-redis.md holds a "user cache-client on …" line');
  return line.replace('>CHANGE-ME', `>${PASSWORD}`).split(' ').slice(1);
}

let server: RedisServer;
let admin: Redis;
const conns: Redis[] = [];
const clients: CacheClient[] = [];

/** A connection as the docs recommend for the client: no offline queue, no ready check (INFO), no CLIENT SETINFO. */
async function asClientUser(): Promise<Redis> {
  const r = new Redis({ port: server.port, host: '127.0.0.1', username: 'cache-client', password: PASSWORD, enableOfflineQueue: false, enableReadyCheck: false, disableClientInfo: true, maxRetriesPerRequest: 0 });
  r.on('error', () => undefined);
  conns.push(r);
  await waitFor(() => r.status === 'ready', { message: 'ACL user connected' });
  return r;
}

before(async () => {
  server = await startRedis();
  admin = server.client();
  await admin.call('ACL', 'SETUSER', ...(await documentedAcl()));
});
after(async () => {
  for (const c of clients) await c.close();
  for (const c of conns) c.disconnect();
  await server?.cleanup();
});

describe('cache client under its documented least-privilege ACL', { timeout: 60_000 }, () => {
  it('fills, hits, waits on a lease, registers tags, reads counters, replaces corrupt entries, keeps L1, deletes and inspects: nothing denied', async () => {
    const dir = await mappingsDir(MAPPINGS);
    await admin.acl('LOG', 'RESET');
    const a = await createCacheClient({ redis: await asClientUser(), mappings: dir, l1: true, defaults: { earlyRefresh: { beta: 1 } } });
    const b = await createCacheClient({ redis: await asClientUser(), mappings: dir });
    clients.push(a, b);
    const byId = a.entry<{ id: number }, { id: number }>({ mapping: 'customers', key: 'cache:customer:{id}' });
    const byIdB = b.entry<{ id: number }, { id: number }>({ mapping: 'customers', key: 'cache:customer:{id}' });
    const list = a.entry<number[], { region: string }>({ mapping: 'customers', name: 'cache:region:{region}:list', tags: ['tag:region:{region}'], versions: ['ver:customers'] });
    assert.ok(await a.waitForTracking(5_000), 'tracking set up under the ACL (it starts with the first L1 entry)');
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const slow = async ({ id }: { id: number }) => {
      await held;
      return { id };
    };
    const first = byId.get({ id: 1 }, slow);
    // b asks once a holds the lease (its marker is in the key), and a finishes only after that: b waits on it.
    await waitFor(async () => ((await admin.get('cache:customer:1')) ?? '').startsWith('cdc1-lease:'), { timeoutMs: 5_000, intervalMs: 5, message: "a's lease" });
    const second = byIdB.get({ id: 1 }, slow);
    await delay(50);
    release();
    await Promise.all([first, second]);
    assert.equal(b.stats()['lease_waits_value'], 1);
    await byId.get({ id: 1 }, slow);
    await byId.get({ id: 1 }, slow); // hits: slow is not called
    assert.ok((a.stats()['l1_hits'] ?? 0) >= 1, JSON.stringify(a.stats()));
    assert.deepEqual(await list.get({ region: 'eu' }, async () => [1, 2]), [1, 2]);
    assert.equal(await byId.get({ id: 2 }, async () => undefined), undefined);
    await admin.set('cache:customer:3', 'not an envelope');
    assert.deepEqual(await byId.get({ id: 3 }, async ({ id }) => ({ id })), { id: 3 });
    assert.equal((await byId.inspect({ id: 1 })).state, 'value');
    assert.equal(await byId.delete({ id: 1 }), true);
    assert.equal(a.stats()['redis_errors'] ?? 0, 0, JSON.stringify(a.stats()));
    assert.deepEqual(await admin.smembers('tag:region:eu'), ['cache:region:eu:list#v0']);
    assert.deepEqual(await admin.acl('LOG'), [], 'no command, key or channel was denied to the client');
  });
});
