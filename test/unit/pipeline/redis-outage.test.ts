import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { parseMappingFile } from '../../../src/mapping/parse.js';
import { MappingSet } from '../../../src/mapping/mapping-set.js';
import { decodeDebeziumJson } from '../../../src/pipeline/decode/debezium-json.js';
import { OutageLog } from '../../../src/pipeline/control/outage.js';
import { DecoderUnavailableError } from '../../../src/pipeline/decode/errors.js';
import { SinkError } from '../../../src/pipeline/sink/sink.js';
import { Worker } from '../../../src/pipeline/worker.js';
import { Stats } from '../../../src/telemetry/stats.js';
import { FakeBatch, FakeSink, FakeSource, memoryLogger, record } from '../../support/fakes.js';

const TOPIC = 'shop.inventory.customers';
const MAPPINGS = new MappingSet(parseMappingFile('m.yaml', 'mappings:\n  - name: customers\n    table: inventory.customers\n    keys: ["customer:{id}"]\n').mappings);
const create = (id: number) => ({ op: 'c', before: null, after: { id }, source: { schema: 'inventory', table: 'customers' } });

async function flush(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

async function advance(ms: number, step = 50): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    mock.timers.tick(Math.min(step, ms - t));
    await flush(3);
  }
}

describe('a Redis outage is logged while it lasts', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] }));
  afterEach(() => mock.timers.reset());

  it('every 5 s one line says for how long Redis has been unreachable and what waits; one line when it is back', async () => {
    const source = new FakeSource();
    const sink = new FakeSink();
    const { logger, lines } = memoryLogger();
    // The production backoff: capped at 5 s, so the retry loop itself logs its attempts 0, 10, 20… — 40 s apart.
    const worker = new Worker(
      { secondDeleteDelayMs: 1_000, commitIntervalMs: 50, maxPendingSecondDeletes: 1_000, backoff: { initialMs: 100, maxMs: 5_000, jitter: 0 }, onError: 'skip', maxRecordBytes: 1_000_000, progressIntervalMs: 0 },
      { source, sink, mappings: MAPPINGS, decode: decodeDebeziumJson, logger, stats: new Stats() },
    );
    const starting = worker.start();
    await flush();
    await starting;
    source.assign(TOPIC, [0, 1]);
    sink.failWith = new SinkError('connect ECONNREFUSED 127.0.0.1:6379', false);
    const deliveries = [0, 1].map((p) => source.deliver(new FakeBatch(TOPIC, p, [record(TOPIC, p, 0, create(p))])));
    await advance(31_000);
    const ongoing = lines.filter((l) => l['service'] === 'redis' && l['level'] === 40);
    // Before: the first retry's warning, then nothing until attempt 10 (~36 s in).
    assert.ok(ongoing.length >= 6, `${ongoing.length} outage lines in 31 s`);
    const last = ongoing[ongoing.length - 1]!;
    assert.match(String(last['msg']), /^redis unavailable for 30 s: 2 call\(s\) waiting/);
    assert.equal(last['downForMs'], 30_000);
    assert.equal(last['waiting'], 2);
    assert.deepEqual((last['calls'] as { what: string; partition: string }[]).map((c) => [c.what, c.partition]).sort(), [['first delete', `${TOPIC}/0`], ['first delete', `${TOPIC}/1`]]);
    assert.deepEqual(last['lastError'], { type: 'SinkError', message: 'connect ECONNREFUSED 127.0.0.1:6379' });
    assert.ok(Number(last['retries']) >= 1);
    const downForMs = ongoing.map((l) => Number(l['downForMs']));
    assert.deepEqual(downForMs, [...downForMs].sort((a, b) => a - b), 'the outage only grows');
    sink.failWith = undefined;
    await advance(6_000);
    await Promise.all(deliveries);
    const back = lines.filter((l) => l['msg'] === 'redis available again');
    assert.equal(back.length, 1);
    assert.ok(Number(back[0]!['downForMs']) >= 30_000);
    const after = lines.filter((l) => l['service'] === 'redis' && l['level'] === 40).length;
    await advance(11_000);
    assert.equal(lines.filter((l) => l['service'] === 'redis' && l['level'] === 40).length, after, 'nothing more once Redis is back');
    const stopping = worker.stop(2_000);
    await advance(2_500);
    await stopping;
  });

  it('a Schema Registry outage is logged the same way: every 5 s, with the partition that waits', async () => {
    const source = new FakeSource();
    const { logger, lines } = memoryLogger();
    let registryUp = false;
    const decode = async (r: Parameters<typeof decodeDebeziumJson>[0]) => {
      if (!registryUp) throw new DecoderUnavailableError('schema registry http://r:8081: schema 7: connect ECONNREFUSED');
      return decodeDebeziumJson(r);
    };
    const worker = new Worker(
      { secondDeleteDelayMs: 0, commitIntervalMs: 50, maxPendingSecondDeletes: 1_000, backoff: { initialMs: 100, maxMs: 5_000, jitter: 0 }, onError: 'skip', maxRecordBytes: 1_000_000, progressIntervalMs: 0 },
      { source, sink: new FakeSink(), mappings: MAPPINGS, decode, logger, stats: new Stats() },
    );
    const starting = worker.start();
    await flush();
    await starting;
    source.assign(TOPIC, [3]);
    const delivering = source.deliver(new FakeBatch(TOPIC, 3, [record(TOPIC, 3, 0, create(1))]));
    await advance(21_000);
    const ongoing = lines.filter((l) => l['service'] === 'schema registry' && l['level'] === 40);
    assert.ok(ongoing.length >= 4, `${ongoing.length} lines`);
    assert.deepEqual((ongoing[ongoing.length - 1]!['calls'] as { partition: string }[]).map((c) => c.partition), [`${TOPIC}/3`]);
    registryUp = true;
    await advance(6_000);
    await delivering;
    assert.equal(lines.filter((l) => l['msg'] === 'schema registry available again').length, 1);
    const stopping = worker.stop(1_000);
    await advance(1_500);
    await stopping;
  });

  it('OutageLog: one line per interval however many calls wait, and a new outage starts its own clock', () => {
    const { logger, lines } = memoryLogger();
    let now = 0;
    const log = new OutageLog(logger, { service: 'redis', intervalMs: 5_000, now: () => now });
    const ends = Array.from({ length: 50 }, (_, i) => log.begin({ what: 'first delete', partition: `t/${i}` }));
    for (let t = 0; t < 12_000; t += 100) {
      now += 100;
      mock.timers.tick(100);
    }
    const warn = lines.filter((l) => l['level'] === 40);
    assert.equal(warn.length, 2);
    assert.equal(warn[1]!['waiting'], 50);
    assert.equal((warn[1]!['calls'] as unknown[]).length, 10, 'at most 10 calls listed');
    for (const end of ends) end();
    assert.equal(log.downForMs, 0);
    assert.equal(lines.filter((l) => l['msg'] === 'redis available again').length, 1);
    const end = log.begin({ what: 'second delete' });
    now += 5_000;
    mock.timers.tick(5_000);
    assert.equal(lines[lines.length - 1]!['downForMs'], 5_000);
    end();
  });
});
