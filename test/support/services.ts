import type { Redis } from 'ioredis';
import type { Kafka } from 'kafkajs';
import { startKafkaBroker, type BrokerKind, type KafkaBroker } from './kafka-broker.js';
import { makeKafka } from './kafka.js';
import { startRedis, type RedisServer } from './redis-server.js';

/** A real redis-server and a Kafka-protocol broker for one test file, with clients. */
export interface Services {
  readonly broker: KafkaBroker;
  readonly redisServer: RedisServer;
  readonly redis: Redis;
  readonly kafka: Kafka;
  stop(): Promise<void>;
}

export async function startServices(broker_: BrokerKind = 'mock'): Promise<Services> {
  const [broker, redisServer] = await Promise.all([startKafkaBroker(broker_), startRedis()]);
  return {
    broker,
    redisServer,
    redis: redisServer.client(),
    kafka: makeKafka(broker.brokers),
    async stop() {
      await redisServer.cleanup();
      await broker.stop();
    },
  };
}
