import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { Registry } from 'prom-client';
import { parseMappingFile } from '../../../src/mapping/parse.js';
import { MappingSet } from '../../../src/mapping/mapping-set.js';
import { decodeDebeziumJson } from '../../../src/pipeline/decode/debezium-json.js';
import { SinkError } from '../../../src/pipeline/sink/sink.js';
import { Worker } from '../../../src/pipeline/worker.js';
import { Stats } from '../../../src/telemetry/stats.js';
import { FakeBatch, FakeSink, FakeSource, memoryLogger, record } from '../../support/fakes.js';

const TOPIC = 'shop.inventory.customers';
const MAPPINGS = new MappingSet(
  parseMappingFile('m.yaml', 'mappings:\n  - name: customers\n    table: inventory.customers\n    keys: ["customer:{id}"]\n  - name: slow\n    table: inventory.orders\n    keys: ["order:{id}"]\n    second_delete_delay: 3s\n').mappings,
);
const create = (id: number, table = 'customers') => ({ op: 'c', before: null, after: { id }, source: { schema: 'inventory', table } });

async function flush(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}
async function advance(ms: number, step = 10): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    mock.timers.tick(Math.min(step, ms - t));
    await flush(3);
  }
}

async function gaugeText(registry: Registry): Promise<number> {
  const text = await registry.getSingleMetricAsString('cdc_invalidator_second_delete_hold_seconds');
  return Number(/^cdc_invalidator_second_delete_hold_seconds (\S+)$/m.exec(text)![1]);
}

describe('the second-delete hold gauge: how long commits are held back by pending second deletes', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] }));
  afterEach(() => mock.timers.reset());

  it('grows from the first delete until the second is acknowledged, through a Redis outage, and is 0 when nothing is pending', async () => {
    const registry = new Registry();
    const source = new FakeSource();
    const sink = new FakeSink();
    const worker = new Worker(
      { secondDeleteDelayMs: 1_000, commitIntervalMs: 50, maxPendingSecondDeletes: 1_000, backoff: { initialMs: 100, maxMs: 400, jitter: 0 }, onError: 'skip', maxRecordBytes: 1_000_000, progressIntervalMs: 0 },
      { source, sink, mappings: MAPPINGS, decode: decodeDebeziumJson, logger: memoryLogger().logger, stats: new Stats(registry) },
    );
    const starting = worker.start();
    await flush();
    await starting;
    source.assign(TOPIC, [0]);
    assert.equal(await gaugeText(registry), 0);
    await source.deliver(new FakeBatch(TOPIC, 0, [record(TOPIC, 0, 0, create(1))]));
    await advance(600);
    assert.ok(Math.abs((await gaugeText(registry)) - 0.6) < 0.06, String(await gaugeText(registry)));
    // The second pass meets a Redis outage: the hold keeps growing past the delay, nothing is committed.
    sink.failWith = new SinkError('connect ECONNREFUSED', false);
    await advance(4_000);
    assert.ok((await gaugeText(registry)) >= 4.5, String(await gaugeText(registry)));
    assert.equal(worker.health().secondDeleteHoldMs >= 4_500, true);
    assert.equal(source.committed(TOPIC, 0), undefined);
    sink.failWith = undefined;
    await advance(600);
    assert.equal(source.committed(TOPIC, 0), '1');
    assert.equal(await gaugeText(registry), 0);
    // A mapping with its own, longer delay: the oldest of all pending second deletes counts.
    await source.deliver(new FakeBatch(TOPIC, 0, [record(TOPIC, 0, 1, create(2, 'orders'))]));
    await advance(500);
    await source.deliver(new FakeBatch(TOPIC, 0, [record(TOPIC, 0, 2, create(3))]));
    await advance(1_500);
    assert.ok(Math.abs((await gaugeText(registry)) - 2.0) < 0.06, String(await gaugeText(registry)));
    const stopping = worker.stop(5_000);
    await advance(2_000);
    await stopping;
    assert.equal(await gaugeText(registry), 0);
  });
});
