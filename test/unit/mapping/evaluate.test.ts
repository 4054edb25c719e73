import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluate } from '../../../src/mapping/evaluate.js';
import { MappingSet } from '../../../src/mapping/mapping-set.js';
import { parseMappingFile } from '../../../src/mapping/parse.js';
import type { ChangeEvent } from '../../../src/domain/types.js';

function mappingSet(yaml: string): MappingSet {
  const r = parseMappingFile('m.yaml', yaml);
  assert.deepEqual(r.problems.filter((p) => p.severity === 'error'), []);
  return new MappingSet(r.mappings);
}

const set = mappingSet(`mappings:
  - name: customers
    table: inventory.customers
    keys: ["customer:{id}", "customer:email:{email}", "customers:all"]
    ops: [c, u, d, r, t]
`);

function ev(e: Partial<ChangeEvent> & Pick<ChangeEvent, 'op'>): ChangeEvent {
  return { table: 'inventory.customers', before: null, after: null, keyColumns: ['id'], beforeLooksKeyOnly: false, beforeSchemaKnown: false, ...e };
}

describe('evaluate: event → keys', () => {
  it('create invalidates the new keys (a cached "not found" may sit there)', () => {
    const p = evaluate(ev({ op: 'c', after: { id: 1, email: 'a@x' } }), set);
    assert.deepEqual(p.keys, ['customer:1', 'customer:email:a@x', 'customers:all']);
    assert.deepEqual(p.mappings, ['customers']);
  });

  it('update invalidates old and new keys when a key column changes, de-duplicated', () => {
    const p = evaluate(ev({ op: 'u', before: { id: 1, email: 'old@x' }, after: { id: 1, email: 'new@x' } }), set);
    assert.deepEqual([...p.keys].sort(), ['customer:1', 'customer:email:new@x', 'customer:email:old@x', 'customers:all']);
  });

  it('delete with REPLICA IDENTITY DEFAULT renders only key columns of the key-only before image', () => {
    const p = evaluate(ev({ op: 'd', before: { id: 1, email: '' }, beforeLooksKeyOnly: true, learnedIdentity: 'default' }), set);
    assert.deepEqual(p.keys, ['customer:1', 'customers:all']);
    assert.deepEqual(p.skipped, [
      { mapping: 'customers', kind: 'key', template: 'customer:email:{email}', image: 'before', reason: 'key_only_image', column: 'email' },
    ]);
  });

  it('a delete image that looks key-only of a table whose identity is unknown is read as the full row: a FULL row of empty values keeps its keys', () => {
    // {email: ''} is what a DEFAULT delete carries for a NOT NULL text column, and what a FULL row with an empty email holds.
    const p = evaluate(ev({ op: 'd', before: { id: 1, email: '' }, beforeLooksKeyOnly: true }), set);
    assert.deepEqual(p.keys, ['customer:1', 'customer:email:', 'customers:all']);
    assert.deepEqual(p.skipped, []);
  });

  it('the table identity decides an ambiguous image: learned from the stream, else declared (replica_identity); the stream wins', () => {
    const declared = (identity: string) =>
      new MappingSet(parseMappingFile('m.yaml', `mappings:\n  - name: c\n    table: inventory.customers\n    keys: ["customer:{id}", "customer:email:{email}"]\n    replica_identity: ${identity}\n`).mappings);
    const image = { op: 'd' as const, before: { id: 1, email: '' }, beforeLooksKeyOnly: true };
    assert.deepEqual(evaluate(ev(image), declared('default')).keys, ['customer:1']);
    assert.deepEqual(evaluate(ev(image), declared('full')).keys, ['customer:1', 'customer:email:']);
    assert.deepEqual(evaluate(ev({ ...image, learnedIdentity: 'full' }), declared('default')).keys, ['customer:1', 'customer:email:'], 'an update with a before image showed FULL');
    assert.deepEqual(evaluate(ev({ ...image, learnedIdentity: 'default' }), declared('full')).keys, ['customer:1']);
    // Under DEFAULT with the schema at hand, a column holding anything but its placeholder is real: a full row.
    assert.deepEqual(evaluate(ev({ op: 'd', before: { id: 1, email: 'a@x' }, beforeSchemaKnown: true, learnedIdentity: 'default' }), set).keys, ['customer:1', 'customer:email:a@x', 'customers:all']);
    // Without the schema, a known DEFAULT identity is trusted (a NOT NULL DEFAULT 7 column arrives as 7).
    assert.deepEqual(evaluate(ev({ op: 'd', before: { id: 1, email: 'a@x' }, learnedIdentity: 'default' }), set).keys, ['customer:1', 'customers:all']);
  });

  it('delete with REPLICA IDENTITY FULL renders every template from before', () => {
    const p = evaluate(ev({ op: 'd', before: { id: 1, email: 'a@x' } }), set);
    assert.deepEqual(p.keys, ['customer:1', 'customer:email:a@x', 'customers:all']);
  });

  it('update without before (REPLICA IDENTITY DEFAULT) says which old keys it cannot know', () => {
    const p = evaluate(ev({ op: 'u', after: { id: 1, email: 'new@x' } }), set);
    assert.deepEqual(p.keys, ['customer:1', 'customer:email:new@x', 'customers:all']);
    assert.deepEqual(p.skipped.map((s) => [s.template, s.reason]), [['customer:email:{email}', 'no_before_image']]);
  });

  it('snapshot read renders from after; truncate only templates without columns', () => {
    assert.deepEqual(evaluate(ev({ op: 'r', after: { id: 2, email: 'b@x' } }), set).keys, ['customer:2', 'customer:email:b@x', 'customers:all']);
    const t = evaluate(ev({ op: 't', keyColumns: null }), set);
    assert.deepEqual(t.keys, ['customers:all']);
    assert.deepEqual(t.skipped.map((s) => s.reason), ['truncate', 'truncate']);
  });

  it('a TOASTed or null column yields no key for that template only', () => {
    const p = evaluate(ev({ op: 'u', after: { id: 3, email: '__debezium_unavailable_value' }, before: { id: 3, email: null } }), set);
    assert.deepEqual(p.keys, ['customer:3', 'customers:all']);
    assert.deepEqual(p.skipped.map((s) => s.reason).sort(), ['null', 'toast']);
  });

  it('an unmapped table yields nothing', () => {
    const p = evaluate(ev({ op: 'c', table: 'other.t', after: { id: 1 } }), set);
    assert.deepEqual(p, { table: 'other.t', mappings: [], results: [], keys: [], tags: [], versions: [], skipped: [] });
  });
});

describe('evaluate: the mapping language', () => {
  const lang = mappingSet(`mappings:
  - name: products
    table: inventory.products
    keys: ["product:{id}"]
    tags: ["category:{category_id}"]
    versions: ["ns:products"]
    when:
      changed: [price, category_id]
    second_delete_delay: 3s
  - name: products-snapshot
    table: inventory.products
    ops: [r]
    keys: ["product:{id}"]
  - name: tenant-orders
    table: tenant_*.orders
    keys: ["order:{tenant_id}:{id}"]
    versions: ["ns:orders:{tenant_id}"]
    on_truncate:
      versions: ["ns:orders:all"]
`);
  const p = (e: Partial<ChangeEvent> & Pick<ChangeEvent, 'op'>) => evaluate({ table: 'inventory.products', before: null, after: null, keyColumns: ['id'], beforeLooksKeyOnly: false, beforeSchemaKnown: false, ...e }, lang);

  it('renders keys, tags and versions and merges every mapping that matches', () => {
    const r = p({ op: 'c', after: { id: 1, category_id: 7, price: 10 } });
    assert.deepEqual([r.keys, r.tags, r.versions], [['product:1'], ['category:7'], ['ns:products']]);
    assert.deepEqual(r.mappings, ['products', 'products-snapshot']);
    assert.deepEqual(r.results.map((x) => [x.mapping, x.fired, x.why]), [['products', true, undefined], ['products-snapshot', false, 'op_not_selected']]);
    assert.equal(r.results[0]!.secondDeleteDelayMs, 3000);
  });

  it('fires snapshot reads only for mappings that ask for "r"', () => {
    const r = p({ op: 'r', after: { id: 2, category_id: 1 } });
    assert.deepEqual(r.keys, ['product:2']);
    assert.deepEqual(r.results.filter((x) => x.fired).map((x) => x.mapping), ['products-snapshot']);
  });

  it('when.changed: an update fires only if a listed column changed; without before it fires', () => {
    const same = p({ op: 'u', before: { id: 1, category_id: 7, price: 10, name: 'a' }, after: { id: 1, category_id: 7, price: 10, name: 'b' } });
    assert.deepEqual(same.keys, []);
    assert.equal(same.results[0]!.why, 'unchanged');
    const moved = p({ op: 'u', before: { id: 1, category_id: 7, price: 10 }, after: { id: 1, category_id: 8, price: 10 } });
    assert.deepEqual([...moved.tags].sort(), ['category:7', 'category:8']);
    const unknown = p({ op: 'u', after: { id: 1, category_id: 8, price: 10 } });
    assert.deepEqual(unknown.keys, ['product:1']);
    const toast = p({ op: 'u', before: { id: 1, category_id: 7, price: 10 }, after: { id: 1, category_id: '__debezium_unavailable_value', price: 10 } });
    assert.deepEqual(toast.keys, [], 'an unchanged TOASTed column is not a change');
  });

  it('globs match schema-per-tenant tables; truncate applies on_truncate', () => {
    const o = evaluate({ table: 'tenant_42.orders', op: 'd', before: { id: 5, tenant_id: 42 }, after: null, keyColumns: ['id'], beforeLooksKeyOnly: false, beforeSchemaKnown: false }, lang);
    assert.deepEqual([o.keys, o.versions], [['order:42:5'], ['ns:orders:42']]);
    assert.deepEqual(evaluate({ table: 'public.orders', op: 'c', before: null, after: { id: 1 }, keyColumns: null, beforeLooksKeyOnly: false, beforeSchemaKnown: false }, lang).mappings, []);
    const t = evaluate({ table: 'tenant_7.orders', op: 't', before: null, after: null, keyColumns: null, beforeLooksKeyOnly: false, beforeSchemaKnown: false }, lang);
    assert.deepEqual([t.keys, t.versions], [[], ['ns:orders:all']]);
  });
});
