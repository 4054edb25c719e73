/**
 * The worker for the client bake-off: what `cdc-invalidator run` composes (composeWorker), with the
 * Source of another Kafka client. Argument 1: the run flags as JSON (RunFlags); argument 2: the
 * client name. Logs JSON to stdout like the CLI; SIGTERM drains and exits (0 when stopped cleanly).
 */
import { resolveRunConfig, type RunFlags } from '../../src/config/run-config.js';
import { loadMappings } from '../../src/mapping/load.js';
import { composeWorker, consumerSettings } from '../../src/runtime/compose.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { Stats } from '../../src/telemetry/stats.js';
import { isClientName, makeSource } from './clients/index.js';

const [flagsJson, client] = process.argv.slice(2);
if (!flagsJson || !client || !isClientName(client)) {
  console.error('usage: worker-main.js <run flags as JSON> <kafkajs|platformatic|confluent>');
  process.exit(2);
}
const config = resolveRunConfig(JSON.parse(flagsJson) as RunFlags, {});
const logger = createLogger({ level: config.logLevel });
const loaded = await loadMappings(config.mappingsDir);
if (!loaded.set) {
  logger.error({ problems: loaded.problems.length }, 'invalid mappings; not starting');
  process.exit(78);
}
const worker = composeWorker(config, loaded.set, logger, new Stats(), {
  source: (topics) =>
    makeSource(
      client,
      config.brokers,
      { ...consumerSettings(config), topics: [...topics.named], fromBeginning: config.initialPosition.kind === 'earliest' },
      logger,
    ),
});
process.once('SIGTERM', () => void worker.stop(config.shutdownGraceMs));
process.once('SIGINT', () => void worker.stop(config.shutdownGraceMs));
try {
  await Promise.race([worker.start(), worker.done]);
} catch (e) {
  logger.error({ err: { message: (e as Error).message } }, 'could not start');
}
const result = await worker.done;
process.exit(result.state === 'stopped' ? 0 : 1);
