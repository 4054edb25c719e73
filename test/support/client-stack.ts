import type { ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import type { Producer } from 'kafkajs';
import pg from 'pg';
import { changeEvent } from './debezium.js';
import { committedOffsets, endOffsets, uniqueName } from './kafka.js';
import { startPostgres, type PostgresServer } from './postgres.js';
import { stopProcess, waitFor } from './processes.js';
import { startKafka, type KafkaStack } from './stack/kafka.js';
import { mappingsDir, runArgs, spawnCli } from './worker.js';

/** One command Redis executed, as MONITOR reports it (time in µs on Redis' clock). */
export interface Executed {
  readonly atUs: number;
  readonly args: readonly string[];
}

/** Every command a Redis server executes, from MONITOR: to see the worker's deletes happen, in order. */
export interface MonitorLog {
  readonly commands: readonly Executed[];
  /** Resolves with the first `count` matching commands (from `since`, an index into commands), or rejects after timeoutMs. */
  waitFor(match: (args: readonly string[]) => boolean, opts: { count?: number; since?: number; timeoutMs?: number; what: string }): Promise<Executed[]>;
  stop(): void;
}

export async function startMonitor(port: number, host = '127.0.0.1'): Promise<MonitorLog> {
  const conn = new Redis({ port, host, retryStrategy: () => null, lazyConnect: true });
  conn.on('error', () => undefined);
  await conn.connect();
  const mon = await conn.monitor();
  mon.on('error', () => undefined);
  const commands: Executed[] = [];
  mon.on('monitor', (time: string, args: string[]) => {
    commands.push({ atUs: Math.round(Number(time) * 1e6), args });
  });
  return {
    commands,
    async waitFor(match, { count = 1, since = 0, timeoutMs = 30_000, what }) {
      let found: Executed[] = [];
      await waitFor(
        () => {
          found = commands.slice(since).filter((c) => match(c.args));
          return found.length >= count;
        },
        { timeoutMs, intervalMs: 5, message: () => `${what} (${found.length} of ${count} seen)` },
      );
      return found.slice(0, count);
    },
    stop() {
      mon.disconnect();
      conn.disconnect();
    },
  };
}

/** A command that deletes `key` (UNLINK with it among its arguments). */
export const unlinks = (key: string) => (args: readonly string[]): boolean => args[0]?.toLowerCase() === 'unlink' && args.includes(key);
/** The worker moving a tag set aside (RENAMENX tag …). */
export const purges = (tag: string) => (args: readonly string[]): boolean => args[0]?.toLowerCase() === 'renamenx' && args[1] === tag;
export const increments = (counter: string) => (args: readonly string[]): boolean => args[0]?.toLowerCase() === 'incr' && args[1] === counter;

/** The tables the client tests use, in Postgres, with the columns their mappings name. */
export const CLIENT_SCHEMA = `
CREATE SCHEMA inventory;
CREATE TABLE inventory.customers (id int PRIMARY KEY, email text NOT NULL, version int NOT NULL DEFAULT 1);
CREATE TABLE inventory.products (id int PRIMARY KEY, category_id int, name text NOT NULL, price numeric(10,2) NOT NULL);
CREATE TABLE inventory.orders (id bigint PRIMARY KEY, customer_id int NOT NULL, total numeric(10,2) NOT NULL);
ALTER TABLE inventory.customers REPLICA IDENTITY FULL;
ALTER TABLE inventory.products REPLICA IDENTITY FULL;
ALTER TABLE inventory.orders REPLICA IDENTITY FULL;
`;

export type Row = Record<string, unknown>;
export type Table = 'customers' | 'products' | 'orders';

/** Runs f in one transaction on a pooled connection: the change is committed before its event is published, as with Debezium. */
async function tx<T>(pool: pg.Pool, f: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    const out = await f(c);
    await c.query('COMMIT');
    return out;
  } catch (e) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    c.release();
  }
}

/**
 * The real worker (the CLI, a child process) on a real Kafka broker (KRaft, from the Maven jars) and a
 * Redis the caller started, with Postgres holding the rows. `change()` runs SQL and publishes the
 * Debezium-shaped events of the rows it changed — what Debezium would — to the table's topic.
 */
export interface WorkerStack {
  readonly kafka: KafkaStack;
  readonly postgres: PostgresServer;
  readonly db: pg.Pool;
  readonly mappings: string;
  readonly prefix: string;
  /** Updates one row (by id) in a transaction and publishes its change event (before and after, as REPLICA IDENTITY FULL gives). */
  update(table: Table, id: number, set: Readonly<Record<string, unknown>>): Promise<{ before: Row; after: Row }>;
  insert(table: Table, row: Readonly<Record<string, unknown>>): Promise<Row>;
  remove(table: Table, id: number): Promise<Row>;
  /** Resolves once the worker has committed every topic to its end: every change published so far had its first and second delete. */
  caughtUp(timeoutMs?: number): Promise<void>;
  /** The worker's output so far (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

export interface WorkerStackOptions {
  readonly mappingsYaml: string;
  /** `--redis` (a URL, or comma-separated seed URLs with redisCluster). */
  readonly redis: string;
  readonly redisCluster?: boolean;
  readonly secondDeleteDelay?: string;
  /** Inserted into Postgres after the schema. */
  readonly seedSql?: string;
  /** Waits until the worker deleted this key once (published by `warmUp` below) before returning. */
  readonly warmUp: (stack: WorkerStack) => Promise<void>;
}

export async function startWorkerStack(o: WorkerStackOptions): Promise<WorkerStack> {
  const [kafka, postgres] = await Promise.all([startKafka(), startPostgres()]);
  let producer: Producer | undefined;
  let worker: ChildProcess | undefined;
  let db: pg.Pool | undefined;
  let out = '';
  const stop = async (): Promise<void> => {
    if (worker) await stopProcess(worker, 'SIGTERM', 10_000);
    await producer?.disconnect().catch(() => undefined);
    await db?.end().catch(() => undefined);
    await Promise.all([kafka.stop(), postgres.stop()]);
  };
  try {
    await postgres.exec(CLIENT_SCHEMA + (o.seedSql ?? ''));
    db = new pg.Pool({ connectionString: postgres.url, max: 20 });
    // pg-pool's end() resolves before its idle connections have closed; Postgres stopping right after
    // terminates them, and an idle connection's error is emitted on the pool.
    db.on('error', () => undefined);
    const prefix = uniqueName('shop');
    const tables = ['customers', 'products', 'orders'] as const;
    const topic = (t: string): string => `${prefix}.inventory.${t}`;
    await kafka.createTopics(tables.map((t) => ({ topic: topic(t), numPartitions: 1 })));
    producer = kafka.kafka().producer({ allowAutoTopicCreation: false });
    await producer.connect();
    const mappings = await mappingsDir(o.mappingsYaml);
    const group = uniqueName('g');
    const args = runArgs({
      brokers: kafka.brokers,
      redis: o.redis,
      topic: tables.map(topic).join(','),
      group,
      mappings,
      extra: [...(o.secondDeleteDelay ? ['--second-delete-delay', o.secondDeleteDelay] : []), ...(o.redisCluster ? ['--redis-cluster'] : [])],
    });
    const child = spawnCli(args);
    worker = child;
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const pool = db;
    const p = producer;
    const publish = async (table: Table, op: 'c' | 'u' | 'd', before: Row | null, after: Row | null): Promise<void> => {
      const id = (after ?? before)!['id'];
      await p.send({
        topic: topic(table),
        messages: [{ key: JSON.stringify({ id }), value: JSON.stringify(changeEvent(op, { schema: 'inventory', table, before, after })) }],
      });
    };
    const stack: WorkerStack = {
      kafka,
      postgres,
      db: pool,
      mappings,
      prefix,
      async update(table, id, set) {
        const cols = Object.keys(set);
        const [before, after] = await tx(pool, async (c) => {
          const b = await c.query<Row>(`SELECT * FROM inventory.${table} WHERE id = $1 FOR UPDATE`, [id]);
          const a = await c.query<Row>(`UPDATE inventory.${table} SET ${cols.map((k, i) => `${k} = $${i + 2}`).join(', ')} WHERE id = $1 RETURNING *`, [id, ...cols.map((k) => set[k])]);
          if (!b.rows[0] || !a.rows[0]) throw new Error(`no ${table} row ${id}`);
          return [b.rows[0], a.rows[0]] as const;
        });
        await publish(table, 'u', before, after);
        return { before, after };
      },
      async insert(table, row) {
        const cols = Object.keys(row);
        const after = await tx(pool, async (c) => {
          const r = await c.query<Row>(`INSERT INTO inventory.${table} (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING *`, cols.map((k) => row[k]));
          return r.rows[0]!;
        });
        await publish(table, 'c', null, after);
        return after;
      },
      async remove(table, id) {
        const before = await tx(pool, async (c) => {
          const r = await c.query<Row>(`DELETE FROM inventory.${table} WHERE id = $1 RETURNING *`, [id]);
          if (!r.rows[0]) throw new Error(`no ${table} row ${id}`);
          return r.rows[0];
        });
        await publish(table, 'd', before, null);
        return before;
      },
      async caughtUp(timeoutMs = 30_000) {
        const admin = kafka.kafka();
        await waitFor(
          async () => {
            for (const t of tables) {
              const [end, committed] = await Promise.all([endOffsets(admin, topic(t)), committedOffsets(admin, group, topic(t))]);
              for (const [partition, high] of end) if (high > 0n && committed.get(partition) !== high) return false;
            }
            return true;
          },
          { timeoutMs, intervalMs: 100, message: () => `the worker committing to the end of its topics\n${out.slice(-2_000)}` },
        );
      },
      output: () => out,
      stop,
    };
    await o.warmUp(stack);
    return stack;
  } catch (e) {
    await stop();
    throw new Error(`the worker stack did not start: ${(e as Error).message}\nworker output:\n${out.slice(-4_000)}`, { cause: e });
  }
}
