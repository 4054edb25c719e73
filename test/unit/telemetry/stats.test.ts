import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { Stats } from '../../../src/telemetry/stats.js';

describe('stats: labels are data', () => {
  it('a label value matches only itself: table=inventory.orders does not count inventory.orders_archive', () => {
    const stats = new Stats();
    stats.inc('events', { table: 'inventory.orders', op: 'c' }, 2);
    stats.inc('events', { table: 'inventory.orders_archive', op: 'c' }, 5);
    stats.inc('events', { table: 'x.y', op: 'u' }, 1);
    assert.equal(stats.get('events', { table: 'inventory.orders' }), 2);
    assert.equal(stats.get('events', { table: 'inventory.orders_archive' }), 5);
    assert.equal(stats.get('events', { op: 'c' }), 7);
    assert.equal(stats.get('events'), 8);
    assert.deepEqual(stats.byLabel('events', 'table'), { 'inventory.orders': 2, 'inventory.orders_archive': 5, 'x.y': 1 });
  });

  it('label values with commas, equals signs and braces are kept apart', () => {
    const stats = new Stats(new Registry());
    stats.inc('templates_skipped', { mapping: 'a,reason=null', reason: 'x' });
    stats.inc('templates_skipped', { mapping: 'a', reason: 'null' });
    assert.equal(stats.get('templates_skipped', { mapping: 'a' }), 1);
    assert.equal(stats.get('templates_skipped', { reason: 'null' }), 1);
    assert.equal(stats.get('templates_skipped', { mapping: 'a,reason=null' }), 1);
    assert.equal(stats.get('records'), 0, 'another counter whose name starts the same is not counted');
  });

  it('the snapshot names each counter with its labels, for logs', () => {
    const stats = new Stats();
    stats.inc('records', undefined, 3);
    stats.inc('invalidated', { kind: 'key', pass: 'first' }, 4);
    assert.deepEqual(stats.snapshot(), { 'invalidated{kind=key,pass=first}': 4, records: 3 });
  });
});
