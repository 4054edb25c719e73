import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { endOffsets, waitCommittedTo } from '../support/kafka.js';
import { waitFor } from '../support/processes.js';
import { CacheProbe } from '../support/stack/cache-probe.js';
import { startCdcStack, type CdcStack } from '../support/stack/cdc-stack.js';
import { stackUnavailable } from '../support/stack/jars.js';
import { WorkerProcess } from '../support/worker-process.js';

/**
 * Connector variants on the real stack, each with a worker CLI and a Redis database of its own:
 * - the ExtractNewRecordState ("unwrap") SMT with add.fields and rewritten deletes;
 * - transaction metadata and frequent heartbeats, with the worker subscribed (by regex) to the
 *   transaction and heartbeat topics too: those records are skipped and committed;
 * - snapshot reads: a mapping with `ops: [c, u, d, r]` invalidates on the initial snapshot, one without does not.
 */

const SKIP = stackUnavailable() ?? false;

const MAPPINGS = `mappings:
  - name: customers
    table: inventory.customers
    keys: ["customer:{id}", "customer:email:{email|lower}"]
  - name: products-with-snapshot
    table: inventory.products
    keys: ["product:{id}"]
    ops: [c, u, d, r]
`;

interface Variant {
  readonly name: string;
  readonly prefix: string;
  readonly probe: CacheProbe;
  readonly worker: WorkerProcess;
  readonly group: string;
}

describe('connector variants on the real stack', { skip: SKIP, timeout: 10 * 60_000 }, () => {
  let stack: CdcStack;
  let mappings: string;
  let unwrap: Variant;
  let meta: Variant;
  const clients: Redis[] = [];

  const context = (): string => [unwrap, meta].map((v) => `--- worker ${v?.name}:\n${v?.worker.output.slice(-3000)}`).join('\n');

  before(async () => {
    // The stack's own connector is the plain one; the variants are added beside it.
    stack = await startCdcStack({ connector: { 'table.include.list': 'inventory.customers' } });
    const unwrapPrefix = `${stack.topicPrefix}u`;
    const metaPrefix = `${stack.topicPrefix}m`;
    mappings = await mkdtemp(join(tmpdir(), 'cdci-variants-'));
    await writeFile(join(mappings, 'mappings.yaml'), MAPPINGS);

    const variant = (name: string, prefix: string, db: number, env: Record<string, string>): Variant => {
      const redis = new Redis({ port: stack.redisServer.port, host: '127.0.0.1', db, maxRetriesPerRequest: 3 });
      clients.push(redis);
      const group = `g-${prefix}`;
      const worker = new WorkerProcess({
        CDC_INVALIDATOR_BROKERS: stack.kafka.brokers.join(','),
        CDC_INVALIDATOR_GROUP: group,
        CDC_INVALIDATOR_REDIS: `${stack.redisServer.url}/${db}`,
        CDC_INVALIDATOR_MAPPINGS: mappings,
        CDC_INVALIDATOR_FROM_BEGINNING: 'true',
        CDC_INVALIDATOR_SECOND_DELETE_DELAY: '300ms',
        CDC_INVALIDATOR_COMMIT_INTERVAL: '100ms',
        CDC_INVALIDATOR_LOG_LEVEL: 'info',
        ...env,
      });
      return { name, prefix, probe: new CacheProbe(name, redis), worker, group };
    };
    unwrap = variant('unwrap SMT', unwrapPrefix, 3, { CDC_INVALIDATOR_TOPIC_PREFIX: unwrapPrefix });
    meta = variant('transaction metadata', metaPrefix, 4, {
      CDC_INVALIDATOR_TOPICS: `/^(${metaPrefix}\\.(transaction|inventory\\..+)|__debezium-heartbeat\\.${metaPrefix})$/`,
    });
    // Cached before any connector snapshot of these prefixes: only the mapping with op r may remove them.
    for (const v of [unwrap, meta]) await v.probe.plant(['product:101', 'product:102', 'customer:1002']);

    const tables = 'inventory.customers,inventory.products';
    await stack.addConnector({
      prefix: unwrapPrefix,
      overrides: {
        'table.include.list': tables,
        transforms: 'unwrap',
        'transforms.unwrap.type': 'io.debezium.transforms.ExtractNewRecordState',
        'transforms.unwrap.add.fields': 'op,table,schema,source.ts_ms',
        'transforms.unwrap.delete.tombstone.handling.mode': 'rewrite',
      },
    });
    await stack.addConnector({
      prefix: metaPrefix,
      overrides: { 'table.include.list': tables, 'provide.transaction.metadata': 'true', 'heartbeat.interval.ms': '500' },
    });
    const admin = stack.kafka.kafka().admin();
    await admin.connect();
    try {
      const wanted = [
        ...[unwrapPrefix, metaPrefix].flatMap((p) => [`${p}.inventory.customers`, `${p}.inventory.products`]),
        `__debezium-heartbeat.${metaPrefix}`,
      ];
      await waitFor(async () => {
        const topics = new Set(await admin.listTopics());
        return wanted.every((t) => topics.has(t));
      }, { timeoutMs: 60_000, intervalMs: 250, message: 'the connectors to create their topics' });
    } finally {
      await admin.disconnect();
    }
    // The transaction topic appears with the first transaction after the snapshot.
    await stack.sql(`UPDATE inventory.customers SET first_name = 'Ada' WHERE id = 1001`);
    await waitFor(async () => {
      const a = stack.kafka.kafka().admin();
      await a.connect();
      try {
        return (await a.listTopics()).includes(`${metaPrefix}.transaction`);
      } finally {
        await a.disconnect();
      }
    }, { timeoutMs: 60_000, intervalMs: 250, message: 'the transaction topic' });
    await Promise.all([unwrap.worker.start(), meta.worker.start()]);
  });

  after(async () => {
    await Promise.all([unwrap, meta].map((v) => v?.worker.stop().catch(() => null)));
    for (const c of clients) c.disconnect();
    await stack?.stop();
    if (mappings) await rm(mappings, { recursive: true, force: true });
  });

  it('snapshot reads invalidate only through a mapping that lists op r', async () => {
    for (const v of [unwrap, meta]) {
      await v.probe.waitGone(['product:101', 'product:102'], { context });
    }
    for (const v of [unwrap, meta]) {
      const topic = `${v.prefix}.inventory.customers`;
      await waitCommittedTo(stack.kafka.kafka(), v.group, topic, await endOffsets(stack.kafka.kafka(), topic), { timeoutMs: 60_000, message: `${v.name}: customers committed` });
      assert.equal(await v.worker.metric('cdc_invalidator_events_total', { table: 'inventory.customers', op: 'r' }), 4, `${v.name}: 4 snapshot reads of customers`);
      assert.deepEqual(await v.probe.present(['customer:1002']), ['customer:1002'], `${v.name}: the snapshot read of customer 1002 invalidated nothing`);
    }
  });

  it('the unwrap SMT: updates, key changes (new value only: no before image) and rewritten deletes', async () => {
    const p = unwrap.probe;
    await p.plant(['customer:1002', 'customer:email:grace@navy.mil']);
    await stack.sql(`UPDATE inventory.customers SET email = 'Grace@Navy.mil' WHERE id = 1002`);
    await p.waitGone(['customer:1002', 'customer:email:grace@navy.mil'], { context });

    await p.plant(['customer:1004', 'customer:email:kj@example.net']);
    await stack.sql(`DELETE FROM inventory.orders WHERE customer_id = 1004; DELETE FROM inventory.customers WHERE id = 1004`);
    await p.waitGone(['customer:1004', 'customer:email:kj@example.net'], { context });
    assert.equal(await unwrap.worker.metric('cdc_invalidator_poison_records_total'), 0, context());
  });

  it('transaction metadata and heartbeats: skipped, counted and committed to the end; the changes still apply', async () => {
    await meta.probe.plant(['customer:1003', 'customer:email:alan.turing@example.org']);
    await stack.sql(`BEGIN; UPDATE inventory.customers SET first_name = 'A.' WHERE id = 1003; UPDATE inventory.products SET price = 1 WHERE id = 104; COMMIT;`);
    await meta.probe.waitGone(['customer:1003', 'customer:email:alan.turing@example.org'], { context });
    const kafka = stack.kafka.kafka();
    for (const topic of [`${meta.prefix}.transaction`, `__debezium-heartbeat.${meta.prefix}`]) {
      await waitCommittedTo(kafka, meta.group, topic, await endOffsets(kafka, topic), { timeoutMs: 30_000, message: `${topic} committed to its end` });
    }
    assert.ok((await meta.worker.metric('cdc_invalidator_records_skipped_total', { reason: 'transaction' })) >= 2, 'BEGIN and END skipped');
    assert.ok((await meta.worker.metric('cdc_invalidator_records_skipped_total', { reason: 'heartbeat' })) >= 1, 'heartbeats skipped');
    assert.equal(await meta.worker.metric('cdc_invalidator_poison_records_total'), 0, context());
  });
});
