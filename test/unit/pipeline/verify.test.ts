import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import type { ChangeEvent } from '../../../src/domain/types.js';
import { PendingChecks } from '../../../src/pipeline/verify/pending-checks.js';
import { changeVersion, filledBefore, txIdOf } from '../../../src/pipeline/verify/row-version.js';
import type { Mapping } from '../../../src/mapping/model.js';

describe("the inspector's pending checks (bounded, mock timers)", () => {
  it('hands items over when due, in order, never early, and refuses beyond its capacity', () => {
    mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    try {
      const due: { at: number; items: number[] }[] = [];
      const q = new PendingChecks<number>({ delayMs: 5_000, capacity: 3, batchSize: 2, onDue: (items) => due.push({ at: Date.now(), items }) });
      assert.equal(q.add(1), true);
      mock.timers.tick(1_000);
      assert.equal(q.add(2), true);
      assert.equal(q.add(3), true);
      assert.equal(q.add(4), false, 'the fourth pending check is refused (capacity 3)');
      assert.equal(q.size, 3);
      mock.timers.tick(3_999);
      assert.deepEqual(due, [], 'nothing before its 5 s');
      mock.timers.tick(1);
      assert.deepEqual(due, [{ at: 5_000, items: [1] }]);
      assert.equal(q.add(5), true, 'room again once a check left');
      mock.timers.tick(1_000);
      assert.deepEqual(due.slice(1), [{ at: 6_000, items: [2, 3] }], 'items due together come in one batch (of at most batchSize)');
      mock.timers.tick(3_999);
      assert.equal(due.length, 2);
      mock.timers.tick(1);
      assert.deepEqual(due.slice(2), [{ at: 10_000, items: [5] }]);
      assert.equal(q.size, 0);
    } finally {
      mock.timers.reset();
    }
  });

  it('splits a large due set into batches, stays bounded under a flood, and close() drops the rest', () => {
    mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    try {
      const batches: number[][] = [];
      const q = new PendingChecks<number>({ delayMs: 100, capacity: 1_000, batchSize: 256, onDue: (items) => batches.push(items) });
      let refused = 0;
      for (let i = 0; i < 5_000; i++) if (!q.add(i)) refused++;
      assert.equal(refused, 4_000);
      assert.equal(q.size, 1_000);
      mock.timers.tick(100);
      assert.deepEqual(batches.map((b) => b.length), [256, 256, 256, 232]);
      assert.deepEqual(batches.flat(), Array.from({ length: 1_000 }, (_, i) => i));
      q.add(1);
      q.add(2);
      assert.equal(q.close(), 2);
      assert.equal(q.add(3), false);
      mock.timers.tick(1_000);
      assert.equal(batches.length, 4, 'nothing after close()');
    } finally {
      mock.timers.reset();
    }
  });
});

const mapping = (versionColumn: string | undefined): Mapping => ({ name: 'm', versionColumn }) as unknown as Mapping;
const event = (op: ChangeEvent['op'], after: Record<string, unknown> | null): ChangeEvent => ({ op, table: 's.t', before: null, after, keyColumns: null, beforeLooksKeyOnly: false, beforeSchemaKnown: false });

describe('row versions: a change against the version an envelope records', () => {
  it('reads the version column from the after image, xmin from source.txId, a delete as "gone"', () => {
    assert.deepEqual(changeVersion(event('u', { id: 1, version: 7 }), mapping('version')), { kind: 'column', value: '7' });
    assert.deepEqual(changeVersion(event('c', { id: 1, updated_at: '2026-01-02T03:04:05Z' }), mapping('updated_at')), { kind: 'column', value: '2026-01-02T03:04:05Z' });
    assert.deepEqual(changeVersion(event('u', { id: 1 }), mapping('xmin'), 9001), { kind: 'xmin', txId: 9001 });
    assert.equal(txIdOf(Buffer.from('{"op":"u","source":{"txId":772}}')), 772);
    assert.equal(txIdOf(Buffer.from('{"schema":{},"payload":{"op":"u","source":{"txId":773}}}')), 773);
    assert.equal(txIdOf(Buffer.from([0, 0, 0, 0, 1, 2])), undefined, 'a registry-framed value');
    assert.deepEqual(changeVersion(event('d', null), mapping('version')), { kind: 'deleted' });
    assert.equal(changeVersion(event('u', { id: 1, version: 7 }), mapping(undefined)), undefined, 'no version_column: presence only');
    assert.equal(changeVersion(event('u', { id: 1, version: null }), mapping('version')), undefined);
    assert.equal(changeVersion(event('u', { id: 1 }), mapping('xmin')), undefined, 'no txId');
  });

  it('orders counters exactly (beyond 2^53 too), decimals, ISO times; refuses what it cannot order', () => {
    const col = (value: string) => ({ kind: 'column', value }) as const;
    assert.equal(filledBefore('6', col('7'), false), true);
    assert.equal(filledBefore('7', col('7'), false), false);
    assert.equal(filledBefore('8', col('7'), false), false, 'a newer version: a later change has its own check');
    assert.equal(filledBefore('9007199254740993', col('9007199254740994'), false), true);
    assert.equal(filledBefore('1.5', col('1.25'), false), false);
    assert.equal(filledBefore('2026-01-01T00:00:00Z', col('2026-01-02T00:00:00Z'), false), true);
    assert.equal(filledBefore('abc', col('abd'), false), undefined);
    assert.equal(filledBefore(undefined, col('7'), false), undefined, 'an envelope without v');
    assert.equal(filledBefore(undefined, col('7'), true), true, 'a cached "not found" of a row that exists');
    assert.equal(filledBefore('7', { kind: 'deleted' }, false), true);
    assert.equal(filledBefore(undefined, { kind: 'deleted' }, true), false, 'a cached "not found" of a deleted row is right');
  });

  it('compares xmin modulo 2^32, so a transaction id that wrapped is still newer', () => {
    const x = (txId: number) => ({ kind: 'xmin', txId }) as const;
    assert.equal(filledBefore('1000', x(1001), false), true);
    assert.equal(filledBefore('1001', x(1001), false), false);
    assert.equal(filledBefore('1002', x(1001), false), false);
    assert.equal(filledBefore('4294967290', x(5), false), true, 'filled just before the wrap, changed just after');
    assert.equal(filledBefore('5', x(4294967290), false), false, 'filled after the wrap: newer than the change');
    assert.equal(filledBefore('4294967301', x(6), false), true, 'a 64-bit (epoch-extended) xid is taken modulo 2^32');
    assert.equal(filledBefore('12a', x(6), false), undefined);
  });
});
