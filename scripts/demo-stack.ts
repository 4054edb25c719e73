/**
 * The real pipeline on this machine, no Docker: Postgres 15 (logical WAL, docker/postgres/init.sql),
 * Kafka (KRaft) and Kafka Connect with the Debezium Postgres connector registered by
 * debezium/register.sh, Redis, and the worker CLI on mappings/inventory.yaml. It caches a few rows
 * the way an application would, runs SQL (an email change, a delete), and prints which keys went and
 * how many milliseconds after the COMMIT returned. Everything is stopped at the end.
 */
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { waitFor } from '../test/support/processes.js';
import { repoRoot } from '../test/support/paths.js';
import { startCdcStack, type CdcStack } from '../test/support/stack/cdc-stack.js';
import { WorkerProcess } from '../test/support/worker-process.js';

const say = (s: string): void => console.log(s);

/** Times (ms after `since`) at which Redis reported each key deleted (keyspace notifications). */
class DeleteClock {
  readonly #seen = new Map<string, number[]>();
  #since = performance.now();

  constructor(private readonly sub: Redis) {
    sub.on('message', (_channel: string, key: string) => {
      const list = this.#seen.get(key) ?? [];
      list.push(performance.now() - this.#since);
      this.#seen.set(key, list);
    });
  }

  static async start(url: string): Promise<DeleteClock> {
    const admin = new Redis(url);
    await admin.config('SET', 'notify-keyspace-events', 'Eg'); // generic commands (DEL/UNLINK) as keyevents
    admin.disconnect();
    const sub = new Redis(url);
    const clock = new DeleteClock(sub);
    await sub.subscribe('__keyevent@0__:del');
    return clock;
  }

  /** From now on, times count from here (the moment a COMMIT returned). */
  reset(): void {
    this.#since = performance.now();
    this.#seen.clear();
  }

  /** ms since the last reset(). */
  elapsed(): number {
    return performance.now() - this.#since;
  }

  times(key: string): number[] {
    return this.#seen.get(key) ?? [];
  }

  stop(): void {
    this.sub.disconnect();
  }
}

export async function demoStack(): Promise<number> {
  say('starting Postgres 15, Kafka, Kafka Connect with Debezium, and Redis on 127.0.0.1 (first run: the jars are fetched with Maven)…');
  let stack: CdcStack | undefined;
  let worker: WorkerProcess | undefined;
  let clock: DeleteClock | undefined;
  let redis: Redis | undefined;
  const mappings = await mkdtemp(join(tmpdir(), 'cdci-demo-'));
  try {
    const t0 = performance.now();
    stack = await startCdcStack({ topicPrefix: 'shop' });
    const s = stack.timings;
    say(
      `up in ${((performance.now() - t0) / 1000).toFixed(1)} s — postgres ${s.postgres} ms, kafka ${s.kafka} ms, redis ${s.redis} ms, ` +
        `kafka connect ${s.connect} ms, connector RUNNING ${s.connector} ms after registration (debezium/register.sh)`,
    );
    await copyFile(join(repoRoot(), 'mappings', 'inventory.yaml'), join(mappings, 'inventory.yaml'));
    const admin = stack.kafka.kafka().admin();
    await admin.connect();
    const topics = ['customers', 'products', 'orders'].map((t) => stack!.topic(`inventory.${t}`));
    await waitFor(async () => (await admin.listTopics()).filter((t) => topics.includes(t)).length === topics.length, {
      timeoutMs: 60_000,
      intervalMs: 250,
      message: "the connector's snapshot",
    });
    await admin.disconnect();

    worker = new WorkerProcess({
      CDC_INVALIDATOR_BROKERS: stack.kafka.brokers.join(','),
      CDC_INVALIDATOR_GROUP: 'cdc-invalidator-demo',
      CDC_INVALIDATOR_TOPIC_PREFIX: stack.topicPrefix,
      CDC_INVALIDATOR_REDIS: stack.redisServer.url,
      CDC_INVALIDATOR_MAPPINGS: mappings,
      // a throwaway one-node cluster: the worker creates its dead-letter topic
      CDC_INVALIDATOR_DLQ_CREATE_PARTITIONS: '1',
      CDC_INVALIDATOR_DLQ_CREATE_REPLICATION: '1',
      CDC_INVALIDATOR_LOG_LEVEL: 'warn',
    });
    await worker.start();
    say(`the worker runs (mappings/inventory.yaml, --topic-prefix ${stack.topicPrefix}, second delete after 1 s)\n`);

    redis = new Redis(stack.redisServer.url);
    clock = await DeleteClock.start(stack.redisServer.url);
    // Cache-aside, as the application would: read the rows, store them under the mapped keys.
    const rows = await stack.sql<{ id: number; email: string; first_name: string }>('SELECT id, email, first_name FROM inventory.customers WHERE id IN (1001, 1002) ORDER BY id');
    const orders = await stack.sql<{ id: string; customer_id: number }>('SELECT id::text, customer_id FROM inventory.orders WHERE customer_id = 1002');
    const cached: string[] = [];
    for (const r of rows) {
      for (const k of [`customer:${r.id}`, `customer:email:${r.email.toLowerCase()}`]) {
        await redis.set(k, JSON.stringify(r));
        cached.push(k);
      }
    }
    for (const o of orders) {
      for (const k of [`order:${o.id}`, `customer:${o.customer_id}:orders`]) {
        await redis.set(k, JSON.stringify(o));
        cached.push(k);
      }
    }
    // A lookup by the new address before the change cached "no such customer" (negative caching).
    await redis.set('customer:email:ada.lovelace@example.com', JSON.stringify({ notFound: true }));
    cached.push('customer:email:ada.lovelace@example.com');
    say(`cached ${cached.length} keys: ${cached.join(', ')}`);

    const statements: { sql: string; keys: string[] }[] = [
      {
        sql: "UPDATE inventory.customers SET email = 'Ada.Lovelace@Example.com' WHERE id = 1001",
        keys: ['customer:1001', 'customer:email:ada@example.com', 'customer:email:ada.lovelace@example.com'],
      },
      { sql: `DELETE FROM inventory.orders WHERE id = ${orders[0]!.id}`, keys: [`order:${orders[0]!.id}`, 'customer:1002:orders'] },
    ];
    for (const st of statements) {
      await stack.sql(st.sql);
      clock.reset();
      say(`\n> ${st.sql}   (COMMIT returned at t = 0)`);
      // A slow reader that loaded the old row before the change writes it back right after the first delete…
      const raced = st.keys[0]!;
      await waitFor(() => clock!.times(raced).length >= 1, { timeoutMs: 30_000, intervalMs: 1, message: 'the first delete' });
      await redis.set(raced, 'stale: written back by a slow reader');
      const wroteBackAt = clock.elapsed();
      await waitFor(() => st.keys.every((k) => clock!.times(k).length >= (k === raced ? 2 : 1)), { timeoutMs: 30_000, intervalMs: 5, message: 'every delete' });
      for (const k of st.keys) say(`  ${k.padEnd(42)} deleted ${Math.round(clock.times(k)[0]!)} ms after the commit`);
      const [first, second] = clock.times(raced);
      say(`  …a slow reader wrote ${raced} back at ${Math.round(wroteBackAt)} ms (after the first delete, at ${Math.round(first!)} ms); the second delete removed it again at ${Math.round(second!)} ms`);
    }
    const kept = (await Promise.all(['customer:1002', 'customer:email:grace.hopper@example.com'].map(async (k) => ((await redis!.exists(k)) ? k : undefined)))).filter(Boolean);
    say(`\nuntouched rows keep their keys: ${kept.join(', ')}`);
    const lag = await worker.metric('cdc_invalidator_invalidation_lag_seconds_sum');
    const count = await worker.metric('cdc_invalidator_invalidation_lag_seconds_count');
    if (count > 0) say(`worker metric: invalidation lag (commit in Postgres → first delete acknowledged) mean ${Math.round((lag / count) * 1000)} ms over ${count} events`);
    const code = await worker.stop();
    worker = undefined;
    say(`the worker drained and exited ${code}; stopping everything…`);
    return code === 0 ? 0 : 1;
  } finally {
    clock?.stop();
    redis?.disconnect();
    await worker?.stop().catch(() => undefined);
    await stack?.stop();
    await rm(mappings, { recursive: true, force: true });
  }
}
