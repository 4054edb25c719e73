/**
 * @confluentinc/kafka-javascript (librdkafka bindings) for the bench's client bake-off. It does not
 * install from the npm registry alone (its install downloads a prebuilt binary, or librdkafka's
 * dependency sources, from hosts this project cannot reach), so it is not a dependency of the
 * project: `bash scripts/bench/build-confluent.sh` builds it from the registry's tarball against
 * Debian's libraries into .bench/confluent/ (or CDCI_BENCH_CONFLUENT_DIR), and the bench uses it
 * when it finds it there, else skips it with the reason.
 *
 * Only the part of its KafkaJS-compatible API the bench uses is typed here.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { repoRoot } from '../../../test/support/paths.js';

export interface CKMessage {
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers?: Record<string, Buffer | string | (Buffer | string)[] | undefined>;
}

export interface CKBatch {
  readonly topic: string;
  readonly partition: number;
  readonly highWatermark: string;
  readonly messages: CKMessage[];
}

export interface CKEachBatchPayload {
  readonly batch: CKBatch;
  resolveOffset(offset: string): void;
  heartbeat(): Promise<void>;
  isRunning(): boolean;
  isStale(): boolean;
}

export interface CKConsumer {
  connect(): Promise<void>;
  subscribe(s: { topics: string[] }): Promise<void>;
  run(r: { eachBatch: (p: CKEachBatchPayload) => Promise<void>; partitionsConsumedConcurrently?: number; eachBatchAutoResolve?: boolean }): Promise<void>;
  commitOffsets(offsets: { topic: string; partition: number; offset: string }[]): Promise<void>;
  pause(topics: { topic: string; partitions?: number[] }[]): void;
  /** One entry per assigned partition. */
  assignment(): { topic: string; partition: number }[];
  disconnect(): Promise<void>;
}

export interface CKKafka {
  consumer(config: Record<string, unknown>): CKConsumer;
}

export interface ConfluentModule {
  readonly KafkaJS: { Kafka: new (config: Record<string, unknown>) => CKKafka };
  readonly librdkafkaVersion: string;
}

export interface ConfluentLoad {
  readonly module?: ConfluentModule;
  readonly version?: string;
  readonly dir: string;
  /** Why it is not available (one line). */
  readonly reason?: string;
}

/** Where build-confluent.sh puts the built package. */
export function confluentDir(): string {
  return process.env['CDCI_BENCH_CONFLUENT_DIR'] ?? join(repoRoot(), '.bench', 'confluent', 'kafka-javascript');
}

let loaded: ConfluentLoad | undefined;

/** Loads the locally built package once; never throws. */
export function loadConfluent(): ConfluentLoad {
  if (loaded) return loaded;
  const dir = confluentDir();
  if (!existsSync(join(dir, 'package.json'))) {
    loaded = { dir, reason: `not built: bash scripts/bench/build-confluent.sh (it does not install from the npm registry alone); looked in ${dir}` };
    return loaded;
  }
  // A binding with unresolved symbols kills the process when a client is created: try it in a child first.
  const probe = spawnSync(
    process.execPath,
    ['-e', `const k = require(${JSON.stringify(dir)}); new k.KafkaJS.Kafka({ kafkaJS: { brokers: ['127.0.0.1:1'], logLevel: 0 } }).consumer({ kafkaJS: { groupId: 'probe' } }); process.exit(0);`],
    { encoding: 'utf8', timeout: 30_000 },
  );
  if (probe.status !== 0) {
    const why = `${probe.stderr ?? ''}${probe.error?.message ?? ''}`.trim().split('\n').filter(Boolean).pop() ?? `exit ${probe.status ?? probe.signal}`;
    loaded = { dir, reason: `the build in ${dir} does not work: ${why.slice(0, 200)} (rebuild: bash scripts/bench/build-confluent.sh)` };
    return loaded;
  }
  try {
    const require = createRequire(join(dir, 'package.json'));
    const module = require(dir) as ConfluentModule;
    const version = (require(join(dir, 'package.json')) as { version: string }).version;
    loaded = { dir, module, version: `${version} (librdkafka ${module.librdkafkaVersion})` };
  } catch (e) {
    loaded = { dir, reason: `cannot load ${dir}: ${(e as Error).message.split('\n')[0]}` };
  }
  return loaded;
}
