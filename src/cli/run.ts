import type { Command } from 'commander';
import { EXIT_CONFIG, EXIT_FAILURE, EXIT_OK } from '../config/errors.js';
import { describeConfig, resolveRunConfig, type RunFlags } from '../config/run-config.js';
import { configOrReport } from './config.js';
import { onShutdownSignals } from './signals.js';
import { addSettings } from './options.js';
import { delaysBeyondGrace } from '../mapping/delays.js';
import { loadMappings } from '../mapping/load.js';
import { formatProblem } from '../mapping/model.js';
import { composeWorker } from '../runtime/compose.js';
import { SinkConfigError } from '../pipeline/sink/sink.js';
import { startHealthServer } from '../runtime/health.js';
import { createLogger } from '../telemetry/logger.js';
import { Stats } from '../telemetry/stats.js';
import { collectDefaultMetrics, Registry } from 'prom-client';

/** `run`: the worker, with signals handled here (never in library code). */
export async function runCommand(flags: RunFlags): Promise<number> {
  const config = configOrReport(() => resolveRunConfig(flags));
  if (!config) return EXIT_CONFIG;
  const logger = createLogger({ level: config.logLevel, logKeys: config.logKeys });
  for (const w of config.warnings) logger.warn(w);
  const loaded = await loadMappings(config.mappingsDir);
  for (const p of loaded.problems) console.error(formatProblem(p));
  if (!loaded.set) {
    logger.error({ problems: loaded.problems.length, dir: config.mappingsDir }, 'invalid mappings; not starting');
    return EXIT_CONFIG;
  }
  for (const w of delaysBeyondGrace(loaded.set.mappings, config.secondDeleteDelayMs, config.shutdownGraceMs)) {
    logger.warn({ ...(w.mapping ? { mapping: w.mapping, at: `${w.pos!.file}:${w.pos!.line}` } : {}), secondDeleteDelayMs: w.delayMs, shutdownGraceMs: config.shutdownGraceMs }, w.message);
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

  let health: Awaited<ReturnType<typeof startHealthServer>> | undefined;
  try {
    health = config.healthPort > 0 ? await startHealthServer(config.healthPort, worker, logger, registry) : undefined;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    console.error(`cdc-invalidator: --health-port ${config.healthPort}: ${code === 'EADDRINUSE' ? 'the port is already in use' : code === 'EACCES' ? 'not allowed to listen on it' : (e as Error).message}`);
    await worker.stop(0);
    return EXIT_CONFIG;
  }
  try {
    // A signal during start-up (Redis or Kafka unreachable) ends the wait: done resolves first.
    await Promise.race([worker.start(), worker.done]);
  } catch (e) {
    logger.error({ err: e }, 'could not start');
    await worker.done;
    await health?.close();
    return failureExit(e);
  }
  const result = await worker.done;
  await health?.close();
  if (result.state === 'failed') {
    logger.error({ err: result.error }, 'worker failed');
    return failureExit(result.error);
  }
  return EXIT_OK;
}

/** 1, or 78 when Redis does not match the settings (too few replicas for --redis-wait-replicas), said on stderr. */
function failureExit(err: unknown): number {
  if (!(err instanceof SinkConfigError)) return EXIT_FAILURE;
  console.error(`cdc-invalidator: ${err.message}`);
  return EXIT_CONFIG;
}

export function registerRun(program: Command, setExit: (code: number) => void): void {
  const cmd = program
    .command('run')
    .description('consume change events and delete the mapped Redis keys (twice), committing after Redis acknowledged');
  addSettings(cmd, 'run').action(async (flags: RunFlags) => setExit(await runCommand(flags)));
}
