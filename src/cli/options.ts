import type { Command } from 'commander';

/** The Redis connection flags of `run` and `replay` (credentials come from the environment only). */
export function withRedisOptions(cmd: Command): Command {
  return cmd
    .option('--redis-cluster', 'Redis Cluster: --redis is a comma-separated list of seed URLs (env REDIS_CLUSTER)')
    .option('--redis-sentinels <list>', 'Redis Sentinel: host:port of the sentinels, comma-separated (env REDIS_SENTINELS)')
    .option('--redis-sentinel-master <name>', 'master name the sentinels monitor (env REDIS_SENTINEL_MASTER)')
    .option('--redis-wait-replicas <n>', 'replicas each delete pass must reach (Redis WAIT) before it counts as done, 0 = off (env REDIS_WAIT_REPLICAS, default 0)')
    .option('--redis-tls-ca <file>', 'PEM CA bundle for Redis TLS (env REDIS_TLS_CA_FILE); credentials: env REDIS_USERNAME, REDIS_PASSWORD(_FILE)')
    .option('--redis-tls-cert <file>', 'PEM client certificate for Redis (env REDIS_TLS_CERT_FILE)')
    .option('--redis-tls-key <file>', 'PEM client key for Redis (env REDIS_TLS_KEY_FILE)');
}

/** The Kafka security flags of `run`, `tap`, `replay` and `offsets` (credentials come from the environment only). */
export function withKafkaSecurityOptions(cmd: Command): Command {
  return cmd
    .option('--kafka-sasl-mechanism <mechanism>', 'Kafka SASL: plain, scram-sha-256 or scram-sha-512; user and password from env KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE (env KAFKA_SASL_MECHANISM)')
    .option('--kafka-tls', 'TLS to the brokers (env KAFKA_TLS)')
    .option('--kafka-tls-ca <file>', 'PEM CA bundle for the broker certificates (env KAFKA_TLS_CA_FILE, default the system CAs)')
    .option('--kafka-tls-cert <file>', 'PEM client certificate for mutual TLS (env KAFKA_TLS_CERT_FILE)')
    .option('--kafka-tls-key <file>', 'PEM client key; passphrase from env KAFKA_TLS_KEY_PASSWORD(_FILE) (env KAFKA_TLS_KEY_FILE)')
    .option('--kafka-tls-servername <name>', 'TLS server name when it differs from the broker host (env KAFKA_TLS_SERVERNAME)');
}
