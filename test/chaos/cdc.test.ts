import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import pg from 'pg';
import { endOffsets, waitCommittedTo } from '../support/kafka.js';
import { waitFor, withTimeout } from '../support/processes.js';
import { startCdcStack, STACK_DB, type CdcStack } from '../support/stack/cdc-stack.js';
import { stackUnavailable } from '../support/stack/jars.js';
import { WorkerProcess } from '../support/worker-process.js';

/**
 * Chaos on the whole pipeline: a writer commits rows to Postgres at a steady rate while Kafka Connect
 * (SIGKILL, then started again: Debezium resumes from the offsets it stored in Kafka) or Postgres (a
 * fast restart and a crash: Debezium reconnects to its replication slot) goes down. A sentinel is
 * planted under every row's key before its INSERT; every row whose COMMIT returned must have its key
 * invalidated by the end — "sentinels left 0".
 */

const SKIP = stackUnavailable() ?? false;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ROWS = 3_000;
const RATE = 150; // rows per second

const MAPPINGS = `mappings:
  - name: items
    table: inventory.items
    keys: ["item:{id}"]
`;

interface Writer {
  /** Ids whose INSERT … COMMIT returned. */
  readonly committed: Set<number>;
  /** Ids whose statement failed (connection lost): their fate is read back from the table. */
  readonly unsure: Set<number>;
  readonly done: Promise<void>;
  errors: number;
}

/** Inserts ids 1..ROWS one transaction each at RATE, reconnecting through outages (bounded). */
function startWriter(url: string): Writer {
  const w: Writer = { committed: new Set(), unsure: new Set(), errors: 0, done: Promise.resolve() };
  (w as { done: Promise<void> }).done = (async () => {
    let client: pg.Client | undefined;
    const t0 = Date.now();
    for (let id = 1; id <= ROWS; id++) {
      const due = t0 + (id / RATE) * 1_000;
      if (due > Date.now()) await sleep(due - Date.now());
      const deadline = Date.now() + 120_000;
      for (;;) {
        try {
          if (!client) {
            client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
            client.on('error', () => undefined);
            await client.connect();
          }
          await client.query('INSERT INTO inventory.items (id, label) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING', [id, `item ${id}`]);
          w.committed.add(id);
          w.unsure.delete(id);
          break;
        } catch {
          w.errors++;
          w.unsure.add(id);
          await client?.end().catch(() => undefined);
          client = undefined;
          if (Date.now() > deadline) throw new Error(`the writer could not insert row ${id} for 120 s`);
          await sleep(250);
        }
      }
    }
    await client?.end().catch(() => undefined);
  })();
  w.done.catch(() => undefined);
  return w;
}

describe('chaos: Kafka Connect and Postgres failing under the pipeline', { skip: SKIP, timeout: 900_000 }, () => {
  let mappings: string;
  before(async () => {
    mappings = await mkdtemp(join(tmpdir(), 'cdci-cdc-chaos-'));
    await writeFile(join(mappings, 'items.yaml'), MAPPINGS);
  });
  after(async () => rm(mappings, { recursive: true, force: true }));

  async function run(t: { diagnostic(s: string): void }, disrupt: (stack: CdcStack) => Promise<string>): Promise<void> {
    const stack = await startCdcStack({
      initSql: 'CREATE TABLE inventory.items (id INT PRIMARY KEY, label TEXT NOT NULL); INSERT INTO inventory.items VALUES (0, \'seed\');',
      connector: { 'table.include.list': 'inventory.items' },
    });
    const topic = stack.topic('inventory.items');
    const group = `g-${stack.topicPrefix}`;
    const redis: Redis = stack.redisServer.client();
    const worker = new WorkerProcess({
      CDC_INVALIDATOR_BROKERS: stack.kafka.brokers.join(','),
      CDC_INVALIDATOR_GROUP: group,
      CDC_INVALIDATOR_TOPIC_PREFIX: stack.topicPrefix,
      CDC_INVALIDATOR_REDIS: stack.redisServer.url,
      CDC_INVALIDATOR_MAPPINGS: mappings,
      CDC_INVALIDATOR_FROM_BEGINNING: 'true',
      CDC_INVALIDATOR_SECOND_DELETE_DELAY: '500ms',
      CDC_INVALIDATOR_LOG_LEVEL: 'info',
    });
    try {
      await waitFor(async () => (await endOffsets(stack.kafka.kafka(), topic).catch(() => new Map())).size > 0, { timeoutMs: 60_000, intervalMs: 250, message: 'the snapshot topic' });
      const p = redis.pipeline();
      for (let id = 1; id <= ROWS; id++) p.set(`item:${id}`, 'sentinel');
      await p.exec();
      await worker.start();
      const writer = startWriter(stack.postgres.urlFor(STACK_DB));
      await sleep(5_000);
      const before = writer.committed.size;
      const what = await disrupt(stack);
      t.diagnostic(`${what}; ${before} of ${ROWS} rows were committed when it began`);
      await withTimeout(writer.done, 300_000, 'the writer finishing');
      // Rows whose COMMIT never answered: whatever the table holds is what Debezium must have seen.
      const rows = await stack.sql<{ id: number }>('SELECT id FROM inventory.items WHERE id > 0');
      const inTable = new Set(rows.map((r) => Number(r.id)));
      for (const id of writer.committed) assert.ok(inTable.has(id), `row ${id} committed but not in the table`);
      const expected = [...inTable];
      // Debezium delivers the rest; then the worker commits to the end.
      await waitFor(
        async () => {
          const ends = await endOffsets(stack.kafka.kafka(), topic);
          return [...ends.values()].reduce((a, b) => a + b, 0n) >= BigInt(expected.length + 1);
        },
        { timeoutMs: 180_000, intervalMs: 500, message: () => `every row's change in ${topic}\n${stack.connect?.logTail(30)}` },
      );
      await waitCommittedTo(stack.kafka.kafka(), group, topic, await endOffsets(stack.kafka.kafka(), topic), { timeoutMs: 120_000, message: `the worker committing to the end\n${worker.output}` });
      await sleep(1_000);
      let left = 0;
      for (let i = 0; i < expected.length; i += 500) left += await redis.exists(...expected.slice(i, i + 500).map((id) => `item:${id}`));
      const status = await stack.connect?.status(stack.connectorName);
      t.diagnostic(`rows committed ${writer.committed.size}, in the table ${expected.length}, writer errors ${writer.errors}, connector ${status?.connector.state}/${status?.tasks.map((x) => x.state).join(',')}, sentinels left ${left}`);
      assert.equal(left, 0, `sentinels left\n${worker.output}`);
      assert.ok(worker.running, `the worker kept running:\n${worker.output}`);
      assert.equal(await worker.stop(), 0, worker.output);
    } finally {
      await worker.stop().catch(() => undefined);
      redis.disconnect();
      await stack.stop();
    }
  }

  it('Kafka Connect SIGKILLed mid-stream and started again: Debezium resumes from its stored offsets', async (t) => {
    await run(t, async (stack) => {
      await stack.connect!.kill();
      await sleep(3_000);
      const t0 = performance.now();
      await stack.connect!.start();
      await waitFor(async () => (await stack.connect!.status(stack.connectorName))?.tasks.every((x) => x.state === 'RUNNING') ?? false, {
        timeoutMs: 90_000,
        intervalMs: 250,
        message: () => `the connector task RUNNING again\n${stack.connect!.logTail(30)}`,
      });
      return `Connect killed; its task RUNNING again ${Math.round(performance.now() - t0)} ms after the restart`;
    });
  });

  it('Postgres restarted (fast shutdown), then crashed (SIGKILL) mid-stream: Debezium reconnects to its slot', async (t) => {
    await run(t, async (stack) => {
      const t0 = performance.now();
      await stack.postgres.restart();
      const fast = Math.round(performance.now() - t0);
      await sleep(4_000);
      const t1 = performance.now();
      await stack.postgres.restart({ crash: true });
      return `Postgres restarted (${fast} ms) and crashed and restarted (${Math.round(performance.now() - t1)} ms)`;
    });
  });
});
