import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { repoRoot } from '../support/paths.js';
import { waitFor } from '../support/processes.js';
import { detectDockerEngine } from './docker.js';
import { startStack, type Stack } from './stack.js';
import { WorkerProcess } from '../support/worker-process.js';

/**
 * End to end against the real stack of docker-compose.yml (Postgres with logical WAL and init.sql, Kafka in
 * KRaft mode, Debezium Connect with the connector registered by debezium/register.sh, Redis), with the built
 * worker on the host reading the repository's mappings/: SQL changes → Debezium → Kafka → the worker → keys
 * gone from Redis. Needs a Docker engine; without one the suite is skipped with one line saying so.
 */

const engine = await detectDockerEngine();
const SKIP = engine.ok ? false : `no Docker engine reachable (${engine.reason}): the testcontainers end-to-end suite did not run`;

/** Image pulls and Connect's start dominate; every step below has its own, shorter bound. */
const SUITE_TIMEOUT_MS = 15 * 60_000;
const GONE_TIMEOUT_MS = 60_000;

describe('the real stack: Postgres → Debezium → Kafka → cdc-invalidator → Redis', { skip: SKIP, timeout: SUITE_TIMEOUT_MS }, () => {
  let stack: Stack;
  let db: pg.Client;
  let redis: Redis;
  let kafka: Kafka;
  let worker: WorkerProcess;

  before(async () => {
    if (!engine.ok) return;
    stack = await startStack(engine.host);
    db = new pg.Client({ connectionString: stack.postgresUrl });
    await db.connect();
    redis = new Redis(stack.redisUrl, { maxRetriesPerRequest: 3 });
    kafka = new Kafka({ clientId: 'e2e-probe', brokers: [stack.kafkaBrokers], logLevel: logLevel.NOTHING });
    worker = new WorkerProcess({
      CDC_INVALIDATOR_BROKERS: stack.kafkaBrokers,
      CDC_INVALIDATOR_GROUP: `cdc-invalidator-e2e-${process.pid}`,
      CDC_INVALIDATOR_TOPIC_PREFIX: stack.topicPrefix,
      CDC_INVALIDATOR_REDIS: stack.redisUrl,
      CDC_INVALIDATOR_MAPPINGS: join(repoRoot(), 'mappings'),
      CDC_INVALIDATOR_FROM_BEGINNING: 'true',
      CDC_INVALIDATOR_SHUTDOWN_GRACE: '10s',
      CDC_INVALIDATOR_LOG_LEVEL: 'info',
    });
    await worker.start();
  });

  after(async () => {
    await worker?.stop().catch(() => undefined);
    await db?.end().catch(() => undefined);
    redis?.disconnect();
    await stack?.stop();
  });

  /** Sets each key to a marker value. */
  async function cache(...keys: string[]): Promise<void> {
    for (const k of keys) await redis.set(k, 'cached');
  }

  async function present(keys: readonly string[]): Promise<string[]> {
    const out: string[] = [];
    for (const k of keys) if ((await redis.exists(k)) === 1) out.push(k);
    return out;
  }

  /** Waits until none of the keys exists, bounded; the error names the ones left and the worker's output. */
  async function waitGone(keys: readonly string[]): Promise<void> {
    try {
      await waitFor(async () => (await present(keys)).length === 0, { timeoutMs: GONE_TIMEOUT_MS, intervalMs: 200, message: 'the keys to be invalidated' });
    } catch (e) {
      throw new Error(`${(e as Error).message}; still present: ${(await present(keys)).join(', ')}\nworker:\n${worker.output}\nconnect:\n${stack.logs('connect').slice(-4000)}`);
    }
  }

  async function endOffset(topic: string): Promise<number> {
    const admin = kafka.admin();
    await admin.connect();
    try {
      return (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high), 0);
    } finally {
      await admin.disconnect();
    }
  }

  it('an updated row: its keys are gone, an untouched row keeps its keys', async () => {
    const keys = ['customer:1001', 'customer:email:ada@example.com'];
    await cache(...keys, 'customer:1003');
    await db.query(`UPDATE inventory.customers SET first_name = 'Augusta Ada' WHERE id = 1001`);
    await waitGone(keys);
    assert.deepEqual(await present(['customer:1003']), ['customer:1003']);
  });

  it('a changed key column: the keys of the old and of the new value are gone', async () => {
    // email is part of a key: the old value comes from the before image (REPLICA IDENTITY FULL), the new one is lower-cased.
    const email = ['customer:1002', 'customer:email:grace.hopper@example.com', 'customer:email:grace@navy.mil'];
    await cache(...email);
    await db.query(`UPDATE inventory.customers SET email = 'Grace@Navy.mil' WHERE id = 1002`);
    await waitGone(email);

    // A primary-key change: Debezium sends a delete of the old key and a create of the new one.
    const pk = ['product:101', 'product:901', 'product:sku:KB-101'];
    await cache(...pk, 'product:103');
    await db.query('UPDATE inventory.products SET id = 901 WHERE id = 101');
    await waitGone(pk);
    assert.deepEqual(await present(['product:103']), ['product:103']);
  });

  it('a deleted row: its keys are gone, int64 ids beyond 2^53 exact', async () => {
    const keys = ['order:9007199254740993', 'customer:1001:orders'];
    await cache(...keys, 'order:9007199254740994');
    await db.query('DELETE FROM inventory.orders WHERE id = 9007199254740993');
    await waitGone(keys);
    assert.deepEqual(await present(['order:9007199254740994']), ['order:9007199254740994'], 'a rounded id would have hit its neighbour');
  });

  it('a change made while the worker is stopped is applied after it restarts', async () => {
    assert.equal(await worker.stop(), 0, `SIGTERM drains and exits 0:\n${worker.output}`);
    const keys = ['product:102', 'product:sku:MS-202'];
    await cache(...keys);
    const topic = `${stack.topicPrefix}.inventory.products`;
    const before = await endOffset(topic);
    await db.query('UPDATE inventory.products SET price = 19.99 WHERE id = 102');
    // The change reaches Kafka while no worker runs, and nothing deletes the keys meanwhile.
    await waitFor(async () => (await endOffset(topic)) > before, { timeoutMs: GONE_TIMEOUT_MS, intervalMs: 500, message: `the update to reach ${topic}` });
    await new Promise((r) => setTimeout(r, 2_000));
    assert.deepEqual(await present(keys), keys, 'the keys stay while the worker is stopped');
    await worker.start();
    await waitGone(keys);
  });
});
