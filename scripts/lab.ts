/**
 * npm run lab — the consistency lab (docs/consistency.md). On the real stack — Postgres 15,
 * Debezium in Kafka Connect, Kafka, Redis, and the worker CLI — a writer updates rows of lab.items (a
 * version column) at a set rate while cache-aside readers with Zipf popularity read them through each
 * strategy, a share of their fills paused between reading the row and writing the cache. Every read is
 * judged against the COMMITs that returned before it began. Prints a table, writes JSON and an SVG of the
 * staleness distribution per strategy. Everything it starts is stopped at the end, also on failure.
 */
import { setMaxListeners } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createCacheClient, type CacheClient } from '../src/client/index.js';
import { SETTINGS } from '../src/config/settings.js';
import { waitFor } from '../test/support/processes.js';
import { startCdcStack, type CdcStack } from '../test/support/stack/cdc-stack.js';
import { stackUnavailable } from '../test/support/stack/jars.js';
import { WorkerProcess } from '../test/support/worker-process.js';
import { CommitLog } from './lab/oracle.js';
import { parseLabOptions, UsageError, type LabOptions } from './lab/options.js';
import { Observer } from './lab/probes.js';
import { leaseEntry, runReaders, type ReaderContext } from './lab/readers.js';
import { renderTable, renderWorkerTable, strategyResult, type StrategyResult, type WorkerCounts } from './lab/report.js';
import { mappingYaml, STRATEGIES, TABLE, type Strategy, type WorkerId } from './lab/strategies.js';
import { stalenessSvg } from './lab/svg.js';
import { Tally } from './lab/tally.js';
import { seededRandom, sleep, Zipf } from './lab/workload.js';
import { runWriter } from './lab/writer.js';

const t0 = performance.now();
const log = (line: string): void => console.log(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${line}`);

let opts: LabOptions;
try {
  opts = parseLabOptions(process.argv.slice(2));
} catch (e) {
  if (e instanceof UsageError) {
    console.error(e.message);
    process.exit(2);
  }
  throw e;
}

/** The inspector strategy needs the worker's --verify-sample (the worker's sampled read-back). */
const hasInspector = SETTINGS.some((s) => s.name === 'verify-sample');
const strategies: readonly Strategy[] = STRATEGIES.filter((s) => s.worker !== 'inspector' || hasInspector);
const workerIds = [...new Set(strategies.map((s) => s.worker).filter((w): w is WorkerId => w !== undefined))];

let stack: CdcStack | undefined;
const workers = new Map<WorkerId, WorkerProcess>();
let db: pg.Pool | undefined;
let redis: Redis | undefined;
let appRedis: Redis | undefined;
let client: CacheClient | undefined;
let observer: Observer | undefined;
const stopReaders = new AbortController();
setMaxListeners(10_000, stopReaders.signal); // every reader's think time listens to it
let cleaning: Promise<void> | undefined;
const cleanup = (): Promise<void> =>
  (cleaning ??= (async () => {
    stopReaders.abort();
    observer?.stop();
    await client?.close().catch(() => undefined);
    appRedis?.disconnect();
    redis?.disconnect();
    await db?.end().catch(() => undefined);
    for (const w of workers.values()) await w.stop(30_000).catch(() => undefined);
    await stack?.stop().catch(() => undefined);
  })());
process.once('SIGINT', () => {
  console.error('interrupted; stopping the stack');
  void cleanup().then(() => process.exit(130));
});
const cap = setTimeout(() => {
  console.error(`the lab ran longer than its cap of ${Math.round(opts.capMs / 1000)} s; stopping`);
  void cleanup().then(() => process.exit(1));
}, opts.capMs);
cap.unref();

function initSql(rows: number): string {
  return `CREATE SCHEMA lab;
CREATE TABLE ${TABLE} (id int PRIMARY KEY, version int NOT NULL, payload text NOT NULL);
ALTER TABLE ${TABLE} REPLICA IDENTITY FULL;
INSERT INTO ${TABLE} SELECT g, 1, repeat('x', 64) FROM generate_series(1, ${rows}) g;`;
}

/** The per-mapping counters of one worker's /metrics (absent metrics: undefined). */
async function workerCounts(w: WorkerProcess, mapping: string): Promise<WorkerCounts> {
  const text = await w.metrics();
  const has = (name: string): boolean => text.includes(`\n${name}{`) || text.startsWith(`${name}{`);
  const get = async (name: string, labels: Record<string, string>): Promise<number | undefined> => (has(name) ? await w.metric(name, labels) : undefined);
  const firstPassHits = await get('cdc_invalidator_first_pass_hits_total', { mapping });
  const secondPassRemovals = await get('cdc_invalidator_second_pass_removals_total', { mapping });
  const verifyStale = await get('cdc_invalidator_verify_checks_total', { mapping, outcome: 'stale' });
  let verifyChecked: number | undefined;
  if (verifyStale !== undefined) {
    verifyChecked = 0;
    for (const outcome of ['fresh', 'stale', 'absent', 'lease', 'no_envelope', 'unknown', 'error']) verifyChecked += (await get('cdc_invalidator_verify_checks_total', { mapping, outcome })) ?? 0;
  }
  return {
    ...(firstPassHits !== undefined ? { firstPassHits } : {}),
    ...(secondPassRemovals !== undefined ? { secondPassRemovals } : {}),
    ...(verifyStale !== undefined ? { verifyStale, verifyChecked } : {}),
  };
}

let exitCode = 0;
try {
  const unavailable = stackUnavailable();
  if (unavailable) throw new Error(`the real stack cannot run here: ${unavailable}`);
  log(`cdc-invalidator lab: ${cpus().length} cores; ${strategies.length} strategies; ${opts.rows} rows, Zipf ${opts.zipf}; ${opts.rate} updates/s for ${opts.writeMs / 1000} s; ${opts.readers} readers per strategy (think ${opts.thinkMs} ms); ${Math.round(opts.pauseShare * 100)} % of fills paused 0–${opts.pauseMaxMs} ms; TTL ${opts.ttlMs / 1000} s${opts.quick ? '; --quick' : ''}`);
  log('starting Postgres 15, Kafka, Kafka Connect with Debezium and Redis on 127.0.0.1…');
  stack = await startCdcStack({ initSql: initSql(opts.rows), connector: { 'table.include.list': TABLE } });
  const st = stack;
  log(`stack up: postgres ${st.timings.postgres} ms, kafka ${st.timings.kafka} ms, connect ${st.timings.connect} ms, connector ${st.timings.connector} ms`);
  const topic = st.topic(TABLE);
  const admin = st.kafka.kafka().admin();
  await admin.connect();
  try {
    await waitFor(async () => (await admin.listTopics()).includes(topic), { timeoutMs: 60_000, intervalMs: 250, message: `the topic ${topic} (the connector's snapshot)` });
  } finally {
    await admin.disconnect();
  }

  for (const w of workerIds) {
    const dir = join(opts.workDir, `mappings-${w}`);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'lab.yaml'), mappingYaml(w, strategies));
    const env: Record<string, string> = {
      CDC_INVALIDATOR_BROKERS: st.kafka.brokers.join(','),
      CDC_INVALIDATOR_GROUP: `lab-${w}`,
      CDC_INVALIDATOR_TOPIC_PREFIX: st.topicPrefix,
      CDC_INVALIDATOR_REDIS: st.redisServer.url,
      CDC_INVALIDATOR_MAPPINGS: dir,
      CDC_INVALIDATOR_LOG_LEVEL: 'warn',
      CDC_INVALIDATOR_FETCH_MAX_WAIT: '100ms',
      CDC_INVALIDATOR_COMMIT_INTERVAL: '200ms',
      CDC_INVALIDATOR_SHUTDOWN_GRACE: '15s',
      // its dead-letter topic: created by the worker (one node)
      CDC_INVALIDATOR_DLQ_CREATE_PARTITIONS: '1',
      CDC_INVALIDATOR_DLQ_CREATE_REPLICATION: '1',
      ...(w === 'inspector' ? { CDC_INVALIDATOR_VERIFY_SAMPLE: '1', CDC_INVALIDATOR_VERIFY_AFTER: `${opts.verifyAfterMs}ms` } : {}),
    };
    const worker = new WorkerProcess(env);
    workers.set(w, worker);
  }
  await Promise.all([...workers.values()].map((w) => w.start()));
  log(`worker${workers.size > 1 ? 's' : ''} running: ${[...workers.keys()].map((w) => `${w} (${strategies.filter((s) => s.worker === w).map((s) => s.name).join(', ')})`).join('; ')}`);

  db = new pg.Pool({ connectionString: st.postgres.urlFor('shop'), max: 16, connectionTimeoutMillis: 10_000 });
  db.on('error', () => undefined);
  redis = new Redis(st.redisServer.url, { maxRetriesPerRequest: 2 });
  appRedis = new Redis(st.redisServer.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: 2_000 });
  appRedis.on('error', () => undefined);
  await waitFor(() => appRedis!.status === 'ready', { timeoutMs: 10_000, message: 'the application Redis connection' });
  const commitLog = new CommitLog();
  const versions = new Map<number, number>();
  for (let id = 1; id <= opts.rows; id++) {
    commitLog.seed(id, 1);
    versions.set(id, 1);
  }
  const tallies = new Map(strategies.map((s) => [s.name, new Tally(s)]));
  observer = await Observer.start(st.redisServer.url, { strategies, tallies, log: commitLog, verifyAfterMs: opts.verifyAfterMs });
  const obs = observer;
  const zipf = new Zipf(opts.rows, opts.zipf);

  // Warm-up: one change end to end (Debezium → Kafka → every worker), before anything is measured.
  const warm = await runWriter(
    { rate: 1, durationMs: 1, seed: opts.seed, workers: workerIds },
    { db, redis, log: commitLog, zipf: new Zipf(1, 0), versions, signal: stopReaders.signal, onCommit: (c) => obs.committed(c) },
  );
  await waitFor(() => obs.pendingMarkers === 0, { timeoutMs: 90_000, intervalMs: 100, message: `the first change's delete by every worker (${warm.commits} written)` });
  log(`a first change went through every worker (lag ${[...obs.lags.values()].map((l) => `${Math.round(l[0] ?? NaN)} ms`).join(', ')}); measuring`);
  obs.lags.clear();
  for (const s of strategies) tallies.set(s.name, new Tally(s));
  const warmTallies = tallies;

  client = await createCacheClient({
    redis: appRedis,
    mappings: join(opts.workDir, 'mappings-main'),
    redisTimeoutMs: 2_000,
    defaults: { ttlMs: opts.ttlMs, jitter: 0, negativeTtlMs: 0, leaseTtlMs: 5_000, waitMs: 3_000, loadTimeoutMs: 10_000 },
  });
  const ctx: ReaderContext = { redis, db, log: commitLog, zipf, ttlMs: opts.ttlMs, thinkMs: opts.thinkMs, pauseShare: opts.pauseShare, pauseMaxMs: opts.pauseMaxMs, signal: stopReaders.signal };
  const readStart = performance.now();
  const readers = strategies.map((s, i) => {
    const entry = s.fill === 'lease' ? leaseEntry(client!, s, ctx, seededRandom(opts.seed + 1000 + i)) : undefined;
    // Every strategy's readers draw the same key sequence (same seeds): the workloads differ only in timing.
    return runReaders(ctx, s, warmTallies.get(s.name)!, opts.readers, opts.seed + 100, entry);
  });
  const writer = await runWriter(
    { rate: opts.rate, durationMs: opts.writeMs, seed: opts.seed + 1, workers: workerIds },
    { db, redis, log: commitLog, zipf, versions, signal: stopReaders.signal, onCommit: (c) => obs.committed(c) },
  );
  log(`writer done: ${writer.commits} commits (${writer.failed} failed); readers go on until the last change's probes are done`);
  const lastProbe = performance.now() + 10_000 + 1_500;
  await sleep(lastProbe - performance.now());
  await waitFor(() => obs.pendingProbes === 0, { timeoutMs: 20_000, intervalMs: 100, message: 'the last probes' }).catch(() => log(`${obs.pendingProbes} probes still pending: left out`));
  stopReaders.abort();
  await Promise.all(readers);
  const seconds = (performance.now() - readStart) / 1000;
  log(`readers stopped after ${seconds.toFixed(0)} s; ${obs.pendingMarkers} changes without an observed first delete; ${obs.probeErrors} probe errors`);

  const results: StrategyResult[] = [];
  for (const s of strategies) {
    const w = s.worker ? workers.get(s.worker) : undefined;
    results.push(strategyResult(s, warmTallies.get(s.name)!, seconds, commitLog, s.worker ? obs.lags.get(s.worker) : undefined, w ? await workerCounts(w, s.name) : undefined));
  }
  const exits: Record<string, number | null> = {};
  for (const [id, w] of workers) exits[id] = await w.stop(30_000);
  workers.clear();

  const header = `cdc-invalidator lab — ${writer.commits} changes (${opts.rate}/s for ${opts.writeMs / 1000} s) on ${opts.rows} rows (Zipf ${opts.zipf}), ${opts.readers} readers per strategy, ${Math.round(opts.pauseShare * 100)} % of fills paused 0–${opts.pauseMaxMs / 1000} s, TTL ${opts.ttlMs / 1000} s${opts.quick ? ', --quick' : ''}`;
  console.log(`\n${header}\n\n${renderTable(results)}`);
  const wt = renderWorkerTable(results);
  if (wt) console.log(`\n${wt}`);
  const failed = results.filter((r) => r.bar?.pass === false);
  console.log(`\nbar: ${failed.length === 0 ? 'PASS' : `FAIL (${failed.map((r) => r.label).join(', ')})`} — 0 keys stale later than lag + second-delete delay (+ tick + ${300} ms slack) holding a value written before the second delete could run; 0 stale reads after the change's first delete with leases`);
  const json = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, node: process.version },
    options: { ...opts },
    commits: writer.commits,
    writerFailures: writer.failed,
    seconds: Math.round(seconds),
    workerExitCodes: exits,
    unobservedFirstDeletes: obs.pendingMarkers,
    probeErrors: obs.probeErrors,
    strategies: results,
  };
  await mkdir(dirname(opts.outFile), { recursive: true });
  await writeFile(opts.outFile, `${JSON.stringify(json, null, 2)}\n`);
  await mkdir(dirname(opts.svgFile), { recursive: true });
  await writeFile(
    opts.svgFile,
    stalenessSvg(
      strategies.map((s) => ({ label: s.label, reads: warmTallies.get(s.name)!.reads, staleness: warmTallies.get(s.name)!.staleness })),
      'Stale reads by how long they had been stale',
      `${writer.commits} changes at ${opts.rate}/s, ${opts.readers} readers/strategy, ${Math.round(opts.pauseShare * 100)} % of fills paused 0–${opts.pauseMaxMs / 1000} s, TTL ${opts.ttlMs / 1000} s`,
    ),
  );
  console.log(`\nresults: ${opts.outFile}\npicture: ${opts.svgFile}`);
  log(`done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  if (failed.length > 0 || Object.values(exits).some((c) => c !== 0)) exitCode = 1;
} catch (e) {
  console.error(`lab failed: ${(e as Error).stack ?? String(e)}`);
  for (const [id, w] of workers) console.error(`worker ${id} output:\n${w.output.slice(-4000)}`);
  exitCode = 1;
} finally {
  await cleanup();
}
process.exit(exitCode);
