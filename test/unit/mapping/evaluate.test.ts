import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluate } from '../../../src/mapping/evaluate.js';
import { MappingSet } from '../../../src/mapping/mapping-set.js';
import { parseTemplate } from '../../../src/mapping/template.js';
import type { ChangeEvent } from '../../../src/pipeline/types.js';

const set = new MappingSet([
  {
    name: 'customers',
    table: 'inventory.customers',
    keys: ['customer:{id}', 'customer:email:{email}', 'customers:all'].map(parseTemplate),
    pos: { file: 'm.yaml', line: 1, col: 1 },
  },
]);

function ev(e: Partial<ChangeEvent> & Pick<ChangeEvent, 'op'>): ChangeEvent {
  return { table: 'inventory.customers', before: null, after: null, keyColumns: ['id'], beforeKeyOnly: false, ...e };
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
    const p = evaluate(ev({ op: 'd', before: { id: 1, email: '' }, beforeKeyOnly: true }), set);
    assert.deepEqual(p.keys, ['customer:1', 'customers:all']);
    assert.deepEqual(p.skipped, [
      { mapping: 'customers', template: 'customer:email:{email}', image: 'before', reason: 'key_only_image', column: 'email' },
    ]);
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
    assert.deepEqual(p, { table: 'other.t', mappings: [], keys: [], skipped: [] });
  });
});
