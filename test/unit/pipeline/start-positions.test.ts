import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyInitialPosition, type GroupStartPort, type InitialPosition } from '../../../src/pipeline/source/initial-position.js';
import { partitionKey, RetentionGuard, type RetentionLoss } from '../../../src/pipeline/source/retention-guard.js';
import { resolveTopics, topicMatcher } from '../../../src/pipeline/source/topic-match.js';
import { memoryLogger } from '../../support/fakes.js';

/** A cluster in memory: topics with their end offsets and the group's committed offsets. */
class FakeGroupStart implements GroupStartPort {
  readonly committed = new Map<string, Map<number, bigint>>();
  setCalls: { topic: string; offsets: Map<number, bigint> }[] = [];
  /** Makes setOffsets fail (another member joined first), after which the group has offsets. */
  raceWith: string | undefined;
  constructor(readonly ends: Record<string, bigint[]>, readonly byTime: Record<string, bigint[]> = {}) {}
  async groupHasOffsets(): Promise<boolean> {
    return this.committed.size > 0;
  }
  async offsetsAt(topic: string, position: Exclude<InitialPosition, { kind: 'earliest' }>): Promise<Map<number, bigint>> {
    const list = position.kind === 'latest' ? this.ends[topic]! : this.byTime[topic]!;
    return new Map(list.map((o, p) => [p, o]));
  }
  async setOffsets(topic: string, offsets: ReadonlyMap<number, bigint>): Promise<void> {
    if (this.raceWith) {
      this.committed.set(this.raceWith, new Map([[0, 1n]]));
      throw new Error('The consumer group must have no running instances, current state: Stable');
    }
    this.setCalls.push({ topic, offsets: new Map(offsets) });
    this.committed.set(topic, new Map(offsets));
  }
}

describe('where consumption starts', () => {
  it('the very first start of a group at latest commits the end offsets before joining, and says so loudly', async () => {
    const port = new FakeGroupStart({ a: [5n, 7n], b: [3n] });
    const { logger, lines } = memoryLogger();
    assert.equal(await applyInitialPosition(port, 'g', ['a', 'b'], { kind: 'latest' }, logger), true);
    assert.deepEqual(port.setCalls, [{ topic: 'a', offsets: new Map([[0, 5n], [1, 7n]]) }, { topic: 'b', offsets: new Map([[0, 3n]]) }]);
    const warn = lines.find((l) => l['level'] === 40);
    assert.match(String(warn?.['msg']), /first start of group g \(no committed offsets\): starting at the latest offsets \(--initial-position\); records already in the topics are NOT invalidated/);
  });

  it('a first start at a time commits the offsets of that time; at earliest it commits nothing (the reset policy is earliest)', async () => {
    const port = new FakeGroupStart({ a: [5n] }, { a: [2n] });
    const { logger } = memoryLogger();
    await applyInitialPosition(port, 'g', ['a'], { kind: 'timestamp', ms: Date.now() - 7_200_000 }, logger);
    assert.deepEqual(port.setCalls, [{ topic: 'a', offsets: new Map([[0, 2n]]) }]);
    const early = new FakeGroupStart({ a: [5n] });
    const { logger: l2, lines } = memoryLogger();
    assert.equal(await applyInitialPosition(early, 'g', ['a'], { kind: 'earliest' }, l2), true);
    assert.deepEqual(early.setCalls, []);
    assert.ok(lines.some((l) => l['level'] === 40 && /starting at the earliest offsets/.test(String(l['msg']))));
  });

  it('a group that has offsets resumes from them: nothing is committed for it, whatever --initial-position says', async () => {
    const port = new FakeGroupStart({ a: [5n], b: [9n] });
    port.committed.set('a', new Map([[0, 4n]]));
    const { logger } = memoryLogger();
    assert.equal(await applyInitialPosition(port, 'g', ['a', 'b'], { kind: 'latest' }, logger), false);
    assert.deepEqual(port.setCalls, [], 'the new topic b would skip its records');
  });

  it('two members of a brand-new group starting at once: the one that finds the group started goes on from its offsets', async () => {
    const port = new FakeGroupStart({ a: [5n] });
    port.raceWith = 'a';
    const { logger } = memoryLogger();
    assert.equal(await applyInitialPosition(port, 'g', ['a'], { kind: 'latest' }, logger), false);
  });

  it('topics are matched by the worker: a regex never takes Kafka-internal topics; named topics that do not exist are reported', () => {
    const regex = topicMatcher({ kind: 'regex', pattern: /^(shop\..*|__.*)$/ }, []);
    assert.deepEqual(resolveTopics(regex, ['shop.a', 'other', '__consumer_offsets', '__debezium-heartbeat.shop', 'shop.b']), {
      present: ['__debezium-heartbeat.shop', 'shop.a', 'shop.b'],
      missing: [],
    });
    const prefix = topicMatcher({ kind: 'prefix', prefix: 'shop' }, ['inventory.customers', 'inventory.orders']);
    assert.deepEqual(resolveTopics(prefix, ['shop.inventory.customers']), { present: ['shop.inventory.customers'], missing: ['shop.inventory.orders'] });
    assert.equal(prefix.describe, '--topic-prefix shop');
    const list = topicMatcher({ kind: 'list', topics: ['x', 'y'] }, []);
    assert.deepEqual(resolveTopics(list, ['y']), { present: ['y'], missing: ['x'] });
  });
});

describe('records lost to retention', () => {
  /** Committed offsets and log starts in memory. */
  function guard(committed: Record<string, bigint>, starts: Record<string, bigint[]>) {
    const losses: RetentionLoss[] = [];
    const { logger, lines } = memoryLogger();
    const port = {
      committed: async () => new Map(Object.entries(committed)),
      logStart: async (topic: string) => new Map((starts[topic] ?? []).map((o, p) => [p, o])),
    };
    return { g: new RetentionGuard(port, (l) => losses.push(l), logger), losses, lines, starts };
  }

  it('a committed offset below the log start is reported at assignment, with the partition and the count', async () => {
    const { g, losses, lines } = guard({ [partitionKey('t', 0)]: 3n, [partitionKey('t', 1)]: 8n }, { t: [7n, 2n] });
    g.assigned(new Map([['t', [0, 1]]]));
    await g.fetched('t', 0, 7n); // kafkajs reset to the earliest offset: no second report
    await g.fetched('t', 1, 8n);
    assert.deepEqual(losses, [{ topic: 't', partition: 0, from: 3n, to: 7n, lost: 4n }]);
    const line = lines.find((l) => l['level'] === 50);
    assert.equal(line?.['partition'], 0);
    assert.equal(line?.['lost'], 4);
    assert.match(String(line?.['msg']), /records lost to retention: 4 record\(s\) of t\/0 \(offsets 3–6\)/);
  });

  it('a jump of the fetch position past the log start while running is a loss; a jump over compacted records or markers is not', async () => {
    const { g, losses, starts } = guard({ [partitionKey('t', 0)]: 0n }, { t: [0n] });
    g.assigned(new Map([['t', [0]]]));
    await g.fetched('t', 0, 0n);
    g.advanced('t', 0, 10n); // the pipeline handed back 0–9
    starts['t'] = [5n];
    await g.fetched('t', 0, 12n); // kafkajs fetched past a gap the log start does not explain (compaction)
    assert.deepEqual(losses, []);
    g.advanced('t', 0, 20n);
    starts['t'] = [35n]; // retention removed 20–34 while the partition lagged; kafkajs reset to 35
    await g.fetched('t', 0, 35n);
    assert.deepEqual(losses, [{ topic: 't', partition: 0, from: 20n, to: 35n, lost: 15n }]);
  });

  it('a partition without a committed offset has nothing to lose (it starts at the earliest)', async () => {
    const { g, losses } = guard({ [partitionKey('t', 0)]: -1n }, { t: [50n] });
    g.assigned(new Map([['t', [0]]]));
    await g.fetched('t', 0, 50n);
    assert.deepEqual(losses, []);
  });
});
