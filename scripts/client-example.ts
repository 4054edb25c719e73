/**
 * An example service for docs/client.md: customers over HTTP (node:http), read from Postgres through the
 * cache client, on the keys the worker's mappings/inventory.yaml deletes. The worker keeps the cache
 * honest; the service only reads through it (and deletes its own writes for read-your-writes).
 *
 *   DATABASE_URL=postgres://postgres@localhost:5432/shop REDIS_URL=redis://localhost:6379 \
 *   MAPPINGS_DIR=mappings PORT=8090 node dist/scripts/client-example.js
 *
 * In an application the import is `from 'cdc-invalidator/client'`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import pino, { type Logger } from 'pino';
import { Registry } from 'prom-client';
import { createCacheClient, type CacheClient } from '../src/client/index.js';

export interface Customer {
  id: number;
  first_name: string;
  last_name: string;
  email: string;
  /** Postgres' xmin of the row version read: mappings/inventory.yaml names it as version_column. */
  xmin: string;
}

const COLUMNS = 'id, first_name, last_name, email, xmin::text AS xmin';

export interface CustomerService {
  readonly port: number;
  readonly cache: CacheClient;
  close(): Promise<void>;
}

export async function startCustomerService(o: { db: pg.Pool; redis: Redis; mappings: string; port?: number; logger?: Logger }): Promise<CustomerService> {
  const logger = o.logger ?? pino({ level: 'info' });
  const registry = new Registry();
  const cache = await createCacheClient({
    redis: o.redis,
    mappings: o.mappings,
    logger,
    registry,
    defaults: { ttlMs: 10 * 60_000, negativeTtlMs: 30_000 },
    l1: { maxEntries: 10_000 },
  });

  // Both keys of the "customers" mapping: the worker deletes them when a row changes (old and new email).
  const byId = cache.entry<Customer, { id: number }>({
    mapping: 'customers',
    key: 'customer:{id}',
    load: async ({ id }, { signal }) => {
      const q = { text: `SELECT ${COLUMNS} FROM inventory.customers WHERE id = $1`, values: [id] };
      signal.throwIfAborted();
      return (await o.db.query<Customer>(q)).rows[0];
    },
  });
  const byEmail = cache.entry<Customer, { email: string }>({
    mapping: 'customers',
    key: 'customer:email:{email|lower}',
    load: async ({ email }) => (await o.db.query<Customer>(`SELECT ${COLUMNS} FROM inventory.customers WHERE lower(email) = lower($1)`, [email])).rows[0],
  });

  const send = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`);
  };
  const readBody = async (req: IncomingMessage): Promise<Record<string, unknown>> => {
    let text = '';
    for await (const chunk of req) {
      text += String(chunk);
      if (text.length > 65_536) throw new Error('body too large');
    }
    return JSON.parse(text) as Record<string, unknown>;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const id = /^\/customers\/(\d+)$/.exec(url.pathname)?.[1];
    const email = /^\/customers\/by-email\/([^/]+)$/.exec(url.pathname)?.[1];
    if (req.method === 'GET' && id) {
      const c = await byId.get({ id: Number(id) });
      return c ? send(res, 200, c) : send(res, 404, { error: 'no such customer' });
    }
    if (req.method === 'GET' && email) {
      const c = await byEmail.get({ email: decodeURIComponent(email) });
      return c ? send(res, 200, c) : send(res, 404, { error: 'no such customer' });
    }
    if (req.method === 'PUT' && id) {
      const body = await readBody(req);
      const r = await o.db.query<Customer>(
        `UPDATE inventory.customers SET first_name = coalesce($2, first_name), last_name = coalesce($3, last_name), email = coalesce($4, email)
         WHERE id = $1 RETURNING ${COLUMNS}`,
        [Number(id), body['first_name'] ?? null, body['last_name'] ?? null, body['email'] ?? null],
      );
      if (!r.rows[0]) return send(res, 404, { error: 'no such customer' });
      // Read-your-writes in this service: drop the key now rather than when the worker's delete arrives.
      // Everything else (the old email's key, other services' caches) is the worker's job.
      await byId.delete({ id: Number(id) }).catch((e: unknown) => logger.warn({ err: { message: (e as Error).message } }, 'could not delete the cached customer'));
      return send(res, 200, r.rows[0]);
    }
    if (req.method === 'GET' && url.pathname === '/metrics') {
      res.writeHead(200, { 'content-type': registry.contentType }).end(await registry.metrics());
      return;
    }
    send(res, 404, { error: 'not found' });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      logger.error({ err: { message: (e as Error).message } }, 'request failed');
      if (!res.headersSent) send(res, 500, { error: 'internal error' });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  logger.info({ port }, 'customer service listening');
  return {
    port,
    cache,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await cache.close();
    },
  };
}

// Run directly: configuration from the environment, SIGTERM/SIGINT stop it.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const logger = pino({ level: process.env['LOG_LEVEL'] ?? 'info' });
  const db = new pg.Pool({ connectionString: process.env['DATABASE_URL'] ?? 'postgres://postgres@localhost:5432/shop', max: 10 });
  db.on('error', (e: Error) => logger.warn({ err: { message: e.message } }, 'idle database connection lost'));
  const redis = new Redis(process.env['REDIS_URL'] ?? 'redis://localhost:6379', { enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: 500 });
  redis.on('error', (e: Error) => logger.warn({ err: { message: e.message } }, 'redis connection error'));
  const service = await startCustomerService({ db, redis, mappings: process.env['MAPPINGS_DIR'] ?? 'mappings', port: Number(process.env['PORT'] ?? 8090), logger });
  const stop = (): void => {
    void service.close().finally(() => {
      redis.disconnect();
      void db.end();
    });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
