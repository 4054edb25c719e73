import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeDebeziumJson, tableFromTopic } from '../../../src/pipeline/decode/debezium-json.js';
import { DecodeError } from '../../../src/pipeline/decode/errors.js';
import type { SourceRecord } from '../../../src/domain/types.js';

const source = { version: '3.5.2.Final', connector: 'postgresql', name: 'shop', schema: 'inventory', table: 'customers', snapshot: 'false', db: 'app' };

function rec(value: unknown, key: unknown = { id: 1 }, topic = 'shop.inventory.customers'): SourceRecord {
  return {
    topic,
    partition: 0,
    offset: '7',
    key: key === null ? null : Buffer.from(JSON.stringify(key)),
    value: value === null ? null : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
    headers: {},
  };
}

function decodeError(r: SourceRecord): string {
  try {
    decodeDebeziumJson(r);
  } catch (e) {
    assert.ok(e instanceof DecodeError);
    return e.code;
  }
  assert.fail('expected a DecodeError');
}

describe('Debezium JSON decoder', () => {
  it('decodes the envelope without schema', () => {
    const d = decodeDebeziumJson(rec({ before: null, after: { id: 1, email: 'a' }, source, op: 'c', ts_ms: 1 }));
    assert.equal(d.kind, 'change');
    if (d.kind !== 'change') return;
    assert.equal(d.event.op, 'c');
    assert.equal(d.event.table, 'inventory.customers');
    assert.deepEqual(d.event.keyColumns, ['id']);
    assert.equal(d.event.beforeLooksKeyOnly, false);
    assert.equal(d.event.identityHint, undefined);
  });

  it('decodes the envelope with the JSON converter schema (key too)', () => {
    const schema = { type: 'struct', fields: [], optional: false, name: 'shop.inventory.customers.Envelope' };
    const key = { schema: { type: 'struct', fields: [{ type: 'int32', optional: false, field: 'id' }] }, payload: { id: 1 } };
    const d = decodeDebeziumJson(rec({ schema, payload: { before: { id: 1, email: '' }, after: null, source, op: 'd' } }, key));
    assert.equal(d.kind, 'change');
    if (d.kind !== 'change') return;
    assert.deepEqual(d.event.keyColumns, ['id']);
    assert.equal(d.event.beforeLooksKeyOnly, true, 'REPLICA IDENTITY DEFAULT delete: the image may be key-only');
  });

  it('a full before image is not key-only', () => {
    const d = decodeDebeziumJson(rec({ before: { id: 1, email: 'a@x', n: 0 }, after: null, source, op: 'd' }));
    assert.ok(d.kind === 'change' && d.event.beforeLooksKeyOnly === false);
  });

  it('an update tells the table identity: no before image = DEFAULT, a before image = FULL', () => {
    const def = decodeDebeziumJson(rec({ before: null, after: { id: 1, email: 'a' }, source, op: 'u' }));
    const full = decodeDebeziumJson(rec({ before: { id: 1, email: 'b' }, after: { id: 1, email: 'a' }, source, op: 'u' }));
    assert.equal(def.kind === 'change' && def.event.identityHint, 'default');
    assert.equal(full.kind === 'change' && full.event.identityHint, 'full');
    const flattened = decodeDebeziumJson(rec({ id: 1, email: 'a', __op: 'u', __table: 'customers', __schema: 'inventory' }));
    assert.equal(flattened.kind === 'change' && flattened.event.identityHint, undefined, 'a flattened update never has a before image: it tells nothing');
  });

  it('keeps int64 ids beyond 2^53 exact', () => {
    const text = '{"before":null,"after":{"id":9007199254740993},"source":{"schema":"inventory","table":"orders"},"op":"c"}';
    const d = decodeDebeziumJson(rec(text));
    assert.ok(d.kind === 'change');
    assert.equal(d.event.after!['id'], 9007199254740993n);
  });

  it('skips tombstones, heartbeats, transaction metadata and logical messages', () => {
    assert.deepEqual(decodeDebeziumJson(rec(null)), { kind: 'skip', reason: 'tombstone' });
    assert.deepEqual(decodeDebeziumJson(rec({ ts_ms: 1 }, { serverName: 'shop' }, '__debezium-heartbeat.shop')), { kind: 'skip', reason: 'heartbeat' });
    const hbSchema = { schema: { type: 'struct', name: 'io.debezium.connector.common.Heartbeat' }, payload: { ts_ms: 1 } };
    assert.deepEqual(decodeDebeziumJson(rec(hbSchema, null, 'other')), { kind: 'skip', reason: 'heartbeat' });
    assert.deepEqual(decodeDebeziumJson(rec({ status: 'BEGIN', id: '1:2', event_count: null, ts_ms: 1 }, null, 'shop.transaction')), { kind: 'skip', reason: 'transaction' });
    assert.deepEqual(decodeDebeziumJson(rec({ op: 'm', source, message: { prefix: 'p', content: 'eA==' } })), { kind: 'skip', reason: 'message' });
  });

  it('routes by topic name when the source block lacks schema/table', () => {
    const d = decodeDebeziumJson(rec({ before: null, after: { id: 1 }, op: 'c' }, { id: 1 }, 'shop.sales.orders'));
    assert.ok(d.kind === 'change' && d.event.table === 'sales.orders');
    assert.equal(tableFromTopic('a.b'), undefined);
    assert.equal(tableFromTopic('p.q.s.t'), 's.t');
  });

  it('rejects what is not a change event with a code', () => {
    assert.equal(decodeError(rec('{"before":')), 'invalid_json');
    assert.equal(decodeError(rec('\u0000\u0001binary')), 'invalid_json');
    assert.equal(decodeError(rec('[1,2]')), 'invalid_envelope');
    assert.equal(decodeError(rec({ before: null, after: { id: 1 }, source })), 'invalid_envelope');
    assert.equal(decodeError(rec({ op: 'x', source })), 'unknown_op');
    assert.equal(decodeError(rec({ op: 'c', after: { id: 1 } }, { id: 1 }, 'nodots')), 'missing_source');
    assert.equal(decodeError(rec({ op: 'c', after: null, source })), 'invalid_row_image');
    assert.equal(decodeError(rec({ op: 'd', before: 'x', source })), 'invalid_row_image');
  });
});

describe('Debezium JSON decoder: flattened rows and logical types', () => {
  it('decodes ExtractNewRecordState rows with __op/__deleted/__table', () => {
    const c = decodeDebeziumJson(rec({ id: 5, email: 'a@x', __op: 'c', __table: 'customers', __deleted: 'false', __lsn: 1 }));
    assert.ok(c.kind === 'change');
    assert.deepEqual([c.event.op, c.event.table, c.event.after, c.event.before], ['c', 'inventory.customers', { id: 5, email: 'a@x' }, null]);
    const d = decodeDebeziumJson(rec({ id: 5, email: 'a@x', __deleted: 'true' }));
    assert.ok(d.kind === 'change');
    assert.deepEqual([d.event.op, d.event.before, d.event.after], ['d', { id: 5, email: 'a@x' }, null]);
    const schemaRow = { schema: { type: 'struct', name: 'shop.inventory.customers.Value', fields: [] }, payload: { id: 6 } };
    const u = decodeDebeziumJson(rec(schemaRow, { id: 6 }, 'shop.inventory.customers'));
    assert.ok(u.kind === 'change' && u.event.op === 'u' && u.event.table === 'inventory.customers');
    assert.deepEqual(decodeDebeziumJson(rec('null')), { kind: 'skip', reason: 'tombstone' });
    assert.equal(decodeError(rec({ id: 1, email: 'x' })), 'invalid_envelope');
    assert.equal(decodeError(rec({ id: 1, __op: 'z' })), 'unknown_op');
  });

  it('renders Connect decimals as decimal text when the schema is present', () => {
    const fields = [
      { type: 'int64', optional: false, field: 'id' },
      { type: 'bytes', optional: true, name: 'org.apache.kafka.connect.data.Decimal', parameters: { scale: '2' }, field: 'total' },
      { type: 'struct', optional: true, name: 'io.debezium.data.VariableScaleDecimal', field: 'amount', fields: [] },
    ];
    const schema = { type: 'struct', name: 'shop.inventory.orders.Envelope', fields: [{ type: 'struct', fields, field: 'before' }, { type: 'struct', fields, field: 'after' }] };
    const value = { schema, payload: { before: null, after: { id: 1, total: 'AeI6', amount: { scale: 3, value: '/w==' } }, source: { schema: 'inventory', table: 'orders' }, op: 'c' } };
    const d = decodeDebeziumJson(rec(value));
    assert.ok(d.kind === 'change');
    assert.deepEqual(d.event.after, { id: 1, total: '1234.50', amount: '-0.001' });
  });
});

describe('Debezium JSON decoder: REPLICA IDENTITY DEFAULT with column defaults', () => {
  it('a NOT NULL column filled with its schema default still makes a key-only image', () => {
    const fields = [
      { type: 'int32', optional: false, field: 'id' },
      { type: 'string', optional: false, default: 'new', field: 'status' },
      { type: 'string', optional: false, field: 'email' },
    ];
    const schema = { type: 'struct', name: 'shop.inventory.customers.Envelope', fields: [{ type: 'struct', fields, field: 'before' }, { type: 'struct', fields, field: 'after' }] };
    const d = decodeDebeziumJson(rec({ schema, payload: { before: { id: 1, status: 'new', email: '' }, after: null, source, op: 'd' } }));
    assert.ok(d.kind === 'change' && d.event.beforeLooksKeyOnly === true && d.event.beforeSchemaKnown === true);
    const full = decodeDebeziumJson(rec({ schema, payload: { before: { id: 1, status: 'shipped', email: '' }, after: null, source, op: 'd' } }));
    assert.ok(full.kind === 'change' && full.event.beforeLooksKeyOnly === false);
  });

  it('with the schema each column is checked against its own placeholder: nullable null, NOT NULL its default or its type\'s empty value', () => {
    const fields = [
      { type: 'int32', optional: false, field: 'id' },
      { type: 'string', optional: false, field: 'email' },
      { type: 'int32', optional: false, field: 'n' },
      { type: 'boolean', optional: false, field: 'active' },
      { type: 'string', optional: true, field: 'nickname' },
      { type: 'int32', optional: false, default: 7, field: 'level' },
    ];
    const schema = { type: 'struct', name: 'shop.inventory.accounts.Envelope', fields: [{ type: 'struct', fields, optional: true, field: 'before' }] };
    const looks = (before: Record<string, unknown>) => {
      const d = decodeDebeziumJson(rec({ schema, payload: { before, after: null, source, op: 'd' } }));
      return d.kind === 'change' && d.event.beforeLooksKeyOnly;
    };
    assert.equal(looks({ id: 1, email: '', n: 0, active: false, nickname: null, level: 7 }), true, 'exactly what a DEFAULT delete carries');
    assert.equal(looks({ id: 1, email: '', n: 0, active: false, nickname: '', level: 7 }), false, 'a nullable column holding "" is a real value');
    assert.equal(looks({ id: 1, email: '', n: 0, active: false, nickname: null, level: 0 }), false, 'a column with a DEFAULT would hold it');
    assert.equal(looks({ id: 1, email: 0, n: 0, active: false, nickname: null, level: 7 }), false, 'a text column never holds 0');
    assert.equal(looks({ id: 1, email: '', n: false, active: false, nickname: null, level: 7 }), false);
  });
});
