import { Kafka, logLevel, type KafkaConfig, type LogEntry } from 'kafkajs';
import type { Logger } from 'pino';

export interface KafkaClientOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly connectionTimeoutMs?: number;
  /** Extra client settings (SSL, SASL) passed through to kafkajs. */
  readonly client?: Partial<KafkaConfig>;
}

/** Routes kafkajs' own logs into pino (its INFO is chatty: debug here). */
function kafkajsLogCreator(logger: Logger) {
  const child = logger.child({ component: 'kafkajs' });
  return () =>
    ({ level, log }: LogEntry) => {
      const { message, timestamp: _t, logger: _l, ...rest } = log;
      if (level === logLevel.ERROR) child.error(rest, message);
      else if (level === logLevel.WARN) child.warn(rest, message);
      else child.debug(rest, message);
    };
}

/** One kafkajs client for the consumer and the dead-letter producer. */
export function createKafka(opts: KafkaClientOptions, logger: Logger): Kafka {
  return new Kafka({
    clientId: opts.clientId,
    brokers: [...opts.brokers],
    logLevel: logLevel.INFO,
    logCreator: kafkajsLogCreator(logger),
    connectionTimeout: opts.connectionTimeoutMs ?? 3_000,
    retry: { initialRetryTime: 300, retries: 8, maxRetryTime: 10_000 },
    ...opts.client,
  });
}
