import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { parseMappingFile } from '../../../src/mapping/parse.js';
import { MappingSet } from '../../../src/mapping/mapping-set.js';
import { decodeDebeziumJson } from '../../../src/pipeline/decode/debezium-json.js';
import { SinkError } from '../../../src/pipeline/sink/sink.js';
import { Worker, type WorkerOptions } from '../../../src/pipeline/worker.js';
import { Stats } from '../../../src/telemetry/stats.js';
import { FakeBatch, FakeSink, FakeSource, memoryLogger, record } from '../../support/fakes.js';

const TOPIC = 'shop.inventory.customers';
const MAPPINGS = new MappingSet(
  parseMappingFile('m.yaml', 'mappings:\n  - name: customers\n    table: inventory.customers\n    keys: ["customer:{id}"]\n').mappings,
);

const create = (id: number) => ({ op: 'c', before: null, after: { id, email: `${id}@x` }, source: { schema: 'inventory', table: 'customers' } });

/** Lets promise continuations run (timers are mocked; setImmediate is real). */
async function flush(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

/** Advances the mocked clock in steps, letting the code between timers run. */
async function advance(ms: number, step = 10): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    mock.timers.tick(Math.min(step, ms - t));
    await flush(3);
  }
}

class MemoryDeadLetter {
  readonly sent: { offset: string; code: string; stack?: string }[] = [];
  async send(record: { offset: string }, why: { code: string; stack?: string }): Promise<void> {
    this.sent.push({ offset: record.offset, code: why.code, ...(why.stack ? { stack: why.stack } : {}) });
  }
  async close(): Promise<void> {}
}

function setup(opts: Partial<WorkerOptions> = {}, decode = decodeDebeziumJson) {
  const source = new FakeSource();
  const sink = new FakeSink();
  const { logger, lines } = memoryLogger();
  const stats = new Stats();
  const deadLetter = new MemoryDeadLetter();
  const worker = new Worker(
    {
      secondDeleteDelayMs: 1_000,
      commitIntervalMs: 50,
      maxPendingSecondDeletes: 1_000,
      backoff: { initialMs: 100, maxMs: 400, jitter: 0 },
      onError: 'skip',
      maxRecordBytes: 1_000_000,
      progressIntervalMs: 0,
      ...opts,
    },
    { source, sink, mappings: MAPPINGS, decode, logger, stats, deadLetter },
  );
  return { source, sink, worker, lines, stats, deadLetter };
}

async function started(s: ReturnType<typeof setup>, partitions = [0]): Promise<void> {
  const p = s.worker.start();
  await flush();
  await p;
  s.source.assign(TOPIC, partitions);
}

const batch = (partition: number, from: number, n: number) =>
  new FakeBatch(TOPIC, partition, Array.from({ length: n }, (_, i) => record(TOPIC, partition, from + i, create(from + i))));

describe('worker (in-memory source and sink, mock timers)', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] }));
  afterEach(() => mock.timers.reset());

  it('commits a batch only after its second delete, at the next offset', async () => {
    const s = setup();
    await started(s);
    await s.source.deliver(batch(0, 0, 3));
    assert.deepEqual(s.sink.unlinked(), ['customer:0', 'customer:1', 'customer:2']);
    await advance(900);
    assert.equal(s.source.committed(TOPIC, 0), undefined, 'committed before the second delete');
    await advance(300);
    assert.equal(s.sink.unlinked().length, 6, 'second pass ran');
    assert.equal(s.source.committed(TOPIC, 0), '3');
    assert.equal((await stopAndAdvance(s, 1_000)).state, 'stopped');
  });

  it('a drain that times out abandons pending second deletes and commits nothing past them', async () => {
    const s = setup({ secondDeleteDelayMs: 10_000 });
    await started(s);
    await s.source.deliver(batch(0, 0, 2));
    const stopping = s.worker.stop(500);
    await advance(600);
    const result = await stopping;
    assert.equal(result.state, 'stopped');
    assert.equal(s.source.committed(TOPIC, 0), undefined);
    assert.equal(s.sink.unlinked().length, 2, 'no second pass after the grace');
    assert.ok(s.lines.some((l) => l['msg'] === 'second deletes abandoned; their offsets stay uncommitted and will be replayed' && l['keys'] === 2));
    assert.ok(s.source.stopped && s.sink.closed);
  });

  it('a drain within the grace waits for the second deletes and commits them', async () => {
    const s = setup({ secondDeleteDelayMs: 1_000 });
    await started(s);
    await s.source.deliver(batch(0, 0, 2));
    const result = await stopAndAdvance(s, 2_000, 5_000);
    assert.equal(result.state, 'stopped');
    assert.equal(s.source.committed(TOPIC, 0), '2');
    assert.ok(s.source.paused, 'fetching stopped first');
  });

  it('a rebalance with second deletes pending: the second pass still runs, the old generation is not committed', async () => {
    const s = setup();
    await started(s);
    await s.source.deliver(batch(0, 0, 2));
    s.source.assign(TOPIC, [1]); // partition 0 moved away before its second delete
    await advance(1_200);
    assert.equal(s.sink.unlinked().length, 4, 'the second pass protects against write-backs even after a rebalance');
    assert.equal(s.source.committed(TOPIC, 0), undefined, 'a revoked partition is not committed by its old owner');
    await s.source.deliver(batch(1, 0, 1));
    await advance(1_200);
    assert.equal(s.source.committed(TOPIC, 1), '1');
    await stopAndAdvance(s, 100);
  });

  it('a failed commit is retried with the same offsets', async () => {
    const s = setup();
    await started(s);
    s.source.failCommits = 1;
    await s.source.deliver(batch(0, 0, 2));
    await advance(1_020);
    assert.equal(s.source.commitAttempts, 1);
    assert.equal(s.source.committed(TOPIC, 0), undefined, 'the first commit failed');
    assert.ok(s.lines.some((l) => l['msg'] === 'offset commit failed; will retry'));
    await advance(200);
    assert.equal(s.source.commitAttempts, 2);
    assert.equal(s.source.committed(TOPIC, 0), '2');
    await stopAndAdvance(s, 100);
  });

  it('backpressure: a batch waits, heartbeating, while more names than the bound await their second delete', async () => {
    const s = setup({ maxPendingSecondDeletes: 2 });
    await started(s);
    await s.source.deliver(batch(0, 0, 3));
    const second = batch(0, 3, 1);
    let delivered = false;
    void s.source.deliver(second).then(() => (delivered = true));
    await advance(500);
    assert.equal(delivered, false, 'the second batch went on although 3 names are pending');
    assert.deepEqual(s.sink.unlinked(), ['customer:0', 'customer:1', 'customer:2']);
    assert.ok(second.heartbeats > 5, 'no heartbeats while held back');
    await advance(700);
    assert.equal(delivered, true);
    assert.ok(s.sink.unlinked().includes('customer:3'));
    await stopAndAdvance(s, 2_000);
  });

  it('readiness is a set of named reasons: starting, consumer, redis', async () => {
    const s = setup();
    assert.deepEqual(s.worker.health().notReady, ['starting']);
    const p = s.worker.start();
    await flush();
    await p;
    assert.deepEqual(s.worker.health().notReady, ['consumer'], 'not ready before the group assigned partitions');
    s.source.assign(TOPIC, [0]);
    assert.equal(s.worker.health().ready, true);
    s.sink.failWith = new SinkError('connection refused', false);
    const delivering = s.source.deliver(batch(0, 0, 1));
    await advance(50);
    assert.deepEqual(s.worker.health().notReady, ['redis']);
    assert.equal(s.stats.get('redis_retries') > 0, true);
    s.sink.failWith = undefined;
    await advance(500);
    await delivering;
    assert.deepEqual(s.worker.health().notReady, []);
    await stopAndAdvance(s, 2_000);
  });

  it('a rebalance during a Redis outage gives the batch up (heartbeat error goes back to the source)', async () => {
    const s = setup();
    await started(s);
    s.sink.failWith = new SinkError('connection refused', false);
    const b = batch(0, 0, 1);
    b.heartbeatError = Object.assign(new Error('The group is rebalancing'), { type: 'REBALANCE_IN_PROGRESS' });
    const delivering = s.source.deliver(b);
    const outcome = delivering.then(() => 'resolved', (e: Error) => e.message);
    await advance(300);
    assert.equal(await outcome, 'The group is rebalancing');
    assert.equal(b.fetched, undefined, 'nothing marked fetched');
    s.sink.failWith = undefined;
    await stopAndAdvance(s, 100);
  });
});

async function stopAndAdvance(s: ReturnType<typeof setup>, ms: number, graceMs = 10_000) {
  const stopping = s.worker.stop(graceMs);
  await advance(ms);
  return stopping;
}

describe('poison: the breaker and unexpected errors', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] }));
  afterEach(() => mock.timers.reset());
  const garbage = (partition: number, from: number, n: number) => new FakeBatch(TOPIC, partition, Array.from({ length: n }, (_, i) => record(TOPIC, partition, from + i, 'not json')));

  it('a stream of nothing but poison stops the worker (exit 1) naming the commonest code; nothing dead-lettered or committed', async () => {
    const s = setup({ onError: 'dlq', poisonTolerance: { kind: 'ratio', ratio: 0.5 } });
    await started(s);
    await s.source.deliver(garbage(0, 0, 400));
    const result = await stopAndAdvance(s, 6_000);
    assert.equal(result.state, 'failed');
    assert.match(result.error!.message, /poison breaker: 51 of the last 100 records of shop\.inventory\.customers\/0 were poison, most often invalid_json/);
    assert.deepEqual(s.deadLetter.sent, [], 'the tripping batch was dead-lettered');
    assert.equal(s.source.committed(TOPIC, 0), undefined);
  });

  it('poison below the tolerance is dead-lettered and committed past; with all it never trips', async () => {
    for (const poisonTolerance of [{ kind: 'ratio', ratio: 0.5 } as const, { kind: 'all' } as const]) {
      const s = setup({ onError: 'dlq', poisonTolerance });
      await started(s);
      const records = Array.from({ length: 200 }, (_, i) => record(TOPIC, 0, i, i % 3 === 0 || poisonTolerance.kind === 'all' ? 'not json' : create(i)));
      await s.source.deliver(new FakeBatch(TOPIC, 0, records));
      await advance(1_200);
      assert.equal(s.worker.state, 'running', poisonTolerance.kind);
      assert.equal(s.deadLetter.sent.length, poisonTolerance.kind === 'all' ? 200 : 67);
      assert.equal(s.source.committed(TOPIC, 0), '200');
      await stopAndAdvance(s, 100);
    }
  });

  it('an unexpected exception in decode becomes poison "internal" with its stack, not a consumer restart loop', async () => {
    const buggy = (r: Parameters<typeof decodeDebeziumJson>[0]) => {
      if (r.offset === '1') throw new TypeError('cannot read properties of undefined (reading "x")');
      return decodeDebeziumJson(r);
    };
    const s = setup({ onError: 'dlq', poisonTolerance: { kind: 'ratio', ratio: 0.5 } }, buggy);
    await started(s);
    await s.source.deliver(batch(0, 0, 3)); // resolves: nothing thrown back to the source
    assert.equal(s.deadLetter.sent.length, 1);
    assert.equal(s.deadLetter.sent[0]!.code, 'internal');
    assert.match(s.deadLetter.sent[0]!.stack ?? '', /TypeError: cannot read properties[\s\S]*\n\s+at /);
    assert.deepEqual(s.sink.unlinked(), ['customer:0', 'customer:2']);
    assert.ok(s.lines.some((l) => l['level'] === 50 && /treated as poison \(internal\)/.test(String(l['msg']))));
    await advance(1_200);
    assert.equal(s.source.committed(TOPIC, 0), '3');
    assert.equal(s.worker.state, 'running');
    await stopAndAdvance(s, 100);
  });
});

describe('shutdown failures are reported', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] }));
  afterEach(() => mock.timers.reset());

  it('a fatal Redis error during a drain makes the result a failure (exit 1)', async () => {
    const s = setup();
    await started(s);
    await s.source.deliver(batch(0, 0, 2));
    const stopping = s.worker.stop(5_000);
    s.sink.failWith = new SinkError('NOPERM this user has no permissions to run the unlink command', true);
    await advance(1_500);
    const result = await stopping;
    assert.equal(result.state, 'failed');
    assert.match(result.error!.message, /NOPERM/);
    assert.equal(s.source.committed(TOPIC, 0), undefined);
    assert.ok(s.lines.some((l) => l['msg'] === 'failure while draining: the worker will exit with a failure'));
  });

  it('a failed final commit is reported as a failure, not swallowed', async () => {
    const s = setup();
    await started(s);
    await s.source.deliver(batch(0, 0, 2));
    s.source.failCommits = 100;
    const result = await stopAndAdvance(s, 1_500);
    assert.equal(result.state, 'failed');
    assert.match(result.error!.message, /final commit failed/);
    assert.ok(s.lines.some((l) => /final commit failed/.test(String(l['msg'])) && l['level'] === 50));
  });
});

