import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePosition, resolvePosition } from '../../../src/replay/positions.js';

const NOW = Date.parse('2026-11-24T12:00:00Z');

describe('replay positions', () => {
  it('parses every form', () => {
    assert.deepEqual(parsePosition('earliest'), { kind: 'earliest' });
    assert.deepEqual(parsePosition('now'), { kind: 'latest' });
    assert.deepEqual(parsePosition('2h', () => NOW), { kind: 'timestamp', ms: NOW - 7_200_000 });
    assert.deepEqual(parsePosition('1d', () => NOW), { kind: 'timestamp', ms: NOW - 86_400_000 });
    assert.deepEqual(parsePosition('2026-11-24T08:00:00Z'), { kind: 'timestamp', ms: Date.parse('2026-11-24T08:00:00Z') });
    const o = parsePosition('0:1200,1:900');
    assert.ok(o.kind === 'offsets');
    assert.deepEqual([...o.offsets], [[0, 1200n], [1, 900n]]);
    assert.throws(() => parsePosition('yesterday'), /not a position/);
  });

  it('resolves to per-partition offsets clamped to the partition', async () => {
    const parts = [{ partition: 0, low: 10n, high: 100n }, { partition: 1, low: 0n, high: 5n }];
    const forTime = async (ms: number) => new Map([[0, ms === 1 ? 40n : 0n]]);
    assert.deepEqual([...(await resolvePosition({ kind: 'earliest' }, parts, forTime))], [[0, 10n], [1, 0n]]);
    assert.deepEqual([...(await resolvePosition({ kind: 'latest' }, parts, forTime))], [[0, 100n], [1, 5n]]);
    // partition 1 has no record at or after the time: its end
    assert.deepEqual([...(await resolvePosition({ kind: 'timestamp', ms: 1 }, parts, forTime))], [[0, 40n], [1, 5n]]);
    const offsets = { kind: 'offsets' as const, offsets: new Map([[0, 5n], [1, 9n]]) };
    assert.deepEqual([...(await resolvePosition(offsets, parts, forTime))], [[0, 10n], [1, 5n]]);
  });
});
