import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../../src/config/errors.js';
import { checkResolvedOrder, checkWindowOrder, namedOffsets, parsePosition, resolvePosition, type PartitionInfo, type Position } from '../../../src/replay/positions.js';

const NOW = Date.parse('2026-11-24T12:00:00Z');
const four: PartitionInfo[] = [0, 1, 2, 3].map((partition) => ({ partition, low: 0n, high: 100n }));

describe('replay positions', () => {
  it('parses every form', () => {
    assert.deepEqual(parsePosition('earliest'), { kind: 'earliest' });
    assert.deepEqual(parsePosition('now'), { kind: 'latest' });
    assert.deepEqual(parsePosition('2h', () => NOW), { kind: 'timestamp', ms: NOW - 7_200_000 });
    assert.deepEqual(parsePosition('1d', () => NOW), { kind: 'timestamp', ms: NOW - 86_400_000 });
    assert.deepEqual(parsePosition('2026-11-24T08:00:00Z'), { kind: 'timestamp', ms: Date.parse('2026-11-24T08:00:00Z') });
    assert.deepEqual(parsePosition('0:1200,1:900'), { kind: 'offsets', offsets: [{ partition: 0, offset: 1200n }, { partition: 1, offset: 900n }] });
    assert.deepEqual(parsePosition('shop.inventory.orders:0:5,shop-x_y:3:1'), {
      kind: 'offsets',
      offsets: [{ topic: 'shop.inventory.orders', partition: 0, offset: 5n }, { topic: 'shop-x_y', partition: 3, offset: 1n }],
    });
    assert.throws(() => parsePosition('yesterday'), /not a position/);
    assert.throws(() => parsePosition('a b:0:1'), /not a position/);
  });

  it('resolves to per-partition offsets clamped to the partition; named offsets give only their partitions', async () => {
    const parts = [{ partition: 0, low: 10n, high: 100n }, { partition: 1, low: 0n, high: 5n }];
    const forTime = async (ms: number) => new Map([[0, ms === 1 ? 40n : 0n]]);
    assert.deepEqual([...(await resolvePosition({ kind: 'earliest' }, parts, forTime))], [[0, 10n], [1, 0n]]);
    assert.deepEqual([...(await resolvePosition({ kind: 'latest' }, parts, forTime))], [[0, 100n], [1, 5n]]);
    // partition 1 has no record at or after the time: its end
    assert.deepEqual([...(await resolvePosition({ kind: 'timestamp', ms: 1 }, parts, forTime))], [[0, 40n], [1, 5n]]);
    const offsets: Position = { kind: 'offsets', offsets: [{ partition: 0, offset: 5n }] };
    assert.deepEqual([...(await resolvePosition(offsets, parts, forTime, new Map([[0, 5n]])))], [[0, 10n]], 'partition 1 is not named: left alone');
  });

  it('named offsets: only named partitions, the short form only with one topic, a partition that does not exist is an error', () => {
    const single = new Map([['t', four]]);
    const o = (text: string) => parsePosition(text) as Extract<Position, { kind: 'offsets' }>;
    assert.deepEqual(namedOffsets(o('0:5,2:9'), '--to', single), new Map([['t', new Map([[0, 5n], [2, 9n]])]]), 'partitions 1 and 3 were planned too');
    const refuses = (text: string, topics: Map<string, PartitionInfo[]>, re: RegExp) =>
      assert.throws(() => namedOffsets(o(text), '--to', topics), (e: unknown) => e instanceof ConfigError && re.test(e.message), text);
    refuses('0:5,9:1', single, /^--to: t has no partition 9 \(it has 4: 0–3\)/);
    const two = new Map([['a', four], ['b', four]]);
    refuses('0:5', two, /^--to: "0:5" names no topic and 2 topics are selected: write topic:partition:offset/);
    refuses('c:0:5', two, /^--to: topic "c" is not one of the selected topics \(a, b\)/);
    refuses('a:0:5,a:0:6', two, /named twice/);
    assert.deepEqual(namedOffsets(o('b:1:7'), '--from', two), new Map([['b', new Map([[1, 7n]])]]));
  });

  it('an inverted window is an error: by the positions, and per partition once resolved', () => {
    const p = (text: string) => ({ pos: parsePosition(text, () => NOW), text });
    const inverted = (from: string, to: string) =>
      assert.throws(() => checkWindowOrder(p(from), p(to), NOW), (e: unknown) => e instanceof ConfigError && /^the window is inverted: --from .* is after --to /.test(e.message), `${from} → ${to}`);
    inverted('latest', 'earliest');
    inverted('2h', '3h');
    inverted('latest', '1h');
    inverted('2026-11-24T10:00:00Z', '2026-11-24T09:00:00Z');
    for (const [from, to] of [['earliest', 'latest'], ['3h', '2h'], ['2h', 'now'], ['earliest', 'earliest'], ['0:5', 'latest']]) checkWindowOrder(p(from!), p(to!), NOW);
    assert.throws(() => checkResolvedOrder('t', new Map([[0, 8n]]), new Map([[0, 3n]]), '0:8', '0:3'), /the window is inverted: --from 0:8 is after --to 0:3 on t\/0 \(offset 8 > 3\)/);
    checkResolvedOrder('t', new Map([[0, 3n]]), new Map([[0, 3n]]), '0:3', '0:3');
  });
});
