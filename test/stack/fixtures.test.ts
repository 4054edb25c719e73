import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { KafkaMessage } from 'kafkajs';
import { fixturePath } from '../support/paths.js';
import { waitFor } from '../support/processes.js';
import { startCdcStack, type CdcStack } from '../support/stack/cdc-stack.js';
import { stackUnavailable } from '../support/stack/jars.js';

/**
 * Our Debezium fixtures (test/fixtures/debezium/) against what Debezium 3.6.1 really writes: the same
 * changes are made through SQL on the real stack, captured by connectors configured like each fixture
 * (JSON converter with and without schemas, transaction metadata, heartbeats), and every fixture's key,
 * value and headers must have the shape of the real record (the same fields, nested the same way, with
 * values of the same JSON types). A Debezium upgrade that changes a shape fails here.
 */

const SKIP = stackUnavailable() ?? false;

/** Tables shaped like inventory.customers for the REPLICA IDENTITY DEFAULT and TOAST fixtures. */
const INIT_SQL = `
SET search_path TO inventory;
CREATE TABLE customers_d (id SERIAL PRIMARY KEY, first_name VARCHAR(255) NOT NULL, last_name VARCHAR(255) NOT NULL, email VARCHAR(255) NOT NULL);
INSERT INTO customers_d (id, first_name, last_name, email) VALUES (1002, 'Grace', 'Hopper', 'grace.hopper@example.com'), (1003, 'Alan', 'Turing', 'alan.turing@example.org');
CREATE TABLE customers_t (id SERIAL PRIMARY KEY, first_name VARCHAR(255) NOT NULL, last_name VARCHAR(255) NOT NULL, email TEXT NOT NULL);
ALTER TABLE customers_t ALTER COLUMN email SET STORAGE EXTERNAL;
INSERT INTO customers_t VALUES (1002, 'Grace', 'Hopper', repeat('g', 3000) || '@example.com');
`;

type Shape = string | { readonly [k: string]: Shape } | readonly Shape[];

/** The structure of a JSON value: object keys (sorted) with their shapes, array elements in order, leaf types. */
function shape(v: unknown): Shape {
  if (v === null) return 'null';
  if (Array.isArray(v)) return v.map(shape);
  if (typeof v === 'object') {
    const out: Record<string, Shape> = {};
    for (const k of Object.keys(v).sort()) out[k] = shape((v as Record<string, unknown>)[k]);
    return out;
  }
  return typeof v;
}

interface Captured {
  readonly topic: string;
  readonly key: unknown;
  readonly value: unknown;
  readonly headers: Record<string, string>;
}

const parse = (b: Buffer | null): unknown => (b === null ? null : JSON.parse(b.toString('utf8')));
const payloadOf = (v: unknown): Record<string, unknown> | null => {
  if (v === null || typeof v !== 'object') return null;
  const o = v as Record<string, unknown>;
  return (('payload' in o && 'schema' in o ? o['payload'] : o) as Record<string, unknown> | null) ?? null;
};

/** Which real record each fixture stands for: the connector (prefix suffix), the topic's tail, and a predicate. */
const MATCH: Record<string, { readonly conn: 'n' | 'w' | 'tn' | 'tw'; readonly topic: string; readonly is: (r: Captured) => boolean }> = {
  'create-no-schema.json': { conn: 'n', topic: 'inventory.customers', is: (r) => payloadOf(r.value)?.['op'] === 'c' && !r.headers['__debezium.oldkey'] },
  'create-with-schema.json': { conn: 'w', topic: 'inventory.customers', is: (r) => payloadOf(r.value)?.['op'] === 'c' && !r.headers['__debezium.oldkey'] },
  'create-in-transaction-no-schema.json': { conn: 'tn', topic: 'inventory.customers', is: (r) => payloadOf(r.value)?.['op'] === 'c' && !r.headers['__debezium.oldkey'] },
  'update-full-no-schema.json': { conn: 'n', topic: 'inventory.customers', is: (r) => payloadOf(r.value)?.['op'] === 'u' },
  'update-full-with-schema.json': { conn: 'w', topic: 'inventory.customers', is: (r) => payloadOf(r.value)?.['op'] === 'u' },
  'update-default-no-schema.json': { conn: 'n', topic: 'inventory.customers_d', is: (r) => payloadOf(r.value)?.['op'] === 'u' },
  'update-toast-no-schema.json': { conn: 'n', topic: 'inventory.customers_t', is: (r) => payloadOf(r.value)?.['op'] === 'u' },
  'delete-full-no-schema.json': { conn: 'n', topic: 'inventory.customers', is: (r) => payloadOf(r.value)?.['op'] === 'd' && !r.headers['__debezium.newkey'] },
  'delete-full-with-schema.json': { conn: 'w', topic: 'inventory.customers', is: (r) => payloadOf(r.value)?.['op'] === 'd' && !r.headers['__debezium.newkey'] },
  'delete-default-no-schema.json': { conn: 'n', topic: 'inventory.customers_d', is: (r) => payloadOf(r.value)?.['op'] === 'd' },
  'delete-default-with-schema.json': { conn: 'w', topic: 'inventory.customers_d', is: (r) => payloadOf(r.value)?.['op'] === 'd' },
  'tombstone.json': { conn: 'n', topic: 'inventory.customers', is: (r) => r.value === null },
  'read-snapshot-no-schema.json': { conn: 'n', topic: 'inventory.customers', is: (r) => payloadOf(r.value)?.['op'] === 'r' },
  'read-snapshot-with-schema.json': { conn: 'w', topic: 'inventory.customers', is: (r) => payloadOf(r.value)?.['op'] === 'r' },
  'truncate-with-schema.json': { conn: 'w', topic: 'inventory.customers_d', is: (r) => payloadOf(r.value)?.['op'] === 't' },
  'pk-update-delete-no-schema.json': { conn: 'n', topic: 'inventory.customers', is: (r) => payloadOf(r.value)?.['op'] === 'd' && !!r.headers['__debezium.newkey'] },
  'pk-update-create-no-schema.json': { conn: 'n', topic: 'inventory.customers', is: (r) => payloadOf(r.value)?.['op'] === 'c' && !!r.headers['__debezium.oldkey'] },
  'transaction-begin-with-schema.json': { conn: 'tw', topic: 'transaction', is: (r) => payloadOf(r.value)?.['status'] === 'BEGIN' },
  'transaction-end-with-schema.json': { conn: 'tw', topic: 'transaction', is: (r) => payloadOf(r.value)?.['status'] === 'END' && JSON.stringify(r.value).includes('inventory.customers') },
  'heartbeat-with-schema.json': { conn: 'w', topic: '', is: () => true },
  'logical-message-no-schema.json': { conn: 'n', topic: 'message', is: (r) => payloadOf(r.value)?.['op'] === 'm' },
  'orders-create-no-schema.json': { conn: 'n', topic: 'inventory.orders', is: (r) => payloadOf(r.value)?.['op'] === 'c' },
  'orders-create-with-schema.json': { conn: 'w', topic: 'inventory.orders', is: (r) => payloadOf(r.value)?.['op'] === 'c' },
};

/** Headers every record of Debezium 3.6 carries; the fixtures leave them out. */
const CONTEXT_HEADERS = /^__debezium\.context\./;

describe('the Debezium fixtures have the shape of real Debezium 3.6.1 output', { skip: SKIP, timeout: 10 * 60_000 }, () => {
  let stack: CdcStack;
  const captured: Captured[] = [];
  const prefixes: Record<'n' | 'w' | 'tn' | 'tw', string> = { n: '', w: '', tn: '', tw: '' };

  before(async () => {
    const tables = 'inventory.customers,inventory.customers_d,inventory.customers_t,inventory.orders';
    // The project's connector JSON as it is (no schemas), the others beside it.
    stack = await startCdcStack({ initSql: INIT_SQL, connector: { 'table.include.list': tables } });
    prefixes.n = stack.topicPrefix;
    const schemas = { 'key.converter.schemas.enable': 'true', 'value.converter.schemas.enable': 'true', 'decimal.handling.mode': 'precise' };
    const others: [keyof typeof prefixes, Record<string, string>][] = [
      ['w', { ...schemas, 'heartbeat.interval.ms': '500' }],
      ['tn', { 'provide.transaction.metadata': 'true' }],
      ['tw', { ...schemas, 'provide.transaction.metadata': 'true' }],
    ];
    for (const [k, overrides] of others) {
      prefixes[k] = `${stack.topicPrefix}${k}`;
      await stack.addConnector({ prefix: prefixes[k], overrides: { 'table.include.list': tables, ...overrides } });
    }
    // Let the snapshots finish (every connector wrote its customers' reads) before the changes.
    const admin = stack.kafka.kafka().admin();
    await admin.connect();
    await waitFor(async () => {
      const topics = new Set(await admin.listTopics());
      return Object.values(prefixes).every((p) => topics.has(`${p}.inventory.customers`));
    }, { timeoutMs: 60_000, intervalMs: 250, message: 'every connector snapshot' });
    await admin.disconnect();

    await stack.sql(`INSERT INTO inventory.customers (first_name, last_name, email) VALUES ('Mixed', 'Case', 'Mixed.Case@Example.com')`);
    await stack.sql(`UPDATE inventory.customers SET email = 'grace@navy.example.mil' WHERE id = 1002`);
    await stack.sql(`UPDATE inventory.customers_d SET email = 'grace@navy.example.mil' WHERE id = 1002`);
    await stack.sql(`DELETE FROM inventory.customers WHERE id = 1003`);
    await stack.sql(`DELETE FROM inventory.customers_d WHERE id = 1003`);
    await stack.sql(`UPDATE inventory.customers_t SET first_name = 'G.' WHERE id = 1002`);
    await stack.sql(`UPDATE inventory.customers SET id = 1040 WHERE id = 1004`);
    await stack.sql(`INSERT INTO inventory.orders (customer_id, total) VALUES (1001, 1234.50)`);
    await stack.sql(`TRUNCATE inventory.customers_d`);
    await stack.sql(`SELECT pg_logical_emit_message(true, 'cache', 'customer:1001')`);

    const consumer = stack.kafka.kafka().consumer({ groupId: 'fixtures-capture' });
    await consumer.connect();
    const wanted = Object.entries(MATCH).map(([, m]) => (m.topic === '' ? `__debezium-heartbeat.${prefixes[m.conn]}` : `${prefixes[m.conn]}.${m.topic}`));
    await waitFor(async () => {
      const a = stack.kafka.kafka().admin();
      await a.connect();
      try {
        const topics = new Set(await a.listTopics());
        return wanted.every((t) => topics.has(t));
      } finally {
        await a.disconnect();
      }
    }, { timeoutMs: 60_000, intervalMs: 250, message: `the topics ${wanted.join(', ')}` });
    await consumer.subscribe({ topics: [...new Set(wanted)], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ topic, message }: { topic: string; message: KafkaMessage }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(Array.isArray(v) ? v[0] : v);
        captured.push({ topic, key: parse(message.key), value: parse(message.value), headers });
      },
    });
    const found = (name: string): boolean => {
      const m = MATCH[name]!;
      const topic = m.topic === '' ? `__debezium-heartbeat.${prefixes[m.conn]}` : `${prefixes[m.conn]}.${m.topic}`;
      return captured.some((r) => r.topic === topic && m.is(r));
    };
    try {
      await waitFor(() => Object.keys(MATCH).every(found), {
        timeoutMs: 90_000,
        intervalMs: 250,
        message: () => `a real record for every fixture; missing: ${Object.keys(MATCH).filter((n) => !found(n)).join(', ')}`,
      });
    } finally {
      await consumer.disconnect();
    }
  });
  after(async () => stack?.stop());

  it('every fixture file is covered here', () => {
    const files = readdirSync(fixturePath('debezium')).filter((f) => f.endsWith('.json'));
    assert.deepEqual(files.filter((f) => !(f in MATCH)), [], 'fixtures without a real counterpart in this test');
  });

  for (const [name, m] of Object.entries(MATCH)) {
    it(name, () => {
      const fixture = JSON.parse(readFileSync(fixturePath('debezium', name), 'utf8')) as { key: unknown; value: unknown; headers?: Record<string, string> };
      const topic = m.topic === '' ? `__debezium-heartbeat.${prefixes[m.conn]}` : `${prefixes[m.conn]}.${m.topic}`;
      const real = captured.find((r) => r.topic === topic && m.is(r))!;
      assert.deepEqual(shape(fixture.key), shape(real.key), `key shape\nreal: ${JSON.stringify(real.key)}`);
      assert.deepEqual(shape(fixture.value), shape(real.value), `value shape\nreal: ${JSON.stringify(real.value)}`);
      const realHeaders = Object.keys(real.headers).filter((h) => !CONTEXT_HEADERS.test(h)).sort();
      assert.deepEqual(Object.keys(fixture.headers ?? {}).sort(), realHeaders, `header names (besides ${CONTEXT_HEADERS})`);
    });
  }
});
