import type { Command } from 'commander';
import { ConfigError, EXIT_CONFIG, EXIT_FAILURE, EXIT_OK } from '../config/errors.js';
import { resolveOffsetsConfig, resolveReplayConfig, type RunFlags } from '../config/run-config.js';
import { loadMappings } from '../mapping/load.js';
import { formatProblem } from '../mapping/model.js';
import { RedisSink } from '../pipeline/sink/redis-sink.js';
import { createKafka } from '../pipeline/source/kafka-client.js';
import { CHANGE_OPS, type ChangeOp } from '../domain/types.js';
import { executeReset, planReset, showOffsets, type ResetTarget } from '../replay/offsets.js';
import { parsePosition, type Position } from '../replay/positions.js';
import { runReplay } from '../replay/replay.js';
import { createDecoder } from '../pipeline/decode/format.js';
import { createLogger } from '../telemetry/logger.js';
import { topicsForPrefix } from '../domain/types.js';
import { addSettings } from './options.js';

interface ReplayFlags extends RunFlags {
  from: string;
  to: string;
  mapping?: string[];
  ops?: string;
  dryRun?: boolean;
  maxRate?: string;
}

/** `--shift-by`: a whole number of records, negative to move back. */
function shiftBy(value: string): bigint {
  if (!/^[+-]?\d+$/.test(value.trim())) throw new ConfigError(`--shift-by: expected a whole number of records (negative: back), got "${value}"`);
  return BigInt(value.trim());
}

function position(value: string, flag: string): Position {
  try {
    return parsePosition(value);
  } catch (e) {
    throw new ConfigError(`${flag}: ${(e as Error).message}`);
  }
}

async function replayCommand(flags: ReplayFlags): Promise<number> {
  let config;
  let from: Position;
  let to: Position;
  try {
    config = resolveReplayConfig(flags);
    from = position(flags.from, '--from');
    to = position(flags.to, '--to');
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`cdc-invalidator: ${e.message}`);
      return EXIT_CONFIG;
    }
    throw e;
  }
  const logger = createLogger({ level: config.logLevel, destination: 2 });
  for (const w of config.warnings) logger.warn(w);
  const loaded = await loadMappings(config.mappingsDir);
  for (const p of loaded.problems) console.error(formatProblem(p));
  if (!loaded.set) return EXIT_CONFIG;
  let mappings = loaded.set;
  try {
    if (flags.mapping?.length) mappings = mappings.only(flags.mapping);
    if (flags.ops) {
      const ops = flags.ops.split(',').map((o) => o.trim());
      const bad = ops.filter((o) => !(CHANGE_OPS as readonly string[]).includes(o));
      if (bad.length) throw new ConfigError(`--ops: unknown op(s) ${bad.join(', ')}`);
      mappings = mappings.withOps(ops as ChangeOp[]);
    }
  } catch (e) {
    console.error(`cdc-invalidator: ${(e as Error).message}`);
    return EXIT_CONFIG;
  }
  const maxRate = flags.maxRate === undefined ? undefined : Number(flags.maxRate);
  if (maxRate !== undefined && !(maxRate > 0)) {
    console.error('cdc-invalidator: --max-rate: expected a positive number of keys per second');
    return EXIT_CONFIG;
  }
  const kafka = createKafka({ brokers: config.brokers, clientId: 'cdc-invalidator-replay', security: config.kafkaSecurity }, logger);
  try {
    const summary = await runReplay(
      kafka,
      () => new RedisSink({ connection: config.redis, commandTimeoutMs: config.redisTimeoutMs, chunkSize: 512, waitReplicas: config.redisWaitReplicas }, logger),
      {
        topics: config.topics,
        mappings,
        from,
        to,
        dryRun: flags.dryRun ?? false,
        maxRate,
        secondDeleteDelayMs: config.secondDeleteDelayMs,
        maxPendingSecondDeletes: config.maxPendingSecondDeletes,
        sessionTimeoutMs: config.sessionTimeoutMs,
        heartbeatIntervalMs: config.heartbeatIntervalMs,
        rebalanceTimeoutMs: config.rebalanceTimeoutMs,
        progressIntervalMs: 5_000,
        decode: createDecoder(config),
      },
      logger,
    );
    console.log(JSON.stringify(summary, null, 2));
    return EXIT_OK;
  } catch (e) {
    logger.error({ err: e }, 'replay failed');
    return EXIT_FAILURE;
  }
}

interface OffsetsFlags extends RunFlags {
  to?: string;
  shiftBy?: string;
  execute?: boolean;
}

async function offsetsCommand(action: 'show' | 'reset', flags: OffsetsFlags): Promise<number> {
  let config;
  let target: ResetTarget | undefined;
  try {
    config = resolveOffsetsConfig(flags);
    if (action === 'reset') {
      if ((flags.to === undefined) === (flags.shiftBy === undefined)) throw new ConfigError('reset: give exactly one of --to and --shift-by');
      target = flags.to !== undefined ? { kind: 'position', position: position(flags.to, '--to') } : { kind: 'shift', by: shiftBy(flags.shiftBy!) };
    }
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`cdc-invalidator: ${e.message}`);
      return EXIT_CONFIG;
    }
    throw e;
  }
  const logger = createLogger({ level: config.logLevel, destination: 2 });
  for (const w of config.warnings) logger.warn(w);
  const admin = createKafka({ brokers: config.brokers, clientId: 'cdc-invalidator-offsets', security: config.kafkaSecurity }, logger).admin();
  await admin.connect();
  try {
    let topics: string[];
    if (config.topics.kind === 'list') topics = [...config.topics.topics];
    else if (config.topics.kind === 'regex') {
      const re = config.topics.pattern;
      topics = (await admin.listTopics()).filter((t) => re.test(t)).sort();
    } else {
      const loaded = await loadMappings(config.mappingsDir);
      if (!loaded.set) {
        for (const p of loaded.problems) console.error(formatProblem(p));
        return EXIT_CONFIG;
      }
      topics = topicsForPrefix(config.topics.prefix, loaded.set.tables());
    }
    if (action === 'show') {
      console.log('TOPIC\tPARTITION\tCOMMITTED\tEND\tLAG');
      for (const o of await showOffsets(admin, config.group, topics)) {
        console.log(`${o.topic}\t${o.partition}\t${o.committed < 0n ? '-' : o.committed}\t${o.end}\t${o.lag}`);
      }
      return EXIT_OK;
    }
    const steps = await planReset(admin, config.group, topics, target!);
    console.log('TOPIC\tPARTITION\tCURRENT\tNEW');
    for (const s of steps) console.log(`${s.topic}\t${s.partition}\t${s.current < 0n ? '-' : s.current}\t${s.target}`);
    if (!flags.execute) {
      console.error('dry run: nothing changed (add --execute to apply)');
      return EXIT_OK;
    }
    await executeReset(admin, config.group, steps);
    console.error(`offsets of group ${config.group} reset`);
    return EXIT_OK;
  } catch (e) {
    console.error(`cdc-invalidator: ${(e as Error).message}`);
    return EXIT_FAILURE;
  } finally {
    await admin.disconnect();
  }
}

export function registerReplay(program: Command, setExit: (code: number) => void): void {
  const replay = program.command('replay').description('re-invalidate the keys of a window of change events (own reader; the live group is untouched)');
  addSettings(replay, 'replay').action(async (flags: ReplayFlags) => setExit(await replayCommand(flags)));

  const offsets = program.command('offsets').description("the live group's offsets");
  const show = offsets.command('show').description('committed offset, end offset and lag per partition');
  addSettings(show, 'offsets').action(async (flags: OffsetsFlags) => setExit(await offsetsCommand('show', flags)));
  const reset = offsets.command('reset').description('plan (and with --execute apply) new committed offsets; refuses while the group has members');
  addSettings(addSettings(reset, 'offsets'), 'offsets reset').action(async (flags: OffsetsFlags) => setExit(await offsetsCommand('reset', flags)));
}
