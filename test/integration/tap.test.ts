import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Kafka } from 'kafkajs';
import { customerCreate } from '../support/debezium.js';
import { startKafkaBroker, type KafkaBroker } from '../support/kafka-broker.js';
import { makeKafka, produce, uniqueName } from '../support/kafka.js';
import { stopProcess, waitFor, withTimeout } from '../support/processes.js';
import { exitOf, mappingsDir, spawnCli } from '../support/worker.js';

let broker: KafkaBroker;
let kafka: Kafka;
before(async () => {
  broker = await startKafkaBroker();
  kafka = makeKafka(broker.brokers);
});
after(async () => broker?.stop());

describe('tap', { timeout: 60_000 }, () => {
  it('prints what the newest events would invalidate, then stops at --limit', async () => {
    const topic = `${uniqueName('shop')}.inventory.customers`;
    await produce(kafka, topic, [{ key: { id: 1 }, value: customerCreate(1, 'old@x') }]); // before the tap: not shown
    const child = spawnCli(['tap', '--brokers', broker.brokers.join(','), '--topics', topic, '--mappings', await mappingsDir(), '--limit', '2', '--session-timeout', '6s', '--heartbeat-interval', '500ms', '--rebalance-timeout', '6s']);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.resume();
    try {
      let id = 100;
      await waitFor(
        async () => {
          await produce(kafka, topic, [{ key: { id }, value: customerCreate(id, `${id}@x`) }]);
          id++;
          return out.split('\n').filter(Boolean).length >= 2;
        },
        { timeoutMs: 40_000, intervalMs: 500, message: 'two tapped events' },
      );
      assert.equal(await withTimeout(exitOf(child), 15_000, 'tap exits after --limit'), 0);
      const lines = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { table: string; op: string; keys: string[] });
      assert.equal(lines.length, 2);
      for (const l of lines) {
        assert.equal(l.table, 'inventory.customers');
        assert.equal(l.op, 'c');
        assert.match(l.keys[0]!, /^customer:1\d\d$/);
        assert.ok(!l.keys.includes('customer:1'), 'records from before the tap are not shown');
      }
    } finally {
      await stopProcess(child, 'SIGKILL');
    }
  });
});
