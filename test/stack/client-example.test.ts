import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { copyFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import pg from 'pg';
import pino from 'pino';
import { readStored } from '../../src/client/index.js';
import { startCustomerService, type Customer, type CustomerService } from '../../scripts/client-example.js';
import { appRedis } from '../support/client.js';
import { uniqueName } from '../support/kafka.js';
import { repoRoot } from '../support/paths.js';
import { postgresUnavailable } from '../support/postgres.js';
import { stopProcess, waitFor } from '../support/processes.js';
import { startCdcStack, STACK_DB, type CdcStack } from '../support/stack/cdc-stack.js';
import { stackUnavailable } from '../support/stack/jars.js';
import { runArgs, spawnCli } from '../support/worker.js';

/**
 * docs/client.md's example service on the whole pipeline: Postgres (the demo schema) → Debezium (Kafka
 * Connect) → Kafka → the worker (CLI) → Redis, and the service reading through the cache client.
 * Rows are changed with plain SQL (another writer) and through the service's PUT.
 */

const skip = postgresUnavailable() ?? stackUnavailable();

let stack: CdcStack;
let worker: ChildProcess;
let workerOut = '';
let db: pg.Pool;
let redis: Redis;
let service: CustomerService;

async function http(method: string, path: string, body?: unknown): Promise<{ status: number; body: Customer & { error?: string } }> {
  const res = await fetch(`http://127.0.0.1:${service.port}${path}`, {
    method,
    ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
  });
  return { status: res.status, body: (await res.json()) as Customer & { error?: string } };
}

before(async () => {
  if (skip) return;
  stack = await startCdcStack();
  const mappings = await mkdtemp(join(tmpdir(), 'cdci-example-'));
  await copyFile(join(repoRoot(), 'mappings', 'inventory.yaml'), join(mappings, 'inventory.yaml'));
  const topics = ['customers', 'products', 'orders'].map((t) => stack.topic(`inventory.${t}`));
  const admin = stack.kafka.kafka().admin();
  await admin.connect();
  try {
    await waitFor(async () => (await admin.listTopics()).filter((t) => topics.includes(t)).length === topics.length, {
      timeoutMs: 60_000,
      intervalMs: 250,
      message: 'Debezium created the topics (initial snapshot)',
    });
  } finally {
    await admin.disconnect();
  }
  worker = spawnCli(runArgs({ brokers: stack.kafka.brokers, redis: stack.redisServer.url, topic: topics.join(','), group: uniqueName('g'), mappings }));
  worker.stdout!.on('data', (d: Buffer) => (workerOut += d.toString()));
  worker.stderr!.on('data', (d: Buffer) => (workerOut += d.toString()));
  db = new pg.Pool({ connectionString: stack.postgres.urlFor(STACK_DB), max: 5 });
  db.on('error', () => undefined); // idle connections terminated when the stack stops
  redis = await appRedis(stack.redisServer.port);
  service = await startCustomerService({ db, redis, mappings, logger: pino({ level: 'silent' }) });
});
after(async () => {
  await service?.close();
  redis?.disconnect();
  await db?.end();
  if (worker) await stopProcess(worker, 'SIGTERM', 10_000);
  await stack?.stop();
});

describe('the example service of docs/client.md on Postgres → Debezium → Kafka → worker → Redis', { skip, timeout: 240_000 }, () => {
  it('serves customers from the cache, filled from Postgres with the row version (xmin) in the envelope', async () => {
    const first = await http('GET', '/customers/1001');
    assert.equal(first.status, 200);
    assert.equal(first.body.first_name, 'Ada');
    const stored = readStored((await redis.get('customer:1001'))!);
    assert.ok(stored.kind === 'value');
    assert.equal(stored.header.rowVersion, first.body.xmin);
    assert.deepEqual((await http('GET', '/customers/1001')).body, first.body);
    assert.equal((await http('GET', '/customers/by-email/ADA@example.com')).body.id, 1001);
    assert.equal((await http('GET', '/customers/99')).status, 404);
    const metrics = await (await fetch(`http://127.0.0.1:${service.port}/metrics`)).text();
    assert.match(metrics, /cdc_invalidator_client_fills_total\{entry="customers\/customer:\{id\}"\} 2/, 'customer 1001, and "not found" for 99');
    assert.match(metrics, /cdc_invalidator_client_hits_total\{entry="customers\/customer:\{id\}"\} 1/);
  });

  it('another writer changes the row in SQL: the worker deletes the key and the next read is fresh', async (t) => {
    await http('GET', '/customers/1002');
    const t0 = performance.now();
    await db.query("UPDATE inventory.customers SET last_name = 'Hopper-Murray' WHERE id = 1002");
    await waitFor(async () => (await http('GET', '/customers/1002')).body.last_name === 'Hopper-Murray', {
      timeoutMs: 30_000,
      intervalMs: 50,
      message: () => `the change reaching the cache\n${workerOut.slice(-2_000)}`,
    });
    t.diagnostic(`UPDATE committed → the service reads the new row: ${Math.round(performance.now() - t0)} ms (Debezium, Kafka, worker)`);

    // The envelope's row version (xmin) is the id of the transaction that wrote the row version: the
    // txId Debezium puts into the change event's source block. An inspector can match the two.
    const stored = readStored((await redis.get('customer:1002'))!);
    assert.ok(stored.kind === 'value');
    const consumer = stack.kafka.kafka().consumer({ groupId: uniqueName('inspect') });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: stack.topic('inventory.customers'), fromBeginning: true });
      let txId: string | undefined;
      await consumer.run({
        eachMessage: async ({ message }) => {
          const e = JSON.parse(message.value?.toString() ?? 'null') as { op?: string; after?: { id?: number }; source?: { txId?: number } } | null;
          if (e?.op === 'u' && e.after?.id === 1002) txId = String(e.source?.txId);
        },
      });
      await waitFor(() => txId !== undefined, { timeoutMs: 30_000, message: 'the update event of customer 1002' });
      assert.equal(stored.header.rowVersion, txId, 'envelope v (xmin) = the event source.txId');
    } finally {
      await consumer.disconnect();
    }
  });

  it("a PUT through the service: its own read is fresh at once, and the worker deletes the old email's key", async () => {
    assert.equal((await http('GET', '/customers/by-email/alan.turing@example.org')).status, 200);
    await http('GET', '/customers/1003');
    const put = await http('PUT', '/customers/1003', { email: 'alan@example.org' });
    assert.equal(put.status, 200);
    assert.equal((await http('GET', '/customers/1003')).body.email, 'alan@example.org', 'read-your-writes');
    await waitFor(async () => (await http('GET', '/customers/by-email/alan.turing@example.org')).status === 404, {
      timeoutMs: 30_000,
      intervalMs: 50,
      message: () => `the old email's key deleted\n${workerOut.slice(-2_000)}`,
    });
    assert.equal((await http('GET', '/customers/by-email/ALAN@example.org')).body.id, 1003);
  });
});
