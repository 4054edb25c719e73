import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { physicalKey, renderEntry, resolveNaming } from '../../../src/client/entry-spec.js';
import { CacheConfigError, CacheParamError } from '../../../src/client/errors.js';
import { CacheMappings } from '../../../src/client/names.js';
import { MappingSet } from '../../../src/mapping/mapping-set.js';
import { parseMappingFile } from '../../../src/mapping/parse.js';

const YAML = `mappings:
  - name: customers
    table: inventory.customers
    keys:
      - "customer:{id}"
      - "customer:email:{email|lower}"
    version_column: xmin
    on_truncate:
      tags: ["customers:all"]

  - name: products
    table: catalog.products
    keys: ["product:{id}"]
    tags: ["category:{category_id}"]
    versions: ["ns:products"]
    ops: [c, u, d]

  - name: orders
    table: "tenant_*.orders"
    keys: ["tenant:{tenant_id}:order:{id}"]
    versions: ["tenant:{tenant_id}:orders:version"]
    on_truncate:
      versions: ["orders:version"]
`;

function mappings(): CacheMappings {
  const r = parseMappingFile('mappings/shop.yaml', YAML);
  assert.deepEqual(r.problems.filter((p) => p.severity === 'error'), []);
  return new CacheMappings(new MappingSet(r.mappings), 'mappings/');
}

describe('client naming: entries resolved against the mappings', () => {
  const m = mappings();

  it('parses version_column', () => {
    assert.equal(m.mapping('customers').versionColumn, 'xmin');
    assert.equal(m.mapping('products').versionColumn, undefined);
    const bad = parseMappingFile('x.yaml', 'mappings:\n  - name: a\n    table: s.t\n    keys: ["k:{id}"]\n    ops: [c]\n    version_column: "not a column"\n');
    assert.deepEqual(bad.problems.map((p) => `${p.line}:${p.col} ${p.message}`), ['6:21 "version_column" must be a column name (or xmin)']);
  });

  it('picks a key template by its text; the only one by default; fails naming the mapping file:line', () => {
    assert.equal(resolveNaming(m.mapping('customers'), { mapping: 'customers', key: 'customer:email:{email|lower}' }).template.source, 'customer:email:{email|lower}');
    assert.equal(resolveNaming(m.mapping('products'), { mapping: 'products' }).template.source, 'product:{id}');
    assert.throws(() => resolveNaming(m.mapping('customers'), { mapping: 'customers' }), {
      name: 'CacheConfigError',
      message: 'mapping "customers" (mappings/shop.yaml:2): say which key the entry caches (key: one of customer:{id}, customer:email:{email|lower}), or give it a name of its own',
    });
    assert.throws(() => resolveNaming(m.mapping('customers'), { mapping: 'customers', key: 'customer:{ID}' }), {
      message: 'mapping "customers" (mappings/shop.yaml:2) has no key template "customer:{ID}" (its keys: customer:{id}, customer:email:{email|lower})',
    });
    assert.throws(() => m.mapping('customer'), { name: 'CacheConfigError', message: 'no mapping named "customer" in mappings/ (known: customers, orders, products)' });
  });

  it('registers every entry in on_truncate tags and checks on_truncate versions when the mapping fires on truncate', () => {
    const c = resolveNaming(m.mapping('customers'), { mapping: 'customers', key: 'customer:{id}' });
    assert.deepEqual(c.tags.map((t) => t.source), ['customers:all']);
    assert.equal(c.versionMode, 'check');
    const o = resolveNaming(m.mapping('orders'), { mapping: 'orders' });
    assert.deepEqual(o.versions.map((t) => t.source), ['orders:version']);
    const p = resolveNaming(m.mapping('products'), { mapping: 'products' });
    assert.deepEqual([p.tags.length, p.versions.length], [0, 0], 'products do not fire on truncate');
  });

  it('own names need tags or versions of the mapping; versions are embedded in the physical key', () => {
    const page = resolveNaming(m.mapping('products'), { mapping: 'products', name: 'category:{category_id}:page:{page}', tags: ['category:{category_id}'] });
    assert.equal(page.kind, 'name');
    assert.deepEqual([...page.params].sort(), ['category_id', 'page']);
    assert.equal(page.keyPrefix, 'category:');
    const recent = resolveNaming(m.mapping('orders'), { mapping: 'orders', name: 'tenant:{tenant_id}:orders:recent', versions: ['tenant:{tenant_id}:orders:version'] });
    assert.equal(recent.versionMode, 'embed');
    assert.deepEqual(renderEntry(recent, { tenant_id: 7 }), { key: 'tenant:7:orders:recent', tags: [], versions: ['orders:version', 'tenant:7:orders:version'] });
    assert.equal(physicalKey('tenant:7:orders:recent', [3, 12]), 'tenant:7:orders:recent#v3.12');
    assert.equal(physicalKey('{user:1}:x', [2]), '{user:1}:x#v2');
    assert.equal(physicalKey('plain', []), 'plain');
    assert.throws(() => resolveNaming(m.mapping('products'), { mapping: 'products', name: 'list:{page}' }), /the worker never deletes "list:\{page\}": an entry with its own name needs tags or versions/);
    assert.throws(() => resolveNaming(m.mapping('products'), { mapping: 'products', name: 'x:{id}', tags: ['category:{id}'] }), {
      message: 'mapping "products" (mappings/shop.yaml:11) has no tags template "category:{id}" (its tags: category:{category_id})',
    });
    assert.throws(() => resolveNaming(m.mapping('products'), { mapping: 'products', name: 'x:{id', tags: ['category:{category_id}'] }), CacheConfigError);
    assert.throws(() => resolveNaming(m.mapping('products'), { mapping: 'products', name: 'product:{id}', tags: ['category:{category_id}'] }), /is one of the mapping's keys/);
  });

  it('renders with the worker template code (filters); wrong parameters fail at the call naming file:line', () => {
    const byEmail = resolveNaming(m.mapping('customers'), { mapping: 'customers', key: 'customer:email:{email|lower}' });
    assert.deepEqual(renderEntry(byEmail, { email: 'Ada@Example.COM' }), { key: 'customer:email:ada@example.com', tags: ['customers:all'], versions: [] });
    const byId = resolveNaming(m.mapping('customers'), { mapping: 'customers', key: 'customer:{id}' });
    assert.equal(renderEntry(byId, { id: 9007199254740993n }).key, 'customer:9007199254740993');
    assert.throws(() => renderEntry(byId, { ID: 1 }), {
      name: 'CacheParamError',
      message: 'mapping "customers" (mappings/shop.yaml:2): entry customers/customer:{id} takes no parameter "ID" (it takes: id)',
    });
    assert.throws(() => renderEntry(byId, {}), { message: 'mapping "customers" (mappings/shop.yaml:2): key "customer:{id}" needs parameter "id", which is missing (given: none)' });
    assert.throws(() => renderEntry(byId, { id: null }), { message: /needs parameter "id", which is null/ });
    assert.throws(() => renderEntry(byId, { id: {} as unknown as string }), CacheParamError);
  });

  it('renders what the worker invalidates for a row', () => {
    assert.deepEqual(m.render('customers', { id: 5, email: 'A@B', first_name: 'x' }), { keys: ['customer:5', 'customer:email:a@b'], tags: [], versions: [] });
    assert.deepEqual(m.render('products', { id: 1, category_id: null }), { keys: ['product:1'], tags: [], versions: ['ns:products'] });
  });
});
