import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { Kafka } from 'kafkajs';
import { endOffsets, uniqueName } from '../support/kafka.js';
import { waitFor, withTimeout } from '../support/processes.js';
import { CacheProbe } from '../support/stack/cache-probe.js';
import { startCdcStack, type CdcStack } from '../support/stack/cdc-stack.js';
import { stackUnavailable } from '../support/stack/jars.js';
import { WorkerProcess } from '../support/worker-process.js';

/**
 * A delete's before image under REPLICA IDENTITY DEFAULT and FULL, through Debezium 3.6 on Postgres 15,
 * with the JSON converter without and with schemas (a worker and a Redis database per connector):
 * - a FULL row whose non-key columns are '', 0 and false is the whole row: every key goes;
 * - a DEFAULT delete is key-only once an update of the table showed its identity (no before image),
 *   or when the mapping declares replica_identity: default — no key is rendered from a placeholder,
 *   not even from a column DEFAULT Debezium writes into the image;
 * - a DEFAULT delete of a table whose identity nothing tells is read as the full row (the cheaper
 *   mistake: a key nobody wrote is deleted), and counted.
 */

const SKIP = stackUnavailable() ?? false;

const TABLES = ['flags', 'members', 'people', 'guests'].map((t) => `inventory.${t}`).join(',');

const INIT_SQL = `
SET search_path TO inventory;
CREATE TABLE flags (id BIGINT PRIMARY KEY, name TEXT NOT NULL, n INT NOT NULL, on_off BOOLEAN NOT NULL, note TEXT);
ALTER TABLE flags REPLICA IDENTITY FULL;
CREATE TABLE members (id BIGINT PRIMARY KEY, email TEXT NOT NULL, level INT NOT NULL DEFAULT 7, nick TEXT);
CREATE TABLE people (id BIGINT PRIMARY KEY, email TEXT NOT NULL);
CREATE TABLE guests (id BIGINT PRIMARY KEY, email TEXT NOT NULL);
INSERT INTO flags VALUES (1, '', 0, false, NULL), (2, 'x', 1, true, 'y');
INSERT INTO members VALUES (1, 'a@x', 3, 'n1'), (2, 'b@x', 4, 'n2');
INSERT INTO people VALUES (1, 'p@x');
INSERT INTO guests VALUES (1, 'g@x');
`;

const MAPPINGS = `mappings:
  - name: flags              # REPLICA IDENTITY FULL, not declared
    table: inventory.flags
    keys: ["flag:{id}", "flag:name:{name}", "flag:{n}:{on_off}"]
  - name: members            # REPLICA IDENTITY DEFAULT, not declared: learned from an update
    table: inventory.members
    keys: ["member:{id}", "member:email:{email}", "member:level:{level}"]
  - name: people             # REPLICA IDENTITY DEFAULT, declared
    table: inventory.people
    keys: ["person:{id}", "person:email:{email}"]
    replica_identity: default
  - name: guests             # REPLICA IDENTITY DEFAULT, not declared, no update before the delete
    table: inventory.guests
    keys: ["guest:{id}", "guest:email:{email}"]
`;

interface Variant {
  readonly name: string;
  readonly prefix: string;
  readonly probe: CacheProbe;
  readonly worker: WorkerProcess;
}

/** The values of a topic's records, read from the beginning to its current end (bounded). */
async function values(kafka: Kafka, topic: string): Promise<Record<string, unknown>[]> {
  const end = [...(await endOffsets(kafka, topic)).values()].reduce((a, b) => a + b, 0n);
  const out: Record<string, unknown>[] = [];
  const consumer = kafka.consumer({ groupId: uniqueName('read') });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    let seen = 0n;
    let done!: () => void;
    const all = new Promise<void>((resolve) => (done = resolve));
    await consumer.run({
      eachMessage: async ({ message }) => {
        if (message.value) out.push(JSON.parse(message.value.toString()) as Record<string, unknown>);
        if (++seen >= end) done();
      },
    });
    await withTimeout(all, 60_000, `reading ${topic} to its end`);
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** The payload of a JSON-converter value (with or without schemas). */
const payload = (v: Record<string, unknown>): Record<string, unknown> => ('payload' in v && 'schema' in v ? (v['payload'] as Record<string, unknown>) : v);

describe('REPLICA IDENTITY DEFAULT and FULL deletes on the real stack (two JSON converter variants)', { skip: SKIP, timeout: 10 * 60_000 }, () => {
  let stack: CdcStack;
  let mappings: string;
  const variants: Variant[] = [];
  const clients: Redis[] = [];

  const context = (): string => variants.map((v) => `--- worker ${v.name}:\n${v.worker.output.slice(-3000)}`).join('\n');
  const plant = (keys: readonly string[]): Promise<unknown> => Promise.all(variants.map((v) => v.probe.plant(keys)));
  const waitGone = (keys: readonly string[]): Promise<unknown> => Promise.all(variants.map((v) => v.probe.waitGone(keys, { context })));
  const stillPresent = async (keys: readonly string[]): Promise<string[]> => (await Promise.all(variants.map(async (v) => (await v.probe.present(keys)).map((k) => `${v.name}:${k}`)))).flat();
  const everywhere = (keys: readonly string[]): string[] => variants.flatMap((v) => keys.map((k) => `${v.name}:${k}`));

  before(async () => {
    stack = await startCdcStack({ initSql: INIT_SQL, connector: { 'table.include.list': TABLES } });
    const withSchemas = `${stack.topicPrefix}s`;
    await stack.addConnector({ prefix: withSchemas, overrides: { 'table.include.list': TABLES, 'key.converter.schemas.enable': 'true', 'value.converter.schemas.enable': 'true' } });
    mappings = await mkdtemp(join(tmpdir(), 'cdci-identity-'));
    await writeFile(join(mappings, 'mappings.yaml'), MAPPINGS);
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
    for (const [name, prefix, db] of [['schemas=false', stack.topicPrefix, 5], ['schemas=true', withSchemas, 6]] as const) {
      const redis = new Redis({ port: stack.redisServer.port, host: '127.0.0.1', db, maxRetriesPerRequest: 3 });
      clients.push(redis);
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
      variants.push({ name, prefix, probe: new CacheProbe(name, redis), worker });
    }
    await Promise.all(variants.map((v) => v.worker.start()));
  });

  after(async () => {
    await Promise.all(variants.map((v) => v.worker.stop().catch(() => null)));
    for (const c of clients) c.disconnect();
    await stack?.stop();
    if (mappings) await rm(mappings, { recursive: true, force: true });
  });

  it('a FULL row whose non-key columns are "", 0 and false is read as the whole row: every key goes (it was read as key-only)', async () => {
    const keys = ['flag:1', 'flag:name:', 'flag:0:false'];
    await plant([...keys, 'flag:2']);
    await stack.sql('DELETE FROM inventory.flags WHERE id = 1');
    await waitGone(keys);
    assert.deepEqual(await stillPresent(['flag:2']), everywhere(['flag:2']));
    // What Debezium wrote: the whole old row (FULL), the nullable note as null.
    const [del] = (await values(stack.kafka.kafka(), `${stack.topicPrefix}.inventory.flags`)).map(payload).filter((p) => p['op'] === 'd');
    assert.deepEqual(del!['before'], { id: 1, name: '', n: 0, on_off: false, note: null });
  });

  it('DEFAULT, learned from an update without a before image: the delete is key-only, no key from a placeholder or the column DEFAULT', async () => {
    await plant(['member:1']);
    await stack.sql(`UPDATE inventory.members SET nick = 'm1' WHERE id = 1`);
    await waitGone(['member:1']);
    const placeholders = ['member:email:', 'member:level:7', 'member:level:0'];
    await plant(['member:2', 'member:email:b@x', ...placeholders]);
    const skippedBefore = await Promise.all(variants.map((v) => v.worker.metric('cdc_invalidator_templates_skipped_total', { mapping: 'members', reason: 'key_only_image' })));
    await stack.sql('DELETE FROM inventory.members WHERE id = 2');
    await waitGone(['member:2']);
    assert.deepEqual(await stillPresent(placeholders), everywhere(placeholders), 'no key was rendered from a placeholder');
    // The real old email is not in a DEFAULT image: that key cannot be invalidated (mappings validate --database says so).
    assert.deepEqual(await stillPresent(['member:email:b@x']), everywhere(['member:email:b@x']));
    for (const [i, v] of variants.entries()) {
      assert.equal(await v.worker.metric('cdc_invalidator_templates_skipped_total', { mapping: 'members', reason: 'key_only_image' }), skippedBefore[i]! + 2, `${v.name}: email and level counted as skipped`);
    }
    // What Debezium wrote: the update without before; the delete with the key, "" for the NOT NULL
    // email, the column DEFAULT 7 for level (with and without schemas), null for the nullable nick.
    for (const v of variants) {
      const events = (await values(stack.kafka.kafka(), `${v.prefix}.inventory.members`)).map(payload);
      assert.equal(events.find((p) => p['op'] === 'u')!['before'], null, v.name);
      assert.deepEqual(events.find((p) => p['op'] === 'd')!['before'], { id: 2, email: '', level: 7, nick: null }, v.name);
    }
  });

  it('DEFAULT, declared (replica_identity: default), before any update: key-only', async () => {
    await plant(['person:1', 'person:email:']);
    await stack.sql('DELETE FROM inventory.people WHERE id = 1');
    await waitGone(['person:1']);
    assert.deepEqual(await stillPresent(['person:email:']), everywhere(['person:email:']));
  });

  it('DEFAULT, nothing tells the identity: read as the full row — the placeholder key goes, the ambiguity is counted', async () => {
    await plant(['guest:1', 'guest:email:']);
    await stack.sql('DELETE FROM inventory.guests WHERE id = 1');
    await waitGone(['guest:1', 'guest:email:']);
    for (const v of variants) {
      assert.equal(await v.worker.metric('cdc_invalidator_before_images_ambiguous_total', { table: 'inventory.guests' }), 1, v.name);
      assert.match(v.worker.output, /a delete whose before image may hold only the key/);
    }
  });
});
