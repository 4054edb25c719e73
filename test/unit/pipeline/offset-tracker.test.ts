import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OffsetTracker } from '../../../src/pipeline/commit/offset-tracker.js';

describe('offset tracker', () => {
  it('commits only the end of the completed prefix, never past a gap', () => {
    const t = new OffsetTracker();
    const a = t.begin('t', 0, '9');
    const b = t.begin('t', 0, '19');
    const c = t.begin('t', 0, '29');
    assert.deepEqual(t.committable(), []);
    b.complete();
    c.complete();
    assert.deepEqual(t.committable(), [], 'a is still pending');
    a.complete();
    assert.deepEqual(t.committable(), [{ topic: 't', partition: 0, offset: '30' }]);
    t.markCommitted(t.committable());
    assert.deepEqual(t.committable(), []);
    assert.equal(t.pendingRanges, 0);
  });

  it('keeps partitions apart and handles int64 offsets', () => {
    const t = new OffsetTracker();
    t.begin('t', 0, '9223372036854775000').complete();
    t.begin('t', 1, '5');
    assert.deepEqual(t.committable(), [{ topic: 't', partition: 0, offset: '9223372036854775001' }]);
  });

  it('after reset, work from the old generation is never committed', () => {
    const t = new OffsetTracker();
    const old = t.begin('t', 0, '9');
    t.reset();
    old.complete();
    assert.deepEqual(t.committable(), []);
    t.begin('t', 0, '4').complete();
    assert.deepEqual(t.committable(), [{ topic: 't', partition: 0, offset: '5' }]);
  });

  it('completing twice is harmless', () => {
    const t = new OffsetTracker();
    const a = t.begin('t', 0, '1');
    a.complete();
    a.complete();
    assert.deepEqual(t.committable(), [{ topic: 't', partition: 0, offset: '2' }]);
  });
});
