import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import type { TopicPartitionOffset } from '../../../src/domain/types.js';
import { Committer } from '../../../src/pipeline/commit/committer.js';
import { OffsetTracker } from '../../../src/pipeline/commit/offset-tracker.js';
import type { Source } from '../../../src/pipeline/source/source.js';
import { Stats } from '../../../src/telemetry/stats.js';
import { memoryLogger } from '../../support/fakes.js';

/** Lets promise continuations run (timers are mocked; setImmediate is real). */
async function settle(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

/** A Source whose commits are held until the test settles them one by one. */
class HeldCommits implements Source {
  readonly calls: (readonly TopicPartitionOffset[])[] = [];
  readonly pending: { resolve: () => void; reject: (e: Error) => void }[] = [];
  start(): Promise<void> {
    return Promise.resolve();
  }
  commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    this.calls.push(offsets);
    return new Promise((resolve, reject) => this.pending.push({ resolve, reject }));
  }
  pauseAll(): void {}
  stop(): Promise<void> {
    return Promise.resolve();
  }
}

const INTERVAL = 1000;

function setup() {
  const source = new HeldCommits();
  const tracker = new OffsetTracker();
  const { logger, lines } = memoryLogger();
  const stats = new Stats();
  const committer = new Committer(source, tracker, INTERVAL, logger, stats);
  return { source, tracker, lines, stats, committer };
}

describe('committer (mock timers)', () => {
  // A clock far from 0, as Date.now() is (the first commit is not held back by an interval since 0).
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 }));
  afterEach(() => mock.timers.reset());

  it('coalesces kicks into at most one commit per interval, of the completed prefix only', async () => {
    const { source, tracker, stats, committer } = setup();
    tracker.begin('t', 0, '9').complete();
    const open = tracker.begin('t', 0, '19');
    committer.kick();
    committer.kick();
    mock.timers.tick(0);
    await settle();
    assert.equal(source.calls.length, 1);
    assert.deepEqual(source.calls[0], [{ topic: 't', partition: 0, offset: '10' }]);
    source.pending.shift()!.resolve();
    await settle();
    assert.equal(stats.get('commits'), 1);
    open.complete();
    committer.kick();
    mock.timers.tick(INTERVAL - 1);
    await settle();
    assert.equal(source.calls.length, 1, 'not again within the interval');
    mock.timers.tick(1);
    await settle();
    assert.deepEqual(source.calls[1], [{ topic: 't', partition: 0, offset: '20' }]);
    source.pending.shift()!.resolve();
    await settle();
  });

  it('a failed commit is logged and retried after the interval; its offsets go with the next one', async () => {
    const { source, tracker, lines, stats, committer } = setup();
    tracker.begin('t', 0, '9').complete();
    committer.kick();
    mock.timers.tick(0);
    await settle();
    source.pending.shift()!.reject(new Error('REBALANCE_IN_PROGRESS'));
    await settle();
    assert.ok(lines.some((l) => l.msg === 'offset commit failed; will retry'));
    assert.equal(stats.get('commits'), 0);
    mock.timers.tick(INTERVAL);
    await settle();
    assert.equal(source.calls.length, 2);
    assert.deepEqual(source.calls[1], [{ topic: 't', partition: 0, offset: '10' }]);
    source.pending.shift()!.resolve();
    await settle();
    assert.equal(stats.get('commits'), 1);
  });

  it('after close() a failed final flush throws to its caller', async () => {
    const { source, tracker, committer } = setup();
    tracker.begin('t', 0, '9').complete();
    committer.close();
    const final = committer.flush();
    await settle();
    source.pending.shift()!.reject(new Error('NOT_COORDINATOR'));
    await assert.rejects(final, /NOT_COORDINATOR/);
  });

  it('a timed commit under way at close() that fails reaches the final flush, with no unhandled rejection', async () => {
    const { source, tracker, committer } = setup();
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      tracker.begin('t', 0, '9').complete();
      committer.kick();
      mock.timers.tick(0);
      await settle();
      assert.equal(source.calls.length, 1, 'the timed commit is under way');
      committer.close();
      const final = committer.flush();
      source.pending.shift()!.reject(new Error('COORDINATOR_NOT_AVAILABLE'));
      await assert.rejects(final, /COORDINATOR_NOT_AVAILABLE/);
      await settle();
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
