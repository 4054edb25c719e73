import { after, before } from 'node:test';
import type { Redis } from 'ioredis';
import type { Kafka } from 'kafkajs';
import { startRedis, type RedisServer } from '../redis-server.js';
import { mappingsDir } from '../worker.js';
import { startKafka, type KafkaStack, type KafkaStackOptions } from './kafka.js';

/** What a test file on the real broker works with; the fields are set once its before() ran. */
export interface KafkaAndRedis {
  readonly kafkaStack: KafkaStack;
  readonly redisServer: RedisServer;
  /** A client of redisServer. */
  readonly redis: Redis;
  /** A kafkajs client of kafkaStack. */
  readonly kafka: Kafka;
  /** A temp dir with the mapping file. */
  readonly mappings: string;
  /**
   * A worker's environment on this bed: brokers, Redis, the group, the mappings and short timings
   * (6 s session, 50 ms commit interval, 100 ms second delete, 1 s topic refresh); `extra` adds the
   * topics and anything else, or overrides.
   */
  workerEnv(group: string, extra?: Readonly<Record<string, string>>): Record<string, string>;
}

/**
 * Registers, in the calling describe(), a before() that starts Apache Kafka and a redis-server (one
 * after the other: a failed start leaves nothing running) and writes the mappings, and an after()
 * that stops both, also when a test failed.
 */
export function kafkaAndRedis(opts: { readonly kafka?: KafkaStackOptions; readonly mappings?: string } = {}): KafkaAndRedis {
  const bed: { -readonly [K in keyof KafkaAndRedis]?: KafkaAndRedis[K] } = {};
  before(async () => {
    bed.kafkaStack = await startKafka(opts.kafka);
    bed.redisServer = await startRedis();
    bed.redis = bed.redisServer.client();
    bed.kafka = bed.kafkaStack.kafka();
    bed.mappings = await mappingsDir(opts.mappings);
  });
  after(async () => {
    await bed.redisServer?.cleanup();
    await bed.kafkaStack?.stop();
  });
  const field = <K extends keyof KafkaAndRedis>(k: K): KafkaAndRedis[K] => {
    const v = bed[k];
    if (v === undefined) throw new Error(`kafkaAndRedis: ${k} is used before the describe()'s before() ran`);
    return v;
  };
  return {
    get kafkaStack() {
      return field('kafkaStack');
    },
    get redisServer() {
      return field('redisServer');
    },
    get redis() {
      return field('redis');
    },
    get kafka() {
      return field('kafka');
    },
    get mappings() {
      return field('mappings');
    },
    workerEnv(group, extra = {}) {
      return {
        CDC_INVALIDATOR_BROKERS: field('kafkaStack').brokers.join(','),
        CDC_INVALIDATOR_REDIS: field('redisServer').url,
        CDC_INVALIDATOR_GROUP: group,
        CDC_INVALIDATOR_MAPPINGS: field('mappings'),
        CDC_INVALIDATOR_SESSION_TIMEOUT: '6s',
        CDC_INVALIDATOR_HEARTBEAT_INTERVAL: '500ms',
        CDC_INVALIDATOR_REBALANCE_TIMEOUT: '6s',
        CDC_INVALIDATOR_COMMIT_INTERVAL: '50ms',
        CDC_INVALIDATOR_SECOND_DELETE_DELAY: '100ms',
        CDC_INVALIDATOR_TOPIC_REFRESH_INTERVAL: '1s',
        CDC_INVALIDATOR_LOG_LEVEL: 'info',
        ...extra,
      };
    },
  };
}
