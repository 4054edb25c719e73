import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { waitCommittedTo, endOffsets } from '../support/kafka.js';
import { repoRoot } from '../support/paths.js';
import { waitFor } from '../support/processes.js';
import { CacheProbe } from '../support/stack/cache-probe.js';
import { startCdcStack, type CdcStack } from '../support/stack/cdc-stack.js';
import { stackUnavailable } from '../support/stack/jars.js';
import { WorkerProcess } from '../support/worker-process.js';

/**
 * Through SQL on the real stack: Postgres 15 (logical WAL, docker/postgres/init.sql) → Debezium 3.6
 * in Kafka Connect, registered by debezium/register.sh from debezium/postgres-connector.json → Kafka
 * 4.3 → the worker CLI on mappings/inventory.yaml (+ three test tables) → Redis. Two connectors
 * capture the same database: the project's JSON as it is (JSON converter without schemas,
 * decimal.handling.mode string) and the same with `schemas.enable=true` and precise decimals; a worker
 * per connector invalidates its own Redis database, and every change must reach both.
 */

const SKIP = stackUnavailable() ?? false;

const TABLES = ['customers', 'products', 'orders', 'accounts', 'documents', 'prices'].map((t) => `inventory.${t}`).join(',');

/** Test tables beside the demo schema: replica identity DEFAULT, a TOASTed column, a numeric key. */
const INIT_SQL = `
SET search_path TO inventory;
CREATE TABLE accounts (id BIGINT PRIMARY KEY, email TEXT NOT NULL, nickname TEXT);
CREATE TABLE documents (id INT PRIMARY KEY, slug TEXT NOT NULL, body TEXT NOT NULL);
ALTER TABLE documents ALTER COLUMN body SET STORAGE EXTERNAL;
CREATE TABLE prices (code NUMERIC(10,2) PRIMARY KEY, label TEXT NOT NULL);
ALTER TABLE prices REPLICA IDENTITY FULL;
INSERT INTO accounts VALUES (1, 'one@example.com', 'one'), (2, 'two@example.com', 'two');
INSERT INTO documents VALUES (1, 'intro', repeat(md5('toast'), 80));
INSERT INTO prices VALUES (12.50, 'twelve fifty'), (7.00, 'seven');
`;

const EXTRA_MAPPINGS = `mappings:
  - name: accounts          # REPLICA IDENTITY DEFAULT: a delete's before image holds only the key
    table: inventory.accounts
    keys: ["account:{id}", "account:email:{email}"]
    replica_identity: default
  - name: documents         # body is TOASTed (STORAGE EXTERNAL, 2.5 kB): an update of slug leaves it out
    table: inventory.documents
    keys: ["doc:{id}", "doc:slug:{slug}", "doc:{id}:body:{body}"]
  - name: prices            # a NUMERIC primary key
    table: inventory.prices
    keys: ["price:{code}"]
    on_truncate:
      versions: ["prices:version"]
`;

const TOAST = '__debezium_unavailable_value';

interface Variant {
  readonly name: string;
  readonly prefix: string;
  readonly db: number;
  probe: CacheProbe;
  worker: WorkerProcess;
}

describe('through SQL on the real stack (two JSON converter variants)', { skip: SKIP, timeout: 15 * 60_000 }, () => {
  let stack: CdcStack;
  let mappings: string;
  const variants: Variant[] = [];
  const redisClients: Redis[] = [];
  const timings: Record<string, number> = {};

  const context = (): string =>
    variants.map((v) => `--- worker ${v.name}:\n${v.worker.output.slice(-3000)}`).join('\n') + `\n--- connect:\n${stack.connect?.logTail(20) ?? ''}`;

  /** Plants the keys in every variant's database. */
  const plant = (keys: readonly string[]): Promise<unknown> => Promise.all(variants.map((v) => v.probe.plant(keys)));
  const waitGone = (keys: readonly string[]): Promise<unknown> => Promise.all(variants.map((v) => v.probe.waitGone(keys, { context })));
  /** Keys (of `keys`) still present in each variant, as `variant:key`. */
  const stillPresent = async (keys: readonly string[]): Promise<string[]> =>
    (await Promise.all(variants.map(async (v) => (await v.probe.present(keys)).map((k) => `${v.name}:${k}`)))).flat();

  /** Waits until every variant's group committed every mapped topic to its end. */
  async function settled(): Promise<void> {
    const kafka = stack.kafka.kafka();
    for (const v of variants) {
      for (const table of TABLES.split(',')) {
        const topic = `${v.prefix}.${table}`;
        await waitCommittedTo(kafka, `g-${v.prefix}`, topic, await endOffsets(kafka, topic), { timeoutMs: 60_000, message: `${v.name} committed ${topic} to its end` });
      }
    }
  }

  before(async () => {
    const t0 = performance.now();
    stack = await startCdcStack({ initSql: INIT_SQL, connector: { 'table.include.list': TABLES } });
    timings['stack'] = Math.round(performance.now() - t0);
    const withSchemas = `${stack.topicPrefix}s`;
    const t1 = performance.now();
    await stack.addConnector({
      prefix: withSchemas,
      overrides: { 'table.include.list': TABLES, 'key.converter.schemas.enable': 'true', 'value.converter.schemas.enable': 'true', 'decimal.handling.mode': 'precise' },
    });
    timings['second connector'] = Math.round(performance.now() - t1);

    mappings = await mkdtemp(join(tmpdir(), 'cdci-stack-mappings-'));
    await copyFile(join(repoRoot(), 'mappings', 'inventory.yaml'), join(mappings, 'inventory.yaml'));
    await writeFile(join(mappings, 'stack-tables.yaml'), EXTRA_MAPPINGS);

    // The snapshot creates every table's topic; the workers subscribe to them by prefix.
    const admin = stack.kafka.kafka().admin();
    await admin.connect();
    try {
      const wanted = [stack.topicPrefix, withSchemas].flatMap((p) => TABLES.split(',').map((t) => `${p}.${t}`));
      await waitFor(async () => {
        const topics = new Set(await admin.listTopics());
        return wanted.every((t) => topics.has(t));
      }, { timeoutMs: 60_000, intervalMs: 250, message: 'the snapshot to create every table topic' });
    } finally {
      await admin.disconnect();
    }

    for (const [name, prefix, db] of [['schemas=false', stack.topicPrefix, 1], ['schemas=true', withSchemas, 2]] as const) {
      const redis = new Redis({ port: stack.redisServer.port, host: '127.0.0.1', db, maxRetriesPerRequest: 3 });
      redisClients.push(redis);
      const worker = new WorkerProcess({
        CDC_INVALIDATOR_BROKERS: stack.kafka.brokers.join(','),
        CDC_INVALIDATOR_GROUP: `g-${prefix}`,
        CDC_INVALIDATOR_TOPIC_PREFIX: prefix,
        CDC_INVALIDATOR_REDIS: `${stack.redisServer.url}/${db}`,
        CDC_INVALIDATOR_MAPPINGS: mappings,
        CDC_INVALIDATOR_FROM_BEGINNING: 'true',
        CDC_INVALIDATOR_SECOND_DELETE_DELAY: '300ms',
        CDC_INVALIDATOR_COMMIT_INTERVAL: '100ms',
        CDC_INVALIDATOR_LOG_LEVEL: 'info',
      });
      variants.push({ name, prefix, db, probe: new CacheProbe(name, redis), worker });
    }
    // Cached before the workers start: the snapshot's op "r" events must not touch them.
    await plant(['customer:1003', 'product:103', 'account:1']);
    const t2 = performance.now();
    await Promise.all(variants.map((v) => v.worker.start()));
    timings['workers ready'] = Math.round(performance.now() - t2);
  });

  after(async () => {
    const exits = await Promise.all(variants.map((v) => v.worker.stop().catch(() => null)));
    for (const r of redisClients) r.disconnect();
    await stack?.stop();
    if (mappings) await rm(mappings, { recursive: true, force: true });
    console.log(`# stack start-up: ${JSON.stringify({ ...stack?.timings, ...timings })}; worker exits ${JSON.stringify(exits)}`);
  });

  it('snapshot reads (op r) invalidate nothing when the mapping does not list r', async () => {
    await settled();
    assert.deepEqual(await stillPresent(['customer:1003', 'product:103', 'account:1']), variants.flatMap((v) => ['customer:1003', 'product:103', 'account:1'].map((k) => `${v.name}:${k}`)));
    for (const v of variants) assert.ok((await v.worker.metric('cdc_invalidator_events_total', { table: 'inventory.customers', op: 'r' })) >= 4, `${v.name} read the snapshot`);
  });

  it('an insert, an update and a delete invalidate their keys; an untouched row keeps its own', async () => {
    const inserted = ['customer:2001', 'customer:email:new.customer@example.com'];
    await plant(inserted);
    await stack.sql(`INSERT INTO inventory.customers (id, first_name, last_name, email) VALUES (2001, 'New', 'Customer', 'New.Customer@Example.com')`);
    await waitGone(inserted);

    const updated = ['customer:1001', 'customer:email:ada@example.com'];
    await plant(updated);
    await stack.sql(`UPDATE inventory.customers SET first_name = 'Augusta Ada' WHERE id = 1001`);
    await waitGone(updated);

    await plant(inserted);
    await stack.sql('DELETE FROM inventory.customers WHERE id = 2001');
    await waitGone(inserted);
    assert.equal((await stillPresent(['customer:1003'])).length, variants.length, 'customer 1003 was not changed');
  });

  it('a key column change invalidates the key of the old and of the new value (REPLICA IDENTITY FULL)', async () => {
    const keys = ['customer:1002', 'customer:email:grace.hopper@example.com', 'customer:email:grace@navy.mil'];
    await plant(keys);
    await stack.sql(`UPDATE inventory.customers SET email = 'Grace@Navy.mil' WHERE id = 1002`);
    await waitGone(keys);
  });

  it('a primary key change invalidates the old and the new id (Debezium: a delete, then a create)', async () => {
    const keys = ['product:101', 'product:901', 'product:sku:KB-101'];
    await plant(keys);
    await stack.sql('UPDATE inventory.products SET id = 901 WHERE id = 101');
    await waitGone(keys);
  });

  it('deletes: FULL renders non-key columns from before; DEFAULT renders only the key, never a placeholder key', async () => {
    const full = ['product:104', 'product:sku:CB-404'];
    const defaultKeys = ['account:2'];
    // What a key-only before image would render if its placeholder ("" for the NOT NULL email) were taken as the value.
    const wrong = ['account:email:', 'account:email:null'];
    await plant([...full, ...defaultKeys, ...wrong]);
    const skippedBefore = await Promise.all(variants.map((v) => v.worker.metric('cdc_invalidator_templates_skipped_total', { mapping: 'accounts' })));
    await stack.sql('DELETE FROM inventory.products WHERE id = 104; DELETE FROM inventory.accounts WHERE id = 2');
    await waitGone([...full, ...defaultKeys]);
    assert.deepEqual(await stillPresent(wrong), variants.flatMap((v) => wrong.map((k) => `${v.name}:${k}`)), 'no key was rendered from a placeholder');
    for (const [i, v] of variants.entries()) {
      const skipped = await v.worker.metric('cdc_invalidator_templates_skipped_total', { mapping: 'accounts' });
      assert.ok(skipped > skippedBefore[i]!, `${v.name}: the email template of the key-only delete was counted as skipped`);
    }
    // An update of a DEFAULT table has no before image: the keys of the new row go.
    await plant(['account:1', 'account:email:one@example.com']);
    await stack.sql(`UPDATE inventory.accounts SET nickname = 'uno' WHERE id = 1`);
    await waitGone(['account:1', 'account:email:one@example.com']);
  });

  it('an unchanged TOASTed column yields no key, and is counted; the other templates render', async () => {
    const keys = ['doc:1', 'doc:slug:intro-2'];
    const wrong = [`doc:1:body:${TOAST}`];
    await plant([...keys, ...wrong]);
    await stack.sql(`UPDATE inventory.documents SET slug = 'intro-2' WHERE id = 1`);
    await waitGone(keys);
    assert.deepEqual(await stillPresent(wrong), variants.map((v) => `${v.name}:${wrong[0]}`));
    for (const v of variants) {
      assert.ok((await v.worker.metric('cdc_invalidator_templates_skipped_total', { mapping: 'documents', reason: 'toast' })) >= 1, `${v.name} counted the TOAST placeholder`);
    }
  });

  it('a NUMERIC key column renders as decimal text (decimal.handling.mode string, and precise with schemas)', async () => {
    await plant(['price:12.50', 'price:7.00']);
    await stack.sql(`UPDATE inventory.prices SET label = 'twelve and a half' WHERE code = 12.50`);
    await waitGone(['price:12.50']);
    assert.equal((await stillPresent(['price:7.00'])).length, variants.length);
  });

  it('bigint ids beyond 2^53 stay exact', async () => {
    const keys = ['order:9007199254740993', 'customer:1001:orders'];
    await plant([...keys, 'order:9007199254740994']);
    await stack.sql('DELETE FROM inventory.orders WHERE id = 9007199254740993');
    await waitGone(keys);
    assert.equal((await stillPresent(['order:9007199254740994'])).length, variants.length, 'a rounded id would have hit its neighbour');
  });

  it('a transaction touching several tables invalidates the keys of each', async () => {
    const keys = ['customer:1003', 'customer:email:alan.turing@example.org', 'product:103', 'product:sku:MN-303', 'order:77', 'customer:1003:orders'];
    await plant(keys);
    await stack.sql(`BEGIN;
      UPDATE inventory.customers SET last_name = 'Mathison Turing' WHERE id = 1003;
      UPDATE inventory.products SET price = 259.00 WHERE id = 103;
      INSERT INTO inventory.orders (id, customer_id, total) VALUES (77, 1003, 259.00);
      COMMIT;`);
    await waitGone(keys);
  });

  it('ALTER TABLE … ADD COLUMN mid-stream loses nothing', async () => {
    const first = ['customer:1001', 'customer:email:ada@example.com'];
    const second = ['customer:1003', 'customer:email:alan.turing@example.org'];
    await plant([...first, ...second]);
    await stack.sql(`UPDATE inventory.customers SET first_name = 'Ada' WHERE id = 1001;
      ALTER TABLE inventory.customers ADD COLUMN phone TEXT;
      UPDATE inventory.customers SET phone = '+44 20 7946 0000' WHERE id = 1003;`);
    await waitGone([...first, ...second]);
    for (const v of variants) assert.equal(await v.worker.metric('cdc_invalidator_poison_records_total'), 0, `${v.name}: no poison`);
  });

  it('TRUNCATE applies on_truncate (skipped.operations=none in the connector JSON)', async () => {
    await stack.sql('TRUNCATE inventory.prices');
    await waitFor(async () => (await Promise.all(variants.map((v) => v.probe.redis.get('prices:version')))).every((x) => x === '1'), {
      timeoutMs: 60_000,
      intervalMs: 100,
      message: () => `prices:version to be bumped by the truncate in every variant\n${context()}`,
    });
  });

  it('a change made while the worker is stopped is applied after it restarts', async () => {
    const exits = await Promise.all(variants.map((v) => v.worker.stop()));
    assert.deepEqual(exits, variants.map(() => 0), `SIGTERM drains and exits 0\n${context()}`);
    const keys = ['product:102', 'product:sku:MS-202'];
    await plant(keys);
    const kafka = stack.kafka.kafka();
    const topics = variants.map((v) => `${v.prefix}.inventory.products`);
    const before = await Promise.all(topics.map((t) => endOffsets(kafka, t)));
    await stack.sql('UPDATE inventory.products SET price = 19.99 WHERE id = 102');
    await waitFor(
      async () => (await Promise.all(topics.map((t) => endOffsets(kafka, t)))).every((end, i) => [...end.values()].reduce((a, b) => a + b, 0n) > [...before[i]!.values()].reduce((a, b) => a + b, 0n)),
      { timeoutMs: 60_000, intervalMs: 250, message: 'the update to reach both topics' },
    );
    assert.equal((await stillPresent(keys)).length, keys.length * variants.length, 'nothing deletes the keys while the workers are stopped');
    await Promise.all(variants.map((v) => v.worker.start()));
    await waitGone(keys);
    await settled();
    for (const v of variants) assert.equal(await v.worker.metric('cdc_invalidator_poison_records_total'), 0, `${v.name}: no poison`);
  });
});
