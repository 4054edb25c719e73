import { readFile } from 'node:fs/promises';
import type { Redis } from 'ioredis';
import type { Kafka } from 'kafkajs';
import { changeEvent } from './debezium.js';
import { ensureTopic, type TestRecord } from './kafka.js';

/**
 * A change stream for chaos tests in which every record's keys are its own: so "a record is
 * done" and "its keys are gone" mean the same thing, and a sentinel planted under every key
 * before the stream proves each deletion happened (a surviving sentinel is a lost invalidation).
 */
export interface ChaosRecord extends TestRecord {
  readonly partition: number;
  /** The keys the CUSTOMERS_MAPPING (customer:{id}, customer:email:{email}) invalidates. */
  readonly keys: readonly string[];
}

/** A small seeded PRNG (mulberry32): chaos runs print their seed and `CHAOS_SEED` replays one. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export function chaosSeed(): number {
  const fromEnv = Number(process.env['CHAOS_SEED']);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : Math.floor(Math.random() * 2 ** 31) + 1;
}

/**
 * `perPartition` records in each of `partitions` partitions, in partition order: creates,
 * updates that change the email (old and new email keys both go), and deletes, each on a fresh id.
 */
export function chaosStream(partitions: number, perPartition: number, random: () => number, idBase = 0): ChaosRecord[][] {
  const out: ChaosRecord[][] = [];
  for (let p = 0; p < partitions; p++) {
    const records: ChaosRecord[] = [];
    for (let i = 0; i < perPartition; i++) {
      const id = idBase + p * perPartition + i;
      const row = { id, first_name: 'F', last_name: 'L', email: `e${id}@x` };
      const dice = random();
      if (dice < 0.6) {
        records.push({ partition: p, key: { id }, value: changeEvent('c', { after: row }), keys: [`customer:${id}`, `customer:email:e${id}@x`] });
      } else if (dice < 0.85) {
        const after = { ...row, email: `n${id}@x` };
        records.push({
          partition: p,
          key: { id },
          value: changeEvent('u', { before: row, after }),
          keys: [`customer:${id}`, `customer:email:e${id}@x`, `customer:email:n${id}@x`],
        });
      } else {
        records.push({ partition: p, key: { id }, value: changeEvent('d', { before: row }), keys: [`customer:${id}`, `customer:email:e${id}@x`] });
      }
    }
    out.push(records);
  }
  return out;
}

export const SENTINEL = 'sentinel';

/** Writes the sentinel under every key of `records` (a stand-in for values cached or written back). */
export async function plant(redis: Redis, records: Iterable<ChaosRecord>): Promise<number> {
  let n = 0;
  let pipeline = redis.pipeline();
  for (const r of records) {
    for (const k of r.keys) {
      pipeline.set(k, SENTINEL);
      if (++n % 5_000 === 0) {
        await pipeline.exec();
        pipeline = redis.pipeline();
      }
    }
  }
  await pipeline.exec();
  return n;
}

/** How many of the keys of `records` still exist. */
export async function survivors(redis: Redis, records: Iterable<ChaosRecord>): Promise<number> {
  const keys = [...records].flatMap((r) => r.keys);
  let n = 0;
  for (let i = 0; i < keys.length; i += 1_000) n += await redis.exists(...keys.slice(i, i + 1_000));
  return n;
}

export interface Streamer {
  /** Records produced so far per partition (offset = index on a fresh topic). */
  readonly produced: number[];
  readonly done: Promise<void>;
}

/**
 * Produces the stream in order at about `ratePerSec`, in chunks taking one record from each
 * partition in turn, awaiting each send (one producer, so each partition's offsets follow its
 * records' order).
 */
export function streamRecords(kafka: Kafka, topic: string, stream: ChaosRecord[][], ratePerSec: number, chunk = 200, { retryForMs = 0 }: { retryForMs?: number } = {}): Streamer {
  const produced = stream.map(() => 0);
  const done = (async () => {
    await ensureTopic(kafka, topic, Math.max(4, stream.length));
    const producer = kafka.producer({ allowAutoTopicCreation: true });
    await producer.connect();
    try {
      const total = stream.reduce((n, s) => n + s.length, 0);
      const t0 = Date.now();
      let sent = 0;
      while (sent < total) {
        const messages: { key: string; value: string; partition: number }[] = [];
        const upto = produced.slice();
        for (let k = 0; k < chunk && sent + messages.length < total; ) {
          for (let p = 0; p < stream.length && k < chunk; p++) {
            const r = stream[p]![upto[p]!];
            if (!r) continue;
            messages.push({ key: JSON.stringify(r.key), value: JSON.stringify(r.value), partition: p });
            upto[p]!++;
            k++;
          }
        }
        // Through a broker outage (retryForMs > 0) a failed send is tried again: a retried chunk
        // may then be in the topic twice (harmless for sentinels, but offsets no longer follow indexes).
        const giveUp = Date.now() + retryForMs;
        for (;;) {
          try {
            await producer.send({ topic, acks: -1, messages });
            break;
          } catch (e) {
            if (Date.now() > giveUp) throw e;
            await new Promise((r) => setTimeout(r, 250));
          }
        }
        for (let p = 0; p < stream.length; p++) produced[p] = upto[p]!;
        sent += messages.length;
        const due = t0 + (sent / ratePerSec) * 1_000;
        const wait = due - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    } finally {
      await producer.disconnect();
    }
  })();
  done.catch(() => undefined); // awaited by the test; a failed test must not leave an unhandled rejection
  return { produced, done };
}

/** The resident set size of a process (Linux /proc), in bytes. */
export async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** Records at or past `offsets` (per partition) among those produced so far. */
export function uncommitted(stream: ChaosRecord[][], produced: readonly number[], offsets: Map<number, bigint>): ChaosRecord[] {
  const out: ChaosRecord[] = [];
  stream.forEach((records, p) => {
    const from = Math.max(0, Number(offsets.get(p) ?? 0n));
    for (let i = from; i < produced[p]!; i++) out.push(records[i]!);
  });
  return out;
}

/** Records below `offsets` (committed) per partition. */
export function committedRecords(stream: ChaosRecord[][], offsets: Map<number, bigint>): ChaosRecord[] {
  const out: ChaosRecord[] = [];
  stream.forEach((records, p) => {
    const to = Math.max(0, Number(offsets.get(p) ?? 0n));
    for (let i = 0; i < to; i++) out.push(records[i]!);
  });
  return out;
}

export interface SlowReader {
  /** Holds polling (resolves once no write-back is half done) until `release()`. */
  hold(): Promise<void>;
  release(): void;
  /** Stops polling; resolves with what it did. */
  stop(): Promise<{ writtenBackInWindow: number; lateRemoved: number }>;
}

/**
 * A slow reader racing the worker: it notices a record's first delete (its `customer:{id}` key
 * went), then writes every key of that record back, as a reader that loaded the old row before
 * the change would. A write-back acknowledged within `delayMs` of the last time the key was seen
 * present is inside the second delete's window: the worker must delete it again — across crashes
 * too, so the record's offset must not be committed before that. Write-backs that land later are
 * outside what the worker promises; the reader removes those itself so they do not count.
 */
export function startSlowReader(redis: Redis, stream: ChaosRecord[][], produced: readonly number[], delayMs: number, perPoll = 400): SlowReader {
  const lastSeen = stream.map((s) => new Float64Array(s.length));
  const handled = stream.map((s) => new Uint8Array(s.length));
  const from = stream.map(() => 0);
  let inWindow = 0;
  let late = 0;
  let running = true;
  let held: Promise<void> | undefined;
  let release = (): void => undefined;
  let idle: (() => void) | undefined;
  const loop = (async () => {
    while (running) {
      if (held) {
        idle?.();
        await held;
      }
      for (let p = 0; p < stream.length; p++) {
        while (from[p]! < produced[p]! && handled[p]![from[p]!]) from[p]!++;
        const ids: number[] = [];
        for (let i = from[p]!; i < produced[p]! && ids.length < perPoll; i++) if (!handled[p]![i]) ids.push(i);
        if (ids.length === 0) continue;
        const probe = redis.pipeline();
        for (const i of ids) probe.exists(stream[p]![i]!.keys[0]!);
        const t = Date.now();
        const results = (await probe.exec()) ?? [];
        const gone: number[] = [];
        ids.forEach((i, n) => {
          if (Number(results[n]?.[1]) === 1) lastSeen[p]![i] = t;
          else if (lastSeen[p]![i]! > 0) gone.push(i);
        });
        if (gone.length === 0) continue;
        const back = redis.pipeline();
        for (const i of gone) for (const k of stream[p]![i]!.keys) back.set(k, SENTINEL);
        await back.exec();
        const acked = Date.now();
        const lateOnes = gone.filter((i) => acked >= lastSeen[p]![i]! + delayMs - 100);
        if (lateOnes.length > 0) {
          await redis.unlink(...lateOnes.flatMap((i) => stream[p]![i]!.keys));
          late += lateOnes.length;
        }
        inWindow += gone.length - lateOnes.length;
        for (const i of gone) handled[p]![i] = 1;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    hold() {
      if (held) return Promise.resolve();
      held = new Promise<void>((resolve) => (release = () => {
        held = undefined;
        resolve();
      }));
      return new Promise<void>((resolve) => (idle = resolve));
    },
    release: () => release(),
    async stop() {
      running = false;
      release();
      await loop;
      return { writtenBackInWindow: inWindow, lateRemoved: late };
    },
  };
}
