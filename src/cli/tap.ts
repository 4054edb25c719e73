import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { EXIT_CONFIG, EXIT_FAILURE, EXIT_OK } from '../config/errors.js';
import { resolveTapConfig, type RunFlags } from '../config/run-config.js';
import { integerValue } from '../config/values.js';
import { formatPassCounts, parsePassCounts, type PassCounts } from './pass-counts.js';
import { configOrReport } from './config.js';
import { addSettings } from './options.js';
import { evaluate } from '../mapping/evaluate.js';
import { ReplicaIdentityMemory } from '../mapping/replica-identity.js';
import { loadMappings } from '../mapping/load.js';
import { formatProblem } from '../mapping/model.js';
import { createDecoder } from '../pipeline/decode/format.js';
import { DecodeError } from '../pipeline/decode/errors.js';
import { createKafka } from '../pipeline/source/kafka-client.js';
import { topicsForPrefix } from '../domain/types.js';
import { createLogger } from '../telemetry/logger.js';

interface TapFlags extends RunFlags {
  table?: string;
  limit?: string;
  workerMetrics?: string;
}

/** How often `--worker-metrics` is read. */
const PASSES_EVERY_MS = 5_000;

/**
 * Every PASSES_EVERY_MS (and once at the end), what each pass of the live worker removed per mapping,
 * from its /metrics, on stderr. A failed read is reported once per outage, never fatal.
 */
function watchPasses(url: string): () => Promise<void> {
  let before = new Map<string, PassCounts>();
  let failing = false;
  const read = async (): Promise<void> => {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const now = parsePassCounts(await res.text());
      for (const line of formatPassCounts(now, before)) console.error(line);
      before = now;
      failing = false;
    } catch (e) {
      if (!failing) console.error(`cdc-invalidator: --worker-metrics ${url}: ${(e as Error).message}`);
      failing = true;
    }
  };
  const timer = setInterval(() => void read(), PASSES_EVERY_MS);
  void read();
  return async () => {
    clearInterval(timer);
    await read();
  };
}

/**
 * `tap`: a live, read-only look at what the worker decides. Joins a throwaway group (the live
 * group is untouched, nothing is committed), reads the newest records, and prints one JSON line
 * per event with what it would invalidate. Notices go to stderr.
 */
async function tapCommand(flags: TapFlags): Promise<number> {
  const config = configOrReport(() => resolveTapConfig(flags));
  if (!config) return EXIT_CONFIG;
  const limit = flags.limit === undefined ? Infinity : configOrReport(() => integerValue(flags.limit!, '--limit', 1, Number.MAX_SAFE_INTEGER));
  if (limit === undefined) return EXIT_CONFIG;
  for (const w of config.warnings) console.error(`cdc-invalidator: warning: ${w}`);
  const loaded = await loadMappings(config.mappingsDir);
  for (const p of loaded.problems) console.error(formatProblem(p));
  if (!loaded.set) return EXIT_CONFIG;
  const mappings = loaded.set;
  const decode = createDecoder(config);
  const identities = new ReplicaIdentityMemory();
  const logger = createLogger({ level: config.logLevel === 'info' ? 'warn' : config.logLevel, destination: 2 });
  const kafka = createKafka({ brokers: config.brokers, clientId: 'cdc-invalidator-tap', security: config.kafkaSecurity }, logger);
  const topics = config.topics.kind === 'list' ? [...config.topics.topics] : config.topics.kind === 'regex' ? [config.topics.pattern] : topicsForPrefix(config.topics.prefix, mappings.tables());
  const consumer = kafka.consumer({
    groupId: `cdc-invalidator-tap-${randomUUID()}`,
    sessionTimeout: config.sessionTimeoutMs,
    heartbeatInterval: config.heartbeatIntervalMs,
    rebalanceTimeout: config.rebalanceTimeoutMs,
  });
  if (flags.workerMetrics !== undefined) {
    try {
      const u = new URL(flags.workerMetrics);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
    } catch {
      console.error(`cdc-invalidator: --worker-metrics: expected an http(s) URL such as http://worker:8080/metrics, got "${flags.workerMetrics}"`);
      return EXIT_CONFIG;
    }
  }
  let printed = 0;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  process.once('SIGINT', () => finish());
  process.once('SIGTERM', () => finish());
  await consumer.connect();
  try {
    await consumer.subscribe({ topics, fromBeginning: false });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ topic, partition, message }) => {
        if (printed >= limit) return;
        const record = { topic, partition, offset: message.offset, key: message.key, value: message.value, headers: {} };
        let line: Record<string, unknown>;
        try {
          const d = await decode(record);
          if (d.kind === 'skip') return;
          const event = identities.apply(d.event); // as the worker would know the table's identity
          if (flags.table && event.table !== flags.table) return;
          const plan = evaluate(event, mappings);
          line = { topic, partition, offset: message.offset, table: event.table, op: event.op, mappings: plan.mappings, keys: plan.keys, tags: plan.tags, versions: plan.versions, skipped: plan.skipped.map((s) => `${s.mapping}:${s.template}:${s.reason}`) };
        } catch (e) {
          line = { topic, partition, offset: message.offset, error: (e as Error).message, ...(e instanceof DecodeError ? { code: e.code } : {}) };
        }
        console.log(JSON.stringify(line));
        if (++printed >= limit) finish();
      },
    });
    console.error(`tapping ${topics.join(', ')} (newest records; Ctrl-C to stop)`);
    const stopPasses = flags.workerMetrics ? watchPasses(flags.workerMetrics) : undefined;
    await finished;
    await stopPasses?.();
    return EXIT_OK;
  } catch (e) {
    console.error(`cdc-invalidator: ${(e as Error).message}`);
    return EXIT_FAILURE;
  } finally {
    await consumer.disconnect();
  }
}

export function registerTap(program: Command, setExit: (code: number) => void): void {
  const cmd = program
    .command('tap')
    .description('print what the newest change events would invalidate (read-only; joins no live group, commits nothing)');
  addSettings(cmd, 'tap').action(async (flags: TapFlags) => setExit(await tapCommand(flags)));
}
