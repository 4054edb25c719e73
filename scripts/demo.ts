/**
 * The no-Docker quick start: a throwaway redis-server and Kafka-protocol broker, the worker on
 * ./mappings, a few Debezium change events, and what was invalidated. Everything is stopped at the end.
 */
import { execFileSync } from 'node:child_process';
import pino from 'pino';
import { resolveRunConfig } from '../src/config/run-config.js';
import { loadMappings } from '../src/mapping/load.js';
import { composeWorker } from '../src/runtime/compose.js';
import { Stats } from '../src/telemetry/stats.js';
import { changeEvent } from '../test/support/debezium.js';
import { startKafkaBroker } from '../test/support/kafka-broker.js';
import { committedOffsets, endOffsets, makeKafka, produce } from '../test/support/kafka.js';
import { waitFor } from '../test/support/processes.js';
import { startRedis } from '../test/support/redis-server.js';

const say = (s: string) => console.log(s);

if (process.argv.includes('--stack')) {
  // The real pipeline: the JDK, Maven and the jars first (scripts/setup.sh installs what is missing).
  execFileSync('bash', ['scripts/setup.sh'], { stdio: 'inherit' });
  const { demoStack } = await import('./demo-stack.js');
  let code = 1;
  try {
    code = await demoStack();
  } catch (e) {
    console.error(`demo failed: ${(e as Error).message}`);
  }
  process.exit(code);
}

const broker = await startKafkaBroker();
const redisServer = await startRedis();
const redis = redisServer.client();
const kafka = makeKafka(broker.brokers);
say(`redis-server on ${redisServer.url}; Kafka mock cluster on ${broker.brokers.join(',')}`);

let exitCode = 0;
try {
  const loaded = await loadMappings('mappings');
  if (!loaded.set) throw new Error(`mappings/ is invalid: ${loaded.problems.map((p) => p.message).join('; ')}`);
  say(`mappings: ${loaded.set.mappings.map((m) => `${m.name} (${m.table.source})`).join(', ')}`);

  const cached = [
    'customer:1001', 'customer:email:ann@example.com', 'customer:email:ann.new@example.com',
    'customer:1002', 'customer:email:bob@example.com',
    'product:7', 'product:sku:MUG-1',
    'order:5001', 'customer:1001:orders',
    'customer:9999', 'session:abc',
  ];
  for (const k of cached) await redis.set(k, 'cached value');
  say(`\ncache before: ${cached.length} keys`);

  const events = [
    { topic: 'shop.inventory.customers', key: { id: 1001 }, value: changeEvent('u', { before: { id: 1001, email: 'Ann@example.com' }, after: { id: 1001, email: 'Ann.New@example.com' } }) },
    { topic: 'shop.inventory.customers', key: { id: 1002 }, value: changeEvent('d', { before: { id: 1002, email: 'bob@example.com' } }) },
    { topic: 'shop.inventory.customers', key: { id: 1002 }, value: null },
    { topic: 'shop.inventory.products', key: { id: 7 }, value: changeEvent('u', { table: 'products', before: { id: 7, sku: 'MUG-1', price: 'AfQ=' }, after: { id: 7, sku: 'MUG-1', price: 'Afs=' } }) },
    { topic: 'shop.inventory.orders', key: { id: 5001 }, value: changeEvent('c', { table: 'orders', after: { id: 5001, customer_id: 1001, total: 'AeI6' } }) },
  ];
  for (const e of events) await produce(kafka, e.topic, [{ key: e.key, value: e.value }]);
  say(`published ${events.length} change events (update with email change, delete + tombstone, product update, order create)`);

  const config = resolveRunConfig({
    brokers: broker.brokers.join(','), redis: redisServer.url, topicPrefix: 'shop', mappings: 'mappings', group: 'demo',
    fromBeginning: true, secondDeleteDelay: '1s', sessionTimeout: '6s', heartbeatInterval: '500ms', rebalanceTimeout: '6s', logLevel: 'warn',
  }, {});
  const stats = new Stats();
  const worker = composeWorker(config, loaded.set, pino({ level: 'warn' }), stats);
  say('\nstarting the worker (joining the consumer group takes a few seconds)…');
  await worker.start();

  await waitFor(async () => (await redis.exists('customer:1001')) === 0, { timeoutMs: 30_000, intervalMs: 5, message: 'first delete' });
  await redis.set('customer:1001', 'stale value written back by a slow reader');
  say('first delete done; a slow reader wrote customer:1001 back right after it…');
  await waitFor(async () => (await redis.exists('customer:1001')) === 0, { timeoutMs: 10_000, intervalMs: 10, message: 'second delete' });
  say('…and the second delete, 1 s later, removed it again.');

  const topics = ['shop.inventory.customers', 'shop.inventory.products', 'shop.inventory.orders'];
  await waitFor(async () => {
    for (const t of topics) {
      const [c, e] = await Promise.all([committedOffsets(kafka, 'demo', t), endOffsets(kafka, t)]);
      for (const [p, high] of e) if (high > 0n && c.get(p) !== high) return false;
    }
    return true;
  }, { timeoutMs: 30_000, intervalMs: 100, message: 'offsets committed' });
  say('offsets committed after Redis acknowledged both deletes.\n');

  say('key                                   after');
  for (const k of cached) say(`${k.padEnd(38)}${(await redis.exists(k)) ? 'kept' : 'invalidated'}`);
  say(`\nevents ${stats.get('events')}, skipped records ${stats.get('skipped_records')}, keys deleted ${stats.get('invalidated', { kind: 'key', pass: 'first' })} (+ ${stats.get('invalidated', { pass: 'second' })} in the second pass)`);
  await worker.stop(5_000);
} catch (e) {
  console.error(`demo failed: ${(e as Error).message}`);
  exitCode = 1;
} finally {
  await redisServer.cleanup();
  await broker.stop();
}
process.exit(exitCode);
