import pino, { type Logger } from 'pino';
import { Writable } from 'node:stream';
import type { SourceRecord, TopicPartitionOffset } from '../../src/domain/types.js';
import type { InvalidationSink } from '../../src/pipeline/sink/sink.js';
import type { BatchHandler, Source, SourceBatch, SourceEvents } from '../../src/pipeline/source/source.js';

/** In-memory fakes of our own ports (Source, InvalidationSink) for unit tests of the pipeline stages. */

/** A logger whose lines (parsed JSON) land in `lines`. */
export function memoryLogger(level: pino.LevelWithSilent = 'debug'): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level }, stream), lines };
}

export function record(topic: string, partition: number, offset: number, value: unknown, key: unknown = { id: offset }): SourceRecord {
  return {
    topic,
    partition,
    offset: String(offset),
    key: Buffer.from(JSON.stringify(key)),
    value: value === null ? null : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
    headers: {},
  };
}

export class FakeBatch implements SourceBatch {
  active = true;
  heartbeats = 0;
  fetched: string | undefined;
  /** Set to make heartbeat() throw (a rebalance). */
  heartbeatError: Error | undefined;
  constructor(readonly topic: string, readonly partition: number, readonly records: readonly SourceRecord[], readonly highWatermark?: string) {}
  async heartbeat(): Promise<void> {
    this.heartbeats++;
    if (this.heartbeatError) throw this.heartbeatError;
  }
  isActive(): boolean {
    return this.active;
  }
  markFetched(offset: string): void {
    this.fetched = offset;
  }
}

/** A Source driven by the test: deliver() hands a batch to the worker's handler. */
export class FakeSource implements Source {
  handler: BatchHandler | undefined;
  events: SourceEvents | undefined;
  readonly commits: TopicPartitionOffset[][] = [];
  /** Commits that fail before one succeeds. */
  failCommits = 0;
  paused = false;
  stopped = false;
  /** Resolves start() once set (a join that takes time). */
  startGate: Promise<void> | undefined;

  async start(handler: BatchHandler, events: SourceEvents): Promise<void> {
    this.handler = handler;
    this.events = events;
    await this.startGate;
  }

  /** A new group generation with these partitions. */
  assign(topic: string, partitions: number[]): void {
    this.events!.onAssigned(new Map([[topic, partitions]]));
  }

  deliver(batch: FakeBatch): Promise<void> {
    return this.handler!(batch);
  }

  commitAttempts = 0;

  async commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    this.commitAttempts++;
    if (this.failCommits > 0) {
      this.failCommits--;
      throw new Error('commit refused (fake)');
    }
    this.commits.push([...offsets]);
  }

  /** The last committed offset of a partition, or undefined. */
  committed(topic: string, partition: number): string | undefined {
    let found: string | undefined;
    for (const c of this.commits) for (const o of c) if (o.topic === topic && o.partition === partition) found = o.offset;
    return found;
  }

  pauseAll(): void {
    this.paused = true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
  }
}

type Call = { readonly op: 'unlink' | 'purgeTags' | 'bumpVersions' | 'ping'; readonly names: readonly string[] };

/** An InvalidationSink in memory: records every call; `failWith` makes calls throw until cleared. */
export class FakeSink implements InvalidationSink {
  readonly calls: Call[] = [];
  failWith: Error | undefined;
  /** Fails only calls of this op (with failWith), when set. */
  failOp: Call['op'] | undefined;
  closed = false;

  #call(op: Call['op'], names: readonly string[]): void {
    if (this.failWith && (!this.failOp || this.failOp === op)) throw this.failWith;
    this.calls.push({ op, names: [...names] });
  }

  async unlink(keys: readonly string[]): Promise<number> {
    this.#call('unlink', keys);
    return keys.length;
  }

  async purgeTags(tags: readonly string[]): Promise<number> {
    this.#call('purgeTags', tags);
    return 0;
  }

  async bumpVersions(versions: readonly string[]): Promise<void> {
    this.#call('bumpVersions', versions);
  }

  async ping(): Promise<void> {
    this.#call('ping', []);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** Every name passed to unlink, in order. */
  unlinked(): string[] {
    return this.calls.filter((c) => c.op === 'unlink').flatMap((c) => c.names);
  }
}
