import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Kafka } from 'kafkajs';
import { customerCreate } from '../support/debezium.js';
import { startKafkaBroker, type KafkaBroker } from '../support/kafka-broker.js';
import { committedOffsets, endOffsets, makeKafka, produce, uniqueName } from '../support/kafka.js';
import { freePort } from '../support/ports.js';
import { stopProcess, waitFor, withTimeout } from '../support/processes.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';
import { exitOf, mappingsDir, spawnCli } from '../support/worker.js';

let broker: KafkaBroker;
let redisServer: RedisServer;
let kafka: Kafka;

before(async () => {
  [broker, redisServer] = await Promise.all([startKafkaBroker(), startRedis()]);
  kafka = makeKafka(broker.brokers);
});
after(async () => {
  await redisServer?.cleanup();
  await broker?.stop();
});

async function get(port: number, path: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, text: await res.text() };
}

/** The value of one sample line of a Prometheus text exposition. */
function sample(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line ? Number(line.split(' ')[1]) : NaN;
}

describe('health and metrics', { timeout: 120_000 }, () => {
  it('serves /livez, /readyz (503 while paused on Redis) and /metrics that match the events sent', async () => {
    const topic = `${uniqueName('shop')}.inventory.customers`;
    const group = uniqueName('g');
    const port = await freePort();
    await produce(kafka, topic, Array.from({ length: 30 }, (_, i) => ({ key: { id: i }, value: customerCreate(i, `${i}@x`) })));
    const child = spawnCli([
      'run', '--brokers', broker.brokers.join(','), '--redis', redisServer.url, '--topics', topic, '--group', group,
      '--mappings', await mappingsDir(), '--from-beginning', '--second-delete-delay', '100ms', '--session-timeout', '6s',
      '--heartbeat-interval', '500ms', '--rebalance-timeout', '6s', '--health-port', String(port), '--redis-timeout', '500ms', '--log-level', 'warn',
    ]);
    child.stdout!.resume();
    child.stderr!.resume();
    try {
      await waitFor(async () => (await get(port, '/livez').catch(() => ({ status: 0 }))).status === 200, { timeoutMs: 15_000, message: '/livez' });
      await waitFor(async () => (await get(port, '/readyz')).status === 200, { timeoutMs: 30_000, message: '/readyz 200' });
      const end = await endOffsets(kafka, topic);
      await waitFor(async () => {
        const c = await committedOffsets(kafka, group, topic);
        return [...end].every(([p, high]) => high === 0n || c.get(p) === high);
      }, { timeoutMs: 30_000, message: 'committed' });

      const { status, text } = await get(port, '/metrics');
      assert.equal(status, 200);
      assert.equal(sample(text, 'cdc_invalidator_events_total', 'table="inventory.customers",op="c"'), 30);
      assert.equal(sample(text, 'cdc_invalidator_invalidations_total', 'kind="key",pass="first"'), 60);
      assert.equal(sample(text, 'cdc_invalidator_invalidations_total', 'kind="key",pass="second"'), 60);
      assert.ok(sample(text, 'cdc_invalidator_invalidation_lag_seconds_count') >= 30, 'invalidation lag observed per event');
      assert.ok(sample(text, 'cdc_invalidator_commits_total') >= 1);
      assert.match(text, /cdc_invalidator_process_resident_memory_bytes \d+/);
      assert.doesNotMatch(text, /customer:/, 'no key names in metrics');

      // A Redis outage: the worker pauses on it and is not ready meanwhile.
      await redisServer.stop();
      await produce(kafka, topic, [{ key: { id: 99 }, value: customerCreate(99, '99@x') }]);
      await waitFor(async () => (await get(port, '/readyz')).status === 503, { timeoutMs: 20_000, message: '/readyz 503 during the outage' });
      const paused = await get(port, '/readyz');
      assert.match(paused.text, /"notReady":\[[^\]]*"redis"/);
      assert.equal(sample((await get(port, '/metrics')).text, 'cdc_invalidator_paused'), 1);
      await redisServer.restart();
      await waitFor(async () => (await get(port, '/readyz')).status === 200, { timeoutMs: 20_000, message: '/readyz 200 after the outage' });
      child.kill('SIGTERM');
      assert.equal(await withTimeout(exitOf(child), 20_000, 'exit on SIGTERM'), 0);
    } finally {
      await stopProcess(child, 'SIGKILL');
    }
  });
});
