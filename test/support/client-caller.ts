/**
 * A plain Node process using the cache client through the package's subpath export
 * (`import 'cdc-invalidator/client'`), for the two-process tests. argv: redis port, mappings dir,
 * callers, keys, loader ms. Prints `ready`, waits for a line on stdin, then runs `callers` concurrent
 * reads spread over `keys` keys and prints one JSON line with what they got.
 */
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';

type ClientModule = typeof import('../../src/client/index.js');
const specifier = 'cdc-invalidator/client'; // resolved by Node (package self-reference), not by tsc
const { createCacheClient } = (await import(specifier)) as ClientModule;

const [port, mappings, callers, keys, loaderMs] = process.argv.slice(2);
const redis = new Redis({ port: Number(port), host: '127.0.0.1', enableOfflineQueue: false, maxRetriesPerRequest: 0 });
redis.on('error', () => undefined);
await new Promise<void>((resolve) => redis.once('ready', () => resolve()));
const cache = await createCacheClient({ redis, mappings: mappings! });
const entry = cache.entry<{ id: number; filledBy: number }, { id: number }>({
  mapping: 'customers',
  key: 'customer:{id}',
  load: async ({ id }) => {
    await redis.incr(`loads:${id}`); // counted in Redis: across processes
    await new Promise((r) => setTimeout(r, Number(loaderMs)));
    return { id, filledBy: process.pid };
  },
});
process.stdout.write('ready\n');
const lines = createInterface({ input: process.stdin });
await new Promise<void>((resolve) => lines.once('line', () => resolve()));
const n = Number(callers);
const k = Number(keys);
const results = await Promise.all(Array.from({ length: n }, (_, i) => entry.get({ id: 1 + (i % k) })));
process.stdout.write(`${JSON.stringify({ pid: process.pid, results, stats: cache.stats() })}\n`);
lines.close();
await cache.close();
redis.disconnect();
