/**
 * The pipeline's `Source` port through @platformatic/kafka (a pure-JavaScript client), for the
 * bench's client bake-off. The client hands over a stream of single messages; this source groups
 * them into one batch per partition (what was buffered when the batch is taken), runs at most
 * `partitionsConsumedConcurrently` partitions at once, and pauses the stream while more than
 * `maxBuffered` records wait. Commits are explicit (autocommit off) with Kafka's next-offset meaning.
 *
 * Scope: a single, stable group member, which is what the bench runs. A batch whose handler fails
 * or is abandoned is not fetched again (the client has no per-partition seek back to the committed
 * offset in its stream): the source then reports a crash instead of going on past it, so nothing
 * is committed past an unfinished batch. It has not been through the real-broker group, rebalance,
 * SASL/TLS and replay suites.
 */
import { Consumer, type Message, type MessagesStream } from '@platformatic/kafka';
import type { Logger } from 'pino';
import type { SourceRecord, TopicPartitionOffset } from '../../../src/domain/types.js';
import type { BenchSourceOptions } from './options.js';
import type { BatchHandler, Source, SourceBatch, SourceEvents } from '../../../src/pipeline/source/source.js';

export interface PlatformaticSourceOptions extends BenchSourceOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  /** Records buffered across partitions before the stream is paused. */
  readonly maxBuffered?: number;
}

type Msg = Message<Buffer, Buffer, Buffer, Buffer>;

interface PartitionQueue {
  readonly topic: string;
  readonly partition: number;
  records: SourceRecord[];
  busy: boolean;
}

function headersOf(m: Msg): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  if (m.headers.size === 0) return out;
  for (const [k, v] of m.headers) out[k.toString('utf8')] = v === undefined ? undefined : v.toString('utf8');
  return out;
}

export class PlatformaticSource implements Source {
  readonly #consumer: Consumer<Buffer, Buffer, Buffer, Buffer>;
  #stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined;
  readonly #queues = new Map<string, PartitionQueue>();
  #buffered = 0;
  #inFlight = 0;
  #generation = 0;
  #stopping = false;
  /** pauseAll(): no new batches; those in flight finish and stay active. */
  #draining = false;
  #paused = false;
  #crashed = false;
  #handler: BatchHandler | undefined;
  #events: SourceEvents | undefined;
  #scheduled = false;

  constructor(private readonly opts: PlatformaticSourceOptions, private readonly logger: Logger) {
    this.#consumer = new Consumer({
      clientId: opts.clientId,
      bootstrapBrokers: [...opts.brokers],
      groupId: opts.groupId,
      sessionTimeout: opts.sessionTimeoutMs,
      rebalanceTimeout: opts.rebalanceTimeoutMs,
      heartbeatInterval: opts.heartbeatIntervalMs,
      autocommit: false,
    });
  }

  async start(handler: BatchHandler, events: SourceEvents): Promise<void> {
    this.#handler = handler;
    this.#events = events;
    const c = this.#consumer;
    c.on('consumer:group:join', (p) => {
      this.#generation++;
      const assignment = new Map<string, number[]>();
      for (const a of p.assignments ?? []) assignment.set(a.topic, [...a.partitions]);
      events.onAssigned(assignment);
    });
    const topics = [...this.opts.topics];
    const stream = await c.consume({
      topics,
      mode: 'committed',
      fallbackMode: this.opts.fromBeginning ? 'earliest' : 'latest',
      autocommit: false,
      maxBytesPerPartition: this.opts.maxBytesPerPartition,
      maxBytes: this.opts.maxBytesPerPartition * Math.max(1, this.opts.partitionsConsumedConcurrently),
      ...(this.opts.maxWaitTimeMs !== undefined ? { maxWaitTime: this.opts.maxWaitTimeMs } : {}),
      highWaterMark: 4096,
    });
    this.#stream = stream;
    stream.on('data', (m: Msg) => this.#push(m));
    stream.on('error', (err: Error) => this.#crash(err));
  }

  #push(m: Msg): void {
    const id = `${m.topic}\u0000${m.partition}`;
    let q = this.#queues.get(id);
    if (!q) {
      q = { topic: m.topic, partition: m.partition, records: [], busy: false };
      this.#queues.set(id, q);
    }
    q.records.push({ topic: m.topic, partition: m.partition, offset: m.offset.toString(), key: m.key ?? null, value: m.value ?? null, headers: headersOf(m) });
    if (++this.#buffered >= (this.opts.maxBuffered ?? 20_000) && !this.#paused) {
      this.#paused = true;
      this.#stream?.pause();
    }
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.#dispatch();
      });
    }
  }

  #dispatch(): void {
    if (this.#stopping || this.#draining || this.#crashed) return;
    for (const q of this.#queues.values()) {
      if (this.#inFlight >= this.opts.partitionsConsumedConcurrently) break;
      if (q.busy || q.records.length === 0) continue;
      const records = q.records;
      q.records = [];
      q.busy = true;
      this.#inFlight++;
      this.#buffered -= records.length;
      const generation = this.#generation;
      let fetched: string | undefined;
      const batch: SourceBatch = {
        topic: q.topic,
        partition: q.partition,
        records,
        heartbeat: () => (batch.isActive() ? Promise.resolve() : Promise.reject(new Error('the group is rebalancing'))),
        isActive: () => !this.#stopping && !this.#crashed && generation === this.#generation,
        markFetched: (offset) => (fetched = offset),
      };
      const last = records[records.length - 1]!.offset;
      const handed = this.#handler!(batch);
      handed
        .then(() => {
          // The worker returns without marking a batch it abandoned: nothing after it may be handed over.
          if (!this.#stopping && fetched !== last) this.#crash(new Error(`batch of ${q.topic}/${q.partition} up to ${last} was not completed; not consuming past it`));
        }, (err: unknown) => this.#crash(err instanceof Error ? err : new Error(String(err))))
        .finally(() => {
          q.busy = false;
          this.#inFlight--;
          if (this.#paused && this.#buffered < (this.opts.maxBuffered ?? 20_000) / 2) {
            this.#paused = false;
            this.#stream?.resume();
          }
          this.#dispatch();
        });
    }
  }

  #crash(err: Error): void {
    if (this.#crashed || this.#stopping) return;
    this.#crashed = true;
    this.logger.warn({ err: { message: err.message, name: err.name } }, 'kafka consumer (platformatic) crashed');
    this.#events?.onCrash(err);
  }

  async commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    if (offsets.length === 0) return;
    await this.#consumer.commit({ offsets: offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: BigInt(o.offset), leaderEpoch: -1 })) });
  }

  pauseAll(): void {
    this.#draining = true;
    this.#stream?.pause();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    await this.#stream?.close().catch(() => undefined);
    // close(force) resolves a promise at runtime, but its typings resolve close(true) to the callback
    // overload (void): the callback form says the same thing with the types right.
    await new Promise<void>((resolve, reject) => this.#consumer.close(true, (err) => (err ? reject(err) : resolve())));
  }
}
