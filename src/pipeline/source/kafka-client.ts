import { Kafka, logLevel, type KafkaConfig, type LogEntry } from 'kafkajs';
import type { Logger } from 'pino';
import { kafkajsSecurityOptions, type KafkaSecurity } from '../../config/kafka-security.js';

export interface KafkaClientOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly connectionTimeoutMs?: number;
  /** SASL and TLS from the run config (`RunConfig.kafkaSecurity`). */
  readonly security?: KafkaSecurity;
  /** Extra client settings passed through to kafkajs (win over `security`). */
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
  const security = opts.security ? kafkajsSecurityOptions(opts.security) : {};
  if (opts.security?.sasl && !opts.security.tls) {
    logger.warn(
      { mechanism: opts.security.sasl.mechanism },
      'Kafka SASL over plaintext: the credentials (PLAIN: the password itself) and all records cross the network unencrypted; add --kafka-tls',
    );
  }
  return new Kafka({
    clientId: opts.clientId,
    brokers: [...opts.brokers],
    logLevel: logLevel.INFO,
    logCreator: kafkajsLogCreator(logger),
    connectionTimeout: opts.connectionTimeoutMs ?? 3_000,
    retry: { initialRetryTime: 300, retries: 8, maxRetryTime: 10_000 },
    ...security,
    ...opts.client,
  });
}
