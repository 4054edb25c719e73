import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { repoRoot } from '../paths.js';
import { startPostgres, type PostgresServer } from '../postgres.js';
import { startRedis, type RedisServer } from '../redis-server.js';
import { startConnect, type ConnectWorker } from './connect.js';
import { startKafka, type KafkaStack, type KafkaStackOptions } from './kafka.js';

/** The demo database's name and Debezium's topic prefix in the stack. */
export const STACK_DB = 'shop';

export interface CdcStackOptions {
  readonly kafka?: KafkaStackOptions;
  /** Start Kafka Connect and register the connector (default true). */
  readonly connect?: boolean;
  /** Settings merged into debezium/<connectorFile> (default postgres-connector.json) before it is registered. */
  readonly connector?: Readonly<Record<string, string>>;
  readonly connectorFile?: string;
  /** Topic prefix of the connector (default a fresh one per stack). */
  readonly topicPrefix?: string;
  /** SQL run in the database after docker/postgres/init.sql, before the connector starts. */
  readonly initSql?: string;
}

/** Timings of the start-up, in ms, per component (for the notes and the demo). */
export interface StackTimings {
  readonly postgres: number;
  readonly kafka: number;
  readonly redis: number;
  readonly connect: number;
  readonly connector: number;
}

export interface CdcStack {
  readonly kafka: KafkaStack;
  readonly postgres: PostgresServer;
  readonly redisServer: RedisServer;
  readonly connect?: ConnectWorker;
  readonly topicPrefix: string;
  readonly connectorName: string;
  readonly timings: StackTimings;
  /** The Debezium topic of a table: `<prefix>.<schema>.<table>`. */
  topic(table: string): string;
  /** Runs SQL in the demo database; returns the rows. */
  sql<R extends Record<string, unknown> = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<R[]>;
  /** The connector's config as registered (the project's JSON with the stack's overrides). */
  connectorOverrides(): Record<string, string>;
  /** Registers the connector again with more overrides (e.g. another converter setting). */
  register(extra?: Readonly<Record<string, string>>): Promise<void>;
  /**
   * Registers one more connector on the same database: its own topic prefix, replication slot and
   * publication, the project's debezium/<file> with `overrides`. Resolves once it is RUNNING.
   */
  addConnector(o: { readonly prefix: string; readonly file?: string; readonly overrides?: Readonly<Record<string, string>> }): Promise<string>;
  stop(): Promise<void>;
}

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const v = await f();
  return [v, Math.round(performance.now() - t0)];
}

/**
 * Postgres 15 (wal_level=logical, the demo schema of docker/postgres/init.sql in database `shop`),
 * Kafka (KRaft), Redis and — unless `connect: false` — Kafka Connect with the Debezium Postgres
 * connector registered through debezium/register.sh. Everything on 127.0.0.1, random ports, temp
 * dirs; stop() ends all of it (and a dead test process takes it down too: stack/guard.sh).
 */
export async function startCdcStack(opts: CdcStackOptions = {}): Promise<CdcStack> {
  const prefix = opts.topicPrefix ?? `shop${Math.random().toString(36).slice(2, 7)}`;
  const started: { stop(): Promise<void> }[] = [];
  try {
    // Each server is tracked as soon as it is up: when another fails to start, those are stopped too
    // (else they outlive the failed start, and keep the test process alive).
    const track = async <T>(start: () => Promise<T>, stop: (v: T) => Promise<void>): Promise<[T, number]> => {
      const r = await timed(start);
      started.push({ stop: () => stop(r[0]) });
      return r;
    };
    const servers = await Promise.allSettled([
      track(() => startPostgres({ logical: true }), (p) => p.stop()),
      track(() => startKafka(opts.kafka), (k) => k.stop()),
      track(() => startRedis(), (r) => r.cleanup()),
    ] as const);
    const failed = servers.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const [[postgres, pgMs], [kafka, kafkaMs], [redisServer, redisMs]] = servers.map((r) => (r as PromiseFulfilledResult<unknown>).value) as [
      [Awaited<ReturnType<typeof startPostgres>>, number],
      [Awaited<ReturnType<typeof startKafka>>, number],
      [Awaited<ReturnType<typeof startRedis>>, number],
    ];
    await postgres.exec(`CREATE DATABASE ${STACK_DB}`);
    await postgres.exec(readFileSync(join(repoRoot(), 'docker', 'postgres', 'init.sql'), 'utf8'), STACK_DB);
    if (opts.initSql) await postgres.exec(opts.initSql, STACK_DB);

    const database = { 'database.hostname': '127.0.0.1', 'database.port': String(postgres.port), 'database.dbname': STACK_DB };
    const perPrefix = (p: string): Record<string, string> => ({ 'topic.prefix': p, 'slot.name': `slot_${p}`, 'publication.name': `pub_${p}` });
    const overrides: Record<string, string> = { ...database, ...perPrefix(prefix), ...opts.connector };
    const connectorName = `cdc-${prefix}`;
    const connectorFile = opts.connectorFile ?? 'postgres-connector.json';
    let connect: ConnectWorker | undefined;
    let connectMs = 0;
    let connectorMs = 0;
    if (opts.connect ?? true) {
      [connect, connectMs] = await timed(() => startConnect({ brokers: kafka.brokers, replicationFactor: kafka.nodes.length }));
      started.push(connect);
      [, connectorMs] = await timed(() => connect!.register(connectorName, connectorFile, overrides));
    }
    const sql = async <R extends Record<string, unknown>>(text: string, params: readonly unknown[] = []): Promise<R[]> => {
      const c = new pg.Client({ connectionString: postgres.urlFor(STACK_DB), connectionTimeoutMillis: 5_000 });
      await c.connect();
      try {
        return (await c.query<R>(text, [...params])).rows;
      } finally {
        await c.end();
      }
    };
    return {
      kafka,
      postgres,
      redisServer,
      ...(connect ? { connect } : {}),
      topicPrefix: prefix,
      connectorName,
      timings: { postgres: pgMs, kafka: kafkaMs, redis: redisMs, connect: connectMs, connector: connectorMs },
      topic: (table) => `${prefix}.${table}`,
      sql,
      connectorOverrides: () => ({ ...overrides }),
      async register(extra = {}) {
        if (!connect) throw new Error('the stack was started without Kafka Connect');
        Object.assign(overrides, extra);
        await connect.register(connectorName, connectorFile, overrides);
      },
      async addConnector(o) {
        if (!connect) throw new Error('the stack was started without Kafka Connect');
        const name = `cdc-${o.prefix}`;
        await connect.register(name, o.file ?? 'postgres-connector.json', { ...database, ...perPrefix(o.prefix), ...o.overrides });
        return name;
      },
      async stop() {
        for (const s of started.reverse()) await s.stop().catch(() => undefined);
      },
    };
  } catch (e) {
    for (const s of started.reverse()) await s.stop().catch(() => undefined);
    throw e;
  }
}
