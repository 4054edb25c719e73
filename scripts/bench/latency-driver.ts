/**
 * The load side of the latency phase, in worker threads so that it does not share the event loop
 * with the worker under test. Role `producer`: a fixed-rate producer of update events (each with its
 * produce time in a row column and keys of its own). Role `subscriber`: an ioredis client subscribed
 * to keyspace `del` events (its own thread, so producing never delays a stamp). Times are
 * process.hrtime (CLOCK_MONOTONIC, the same clock in every thread), in ms, written to shared arrays
 * the main thread reads. Protocol: the thread posts `ready`; `go` starts the producer; the producer
 * posts `produced`; `stop` ends either.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';

export interface DriverTable {
  readonly topic: string;
  readonly schema: string;
  readonly table: string;
  readonly keyPrefix: string;
}

export interface DriverData {
  readonly role: 'producer' | 'subscriber';
  readonly brokers: readonly string[];
  readonly redisUrl: string;
  readonly tables: readonly DriverTable[];
  readonly rate: number;
  readonly total: number;
  readonly baseId: number;
  /** Float64Array: produce time per event. */
  readonly produced: SharedArrayBuffer;
  /** Float64Array: time the last of the event's two keys was deleted. */
  readonly deleted: SharedArrayBuffer;
  /** Int32Array [events deleted, events sent]. */
  readonly counters: SharedArrayBuffer;
}

export type DriverMessage = { readonly type: 'ready' } | { readonly type: 'produced'; readonly seconds: number } | { readonly type: 'error'; readonly message: string };

export function hrMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export function latencyCode(id: number): string {
  return `LAT-${id.toString(36).toUpperCase()}`;
}

/** A Debezium update (REPLICA IDENTITY FULL, JSON without schema) stamped with its produce time. */
export function latencyEnvelope(t: Pick<DriverTable, 'schema' | 'table'>, id: number, producedAtUs: number): string {
  const row = (v: number) => ({
    id,
    code: latencyCode(id),
    name: `${t.table} ${id}`,
    status: 'active',
    qty: id % 500,
    price: '12.50',
    description: 'lorem ipsum dolor sit amet',
    updated_at: producedAtUs,
    produced_at_us: producedAtUs,
    version: v,
  });
  const ms = Math.floor(producedAtUs / 1000);
  return JSON.stringify({
    before: row(1),
    after: row(2),
    source: { version: '2.7.3.Final', connector: 'postgresql', name: 'bench', ts_ms: ms, snapshot: 'false', db: 'app', sequence: null, ts_us: ms * 1000, ts_ns: ms * 1_000_000, schema: t.schema, table: t.table, txId: id, lsn: id * 64, xmin: null },
    transaction: null,
    op: 'u',
    ts_ms: ms,
    ts_us: ms * 1000,
    ts_ns: ms * 1_000_000,
  });
}

function tableOf(d: DriverData, i: number): DriverTable {
  return d.tables[i % d.tables.length]!;
}

async function subscribe(d: DriverData, port: NonNullable<typeof parentPort>): Promise<void> {
  const deleted = new Float64Array(d.deleted);
  const counters = new Int32Array(d.counters);
  const keysLeft = new Uint8Array(d.total).fill(2);
  const keyIndex = new Map<string, number>();
  for (let i = 0; i < d.total; i++) {
    const t = tableOf(d, i);
    const id = d.baseId + i;
    keyIndex.set(`${t.keyPrefix}:${id}`, i);
    keyIndex.set(`${t.keyPrefix}:code:${latencyCode(id).toLowerCase()}`, i);
  }
  const sub = new Redis(d.redisUrl, { connectionName: 'bench-keyspace' });
  sub.on('message', (_channel: string, key: string) => {
    const at = hrMs();
    const i = keyIndex.get(key);
    if (i === undefined || keysLeft[i] === 0) return;
    if (--keysLeft[i]! === 0) {
      deleted[i] = at;
      Atomics.add(counters, 0, 1);
    }
  });
  await sub.subscribe('__keyevent@0__:del');
  const stop = new Promise<void>((resolve) => port.once('message', () => resolve()));
  port.postMessage({ type: 'ready' } satisfies DriverMessage);
  await stop;
  sub.disconnect();
}

async function produce(d: DriverData, port: NonNullable<typeof parentPort>): Promise<void> {
  const produced = new Float64Array(d.produced);
  const counters = new Int32Array(d.counters);
  const kafka = new Kafka({ clientId: 'bench-latency', brokers: [...d.brokers], logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ allowAutoTopicCreation: true });
  await producer.connect();
  const go = new Promise<boolean>((resolve) => port.once('message', (m: unknown) => resolve(m === 'go')));
  port.postMessage({ type: 'ready' } satisfies DriverMessage);
  if (!(await go)) {
    await producer.disconnect();
    return;
  }

  // every 10 ms, the events due so far, one send spread over the topics; sends overlap
  const started = hrMs();
  const inFlight = new Set<Promise<unknown>>();
  let failure: Error | undefined;
  let sent = 0;
  while (sent < d.total) {
    const due = Math.min(d.total, Math.floor(((hrMs() - started) / 1000) * d.rate)) - sent;
    if (due > 0) {
      const byTopic = new Map<string, { key: string; value: string }[]>();
      const at = hrMs();
      const us = Math.round((performance.timeOrigin + performance.now()) * 1000);
      for (let i = sent; i < sent + due; i++) {
        const t = tableOf(d, i);
        const id = d.baseId + i;
        produced[i] = at;
        let list = byTopic.get(t.topic);
        if (!list) byTopic.set(t.topic, (list = []));
        list.push({ key: `{"id":${id}}`, value: latencyEnvelope(t, id, us) });
      }
      sent += due;
      Atomics.store(counters, 1, sent);
      const p: Promise<unknown> = producer
        .sendBatch({ acks: 1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) })
        .catch((e: unknown) => (failure ??= e instanceof Error ? e : new Error(String(e))))
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
      if (inFlight.size >= 32) await Promise.race(inFlight);
      if (failure) throw failure;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  const seconds = (hrMs() - started) / 1000;
  await Promise.all(inFlight);
  if (failure) throw failure;
  await producer.disconnect();
  port.postMessage({ type: 'produced', seconds } satisfies DriverMessage);
}

if (parentPort) {
  const port = parentPort;
  const d = workerData as DriverData;
  (d.role === 'producer' ? produce(d, port) : subscribe(d, port)).then(
    () => process.exit(0),
    (e: unknown) => {
      port.postMessage({ type: 'error', message: (e as Error).message } satisfies DriverMessage);
      process.exit(1);
    },
  );
}
