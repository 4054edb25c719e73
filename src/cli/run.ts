import { Option, type Command } from 'commander';
import { EXIT_CONFIG, EXIT_FAILURE, EXIT_OK } from '../config/errors.js';
import { describeConfig, type RunFlags } from '../config/run-config.js';
import { configOrReport } from './config.js';
import { onShutdownSignals } from './signals.js';
import { withKafkaSecurityOptions, withRedisOptions } from './options.js';
import { loadMappings } from '../mapping/load.js';
import { formatProblem } from '../mapping/model.js';
import { composeWorker } from '../runtime/compose.js';
import { startHealthServer } from '../runtime/health.js';
import { createLogger } from '../telemetry/logger.js';
import { Stats } from '../telemetry/stats.js';
import { collectDefaultMetrics, Registry } from 'prom-client';

/** `run`: the worker, with signals handled here (never in library code). */
export async function runCommand(flags: RunFlags): Promise<number> {
  const config = configOrReport(flags);
  if (!config) return EXIT_CONFIG;
  const logger = createLogger({ level: config.logLevel, logKeys: config.logKeys });
  const loaded = await loadMappings(config.mappingsDir);
  for (const p of loaded.problems) console.error(formatProblem(p));
  if (!loaded.set) {
    logger.error({ problems: loaded.problems.length, dir: config.mappingsDir }, 'invalid mappings; not starting');
    return EXIT_CONFIG;
  }
  logger.info({ config: describeConfig(config), mappings: loaded.set.mappings.length, files: loaded.files.length }, 'starting');
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'cdc_invalidator_' });
  const worker = composeWorker(config, loaded.set, logger, new Stats(registry));

  onShutdownSignals(process, {
    drain: (signal) => {
      logger.info({ signal, graceMs: config.shutdownGraceMs }, 'shutting down (send again to force)');
      void worker.stop(config.shutdownGraceMs);
    },
    force: (signal) => {
      logger.warn({ signal }, 'forced stop: pending work is not committed and will be replayed');
      process.exit(EXIT_FAILURE);
    },
  });

  const health = config.healthPort > 0 ? await startHealthServer(config.healthPort, worker, logger, registry) : undefined;
  try {
    // A signal during start-up (Redis or Kafka unreachable) ends the wait: done resolves first.
    await Promise.race([worker.start(), worker.done]);
  } catch (e) {
    logger.error({ err: { message: (e as Error).message } }, 'could not start');
    await worker.done;
    await health?.close();
    return EXIT_FAILURE;
  }
  const result = await worker.done;
  await health?.close();
  if (result.state === 'failed') {
    logger.error({ err: { message: result.error?.message } }, 'worker failed');
    return EXIT_FAILURE;
  }
  return EXIT_OK;
}

export function registerRun(program: Command, setExit: (code: number) => void): void {
  const cmd = program
    .command('run')
    .description('consume change events and delete the mapped Redis keys (twice), committing after Redis acknowledged')
    .option('--brokers <list>', 'Kafka bootstrap servers (env KAFKA_BROKERS, default localhost:9092)')
    .option('--group <id>', 'consumer group (env KAFKA_GROUP_ID, default cdc-invalidator)')
    .option('--topics <list|/regex/>', 'topics to consume (env KAFKA_TOPICS)')
    .option('--topic-prefix <prefix>', 'Debezium topic.prefix; consumes <prefix>.<schema>.<table> of mapped tables (env TOPIC_PREFIX)')
    .option('--redis <url>', 'Redis URL (env REDIS_URL, default redis://localhost:6379)')
    .option('--mappings <dir>', 'mappings directory (env MAPPINGS_DIR, default ./mappings)')
    .option('--second-delete-delay <duration>', 'delay of the second delete, 0 = off (env SECOND_DELETE_DELAY, default 1000ms)')
    .option('--from-beginning', 'start at the earliest offset where the group has none (env FROM_BEGINNING)')
    .option('--log-level <level>', 'log level (env LOG_LEVEL, default info)')
    .option('--concurrency <n>', 'partitions processed concurrently (env CONCURRENCY, default 4)')
    .option('--commit-interval <duration>', 'least time between commits (env COMMIT_INTERVAL, default 200ms)')
    .option('--shutdown-grace <duration>', 'drain time on SIGTERM (env SHUTDOWN_GRACE, default 10s)')
    .addOption(new Option('--session-timeout <duration>', 'group session timeout (env KAFKA_SESSION_TIMEOUT, default 30s)'))
    .addOption(new Option('--heartbeat-interval <duration>', 'group heartbeat interval (env KAFKA_HEARTBEAT_INTERVAL, default 3s)'))
    .addOption(new Option('--rebalance-timeout <duration>', 'group rebalance timeout (env KAFKA_REBALANCE_TIMEOUT, default 60s)'))
    .addOption(new Option('--fetch-max-wait <duration>', 'longest wait of a fetch for new records (env KAFKA_FETCH_MAX_WAIT, default 500ms)'))
    .addOption(new Option('--redis-timeout <duration>', 'Redis command timeout (env REDIS_COMMAND_TIMEOUT, default 5s)'))
    .option('--on-error <policy>', 'poison records: dlq (dead-letter and go on) or fail (stop before it) (env ON_ERROR, default dlq)')
    .option('--dlq-topic <topic>', 'dead-letter topic (env DLQ_TOPIC, default <group>.dlq)')
    .option('--max-record-bytes <n>', 'a larger record value is poison (env MAX_RECORD_BYTES, default 8388608)')
    .option('--format <format>', 'json, avro (Schema Registry framed: Avro, Protobuf, JSON Schema) or auto (env VALUE_FORMAT, default auto)')
    .option('--schema-registry <url>', 'Schema Registry URL; basic auth from env SCHEMA_REGISTRY_USERNAME, SCHEMA_REGISTRY_PASSWORD(_FILE) (env SCHEMA_REGISTRY_URL)')
    .option('--schema-registry-ca <file>', 'PEM CA bundle for an https:// registry (env SCHEMA_REGISTRY_CA_FILE)')
    .option('--schema-registry-timeout <duration>', 'registry lookup timeout; a lookup that fails is retried (env SCHEMA_REGISTRY_TIMEOUT, default 5s)')
    .option('--health-port <port>', 'HTTP /livez, /readyz and /metrics on this port, 0 = off (env HEALTH_PORT, default 0)')
    .option('--log-keys', 'allow cache key names and row values in debug logs; they may hold user data (env LOG_KEYS)');
  withKafkaSecurityOptions(withRedisOptions(cmd)).action(async (flags: RunFlags) => setExit(await runCommand(flags)));
}
