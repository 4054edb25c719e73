import type { Admin, Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { TopicPartitionOffset } from '../../domain/types.js';
import { applyInitialPosition, type GroupStartPort, type InitialPosition } from './initial-position.js';
import { toSourceBatch } from './kafkajs-batch.js';
import { partitionKey, RetentionGuard, type PartitionOffsetsPort, type RetentionLoss } from './retention-guard.js';
import type { BatchHandler, Source, SourceBatch, SourceEvents } from './source.js';
import { resolveTopics, type TopicMatcher } from './topic-match.js';

export interface KafkaSourceOptions {
  readonly groupId: string;
  /** The topics to consume; the worker matches them itself and re-subscribes when new ones appear. */
  readonly topics: TopicMatcher;
  /** Where the group's very first start begins (no committed offsets at all). */
  readonly initialPosition: InitialPosition;
  /** How often the topic list is looked at for new matching topics. */
  readonly topicRefreshMs: number;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly partitionsConsumedConcurrently: number;
  readonly maxBytesPerPartition: number;
  /** Longest wait of a fetch for new records (kafkajs' default is 5 s; the Java client's and librdkafka's 500 ms). */
  readonly maxWaitTimeMs?: number;
  /** Records lost to retention (already logged at error). */
  readonly onRetentionLoss?: (loss: RetentionLoss) => void;
}

/** A rate-limited line while no topic matches at all (the first at once, then every 5 minutes). */
const NOTHING_MATCHES_EVERY_MS = 5 * 60_000;

/**
 * The Kafka consumer group, through kafkajs: eachBatch, no auto-commit, no auto-resolve.
 *
 * Topics are matched by the worker, not by kafkajs (which looks at a regex once, at subscribe time):
 * every `topicRefreshMs` the topic list is read and, when new matching topics exist, the consumer
 * is stopped and run again with them (a rejoin). Partitions without a committed offset start at
 * the earliest offset; only a group's very first start follows --initial-position.
 */
export class KafkaSource implements Source {
  readonly #consumer: Consumer;
  readonly #admin: Admin;
  readonly #guard: RetentionGuard;
  #assignment = new Map<string, number[]>();
  readonly #subscribed = new Set<string>();
  #events: SourceEvents | undefined;
  #handler: BatchHandler | undefined;
  #timer: NodeJS.Timeout | undefined;
  #refreshing: Promise<void> | undefined;
  #stopped = false;
  #lastNothingWarning = 0;

  constructor(kafka: Kafka, private readonly opts: KafkaSourceOptions, private readonly logger: Logger) {
    this.#consumer = kafka.consumer({
      groupId: opts.groupId,
      sessionTimeout: opts.sessionTimeoutMs,
      rebalanceTimeout: opts.rebalanceTimeoutMs,
      heartbeatInterval: opts.heartbeatIntervalMs,
      maxBytesPerPartition: opts.maxBytesPerPartition,
      ...(opts.maxWaitTimeMs !== undefined ? { maxWaitTimeInMs: opts.maxWaitTimeMs } : {}),
      allowAutoTopicCreation: false,
      retry: { initialRetryTime: 300, retries: 10, maxRetryTime: 10_000 },
    });
    this.#admin = kafka.admin();
    this.#guard = new RetentionGuard(this.#offsetsPort(), (loss) => opts.onRetentionLoss?.(loss), logger);
  }

  async start(handler: BatchHandler, events: SourceEvents): Promise<void> {
    this.#handler = handler;
    this.#events = events;
    const c = this.#consumer;
    c.on(c.events.GROUP_JOIN, (e) => {
      this.#assignment = new Map(Object.entries(e.payload.memberAssignment).map(([t, ps]) => [t, [...ps]]));
      this.#guard.assigned(this.#assignment);
      events.onAssigned(this.#assignment);
    });
    c.on(c.events.REBALANCING, () => events.onRejoining('rebalancing'));
    // A batch of control records (transaction markers) only is resolved by kafkajs itself, unseen.
    c.on(c.events.END_BATCH_PROCESS, (e) => {
      if (e.payload.batchSize === 0) this.#guard.advanced(e.payload.topic, e.payload.partition, BigInt(e.payload.lastOffset) + 1n);
    });
    c.on(c.events.CRASH, (e) => {
      const { error, restart } = e.payload as { error: Error; restart: boolean };
      this.logger.warn({ err: error, restart }, 'kafka consumer crashed');
      if (restart) events.onRejoining('crashed, restarting');
      else events.onCrash(error);
    });
    await this.#admin.connect();
    const { present, missing } = resolveTopics(this.opts.topics, await this.#admin.listTopics());
    if (missing.length > 0) {
      this.logger.warn({ topics: missing, setting: this.opts.topics.describe }, 'topics that do not exist (yet): each is consumed once it appears');
    }
    await applyInitialPosition(this.#groupStartPort(), this.opts.groupId, present, this.opts.initialPosition, this.logger);
    await c.connect();
    if (present.length > 0) await this.#run(present);
    else this.#nothingMatches();
    this.#timer = setInterval(() => void this.#refresh(), this.opts.topicRefreshMs);
  }

  async #run(topics: readonly string[]): Promise<void> {
    await this.#consumer.subscribe({ topics: [...topics], fromBeginning: true });
    for (const t of topics) this.#subscribed.add(t);
    await this.#consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.opts.partitionsConsumedConcurrently,
      eachBatch: (payload) => this.#batch(payload),
    });
  }

  #nothingMatches(): void {
    const now = Date.now();
    if (now - this.#lastNothingWarning < NOTHING_MATCHES_EVERY_MS) return;
    this.#lastNothingWarning = now;
    this.logger.warn(
      { setting: this.opts.topics.describe, refreshMs: this.opts.topicRefreshMs },
      `no topic matches ${this.opts.topics.describe} yet: waiting for one to appear (looked for every ${Math.round(this.opts.topicRefreshMs / 1000)} s); not ready meanwhile`,
    );
  }

  /** Looks for new matching topics; when there are some, rejoins with them. */
  #refresh(): Promise<void> {
    this.#refreshing ??= (async () => {
      try {
        if (this.#stopped) return;
        const { present } = resolveTopics(this.opts.topics, await this.#admin.listTopics());
        const added = present.filter((t) => !this.#subscribed.has(t));
        if (added.length === 0) {
          if (this.#subscribed.size === 0) this.#nothingMatches();
          return;
        }
        if (this.#stopped) return;
        this.logger.info({ topics: added, setting: this.opts.topics.describe }, 'new matching topics: re-subscribing (the group rebalances; they start at the earliest offset)');
        if (this.#subscribed.size > 0) {
          this.#events?.onRejoining('re-subscribing');
          await this.#consumer.stop();
        }
        if (this.#stopped) return;
        await this.#run(added);
      } catch (e) {
        this.logger.warn({ err: e }, 'looking for new topics failed; trying again later');
      } finally {
        this.#refreshing = undefined;
      }
    })();
    return this.#refreshing;
  }

  async #batch(p: EachBatchPayload): Promise<void> {
    const { topic, partition } = p.batch;
    const fetchedOffset = (p.batch as unknown as { fetchedOffset?: string }).fetchedOffset;
    if (fetchedOffset !== undefined) await this.#guard.fetched(topic, partition, BigInt(fetchedOffset));
    await this.#handler!(this.#toBatch(p));
  }

  #toBatch(p: EachBatchPayload): SourceBatch {
    const { topic, partition } = p.batch;
    return toSourceBatch(p, p.batch.messages, (next) => this.#guard.advanced(topic, partition, next));
  }

  async commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    if (offsets.length === 0) return;
    await this.#consumer.commitOffsets(offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset })));
  }

  pauseAll(): void {
    const topics = [...this.#assignment.keys()];
    if (topics.length > 0) this.#consumer.pause(topics.map((topic) => ({ topic })));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#refreshing;
    await this.#consumer.disconnect();
    await this.#admin.disconnect();
  }

  #offsetsPort(): PartitionOffsetsPort {
    return {
      committed: async (topics) => {
        const out = new Map<string, bigint>();
        for (const t of await this.#admin.fetchOffsets({ groupId: this.opts.groupId, topics: [...topics] })) {
          for (const p of t.partitions) out.set(partitionKey(t.topic, p.partition), BigInt(p.offset));
        }
        return out;
      },
      logStart: async (topic) => new Map((await this.#admin.fetchTopicOffsets(topic)).map((o) => [o.partition, BigInt(o.low)])),
    };
  }

  #groupStartPort(): GroupStartPort {
    const admin = this.#admin;
    const groupId = this.opts.groupId;
    return {
      groupHasOffsets: async () => (await admin.fetchOffsets({ groupId })).some((t) => t.partitions.length > 0),
      offsetsAt: async (topic, position) => {
        const high = new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, BigInt(o.high)]));
        if (position.kind === 'latest') return high;
        const found = await admin.fetchTopicOffsetsByTimestamp(topic, position.ms);
        // No record at or after the time: the partition's end.
        return new Map(found.map((o) => [o.partition, BigInt(o.offset) >= 0n ? BigInt(o.offset) : (high.get(o.partition) ?? 0n)]));
      },
      setOffsets: (topic, offsets) => admin.setOffsets({ groupId, topic, partitions: [...offsets].map(([partition, offset]) => ({ partition, offset: offset.toString() })) }),
    };
  }
}
