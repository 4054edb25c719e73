/**
 * npm run bench — measures the worker against its ceilings on this machine, in one run: its own
 * redis-server and Kafka broker (Apache Kafka, one KRaft node; `--broker mock` for librdkafka's mock
 * cluster hosted by kcat), a preloaded Debezium change stream, then
 *   1 consume+decode ceiling, 2 Redis ceiling, 3 naive baseline, 4 the worker,
 *   5 added latency at a fixed rate, 6 memory under backlog, 7 CPU per record vs partitions.
 * Prints a table, ratios and targets (PASS/MISS, never a failing exit for a miss) and writes the
 * results as JSON. See docs/performance.md.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { makeKafka } from '../test/support/kafka.js';
import { startRedis, type RedisServer } from '../test/support/redis-server.js';
import { backlogPhase } from './bench/backlog.js';
import { chartSvg } from './bench/chart.js';
import { clientInfo, type ClientName } from './bench/clients/index.js';
import { startBenchBroker, type BenchBroker } from './bench/broker.js';
import { consumeCeiling, type ConsumeResult } from './bench/consume.js';
import { latencyPhase, type LatencyResult } from './bench/latency.js';
import { prepareMainStream, type MainStream } from './bench/main-stream.js';
import { naiveBaseline } from './bench/naive.js';
import { parseOptions, UsageError, type BenchOptions, type Phase } from './bench/options.js';
import { formatProfile, summarizeProfile, type ProfileSummary } from './bench/profile-summary.js';
import { redisCeiling } from './bench/redis-ceiling.js';
import { ratios, render, targets, type Results } from './bench/report.js';
import { scalingPhase } from './bench/scaling.js';
import { connectProducer } from './bench/stream.js';
import { cacheKeys, median, type BenchContext } from './bench/util.js';
import { runWorker, type WorkerRunResult } from './bench/worker-run.js';

const t0 = performance.now();
const log = (line: string): void => console.log(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${line}`);

let opts: BenchOptions;
try {
  opts = parseOptions(process.argv.slice(2));
} catch (e) {
  if (e instanceof UsageError) {
    console.error(e.message);
    process.exit(2);
  }
  throw e;
}

function version(cmd: string, args: string[], re: RegExp): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 });
  if (r.error || r.status !== 0) return 'unknown';
  return re.exec(`${r.stdout}${r.stderr}`)?.[1] ?? 'unknown'; // java -version writes to stderr
}

const machine = {
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? 'unknown',
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  redis: version('redis-server', ['--version'], /v=(\S+)/),
  librdkafka: opts.broker === 'mock' ? version('kcat', ['-V'], /librdkafka (\S+)/) : undefined,
  java: opts.broker === 'real' ? version('java', ['-version'], /version "([^"]+)"/) : undefined,
  /** 1-minute load average when the run started (the machine is shared). */
  loadAverage: loadavg().map((x) => Math.round(x * 100) / 100),
};
/** The code measured: the commit, and whether src/ had uncommitted changes (others edit it concurrently). */
const code = {
  commit: version('git', ['rev-parse', '--short', 'HEAD'], /(\S+)/),
  srcDirty: version('git', ['status', '--porcelain', '--', 'src'], /([\s\S]+)/) !== 'unknown',
};

let broker: BenchBroker | undefined;
let redisServer: RedisServer | undefined;
let cleaningUp: Promise<void> | undefined;
const cleanup = (): Promise<void> =>
  (cleaningUp ??= (async () => {
    await redisServer?.cleanup().catch(() => undefined);
    await broker?.stop().catch(() => undefined);
  })());
process.once('SIGINT', () => {
  console.error('interrupted; stopping redis-server and the broker');
  void cleanup().then(() => process.exit(130));
});

const results: Results = { errors: {} };
let profile: ProfileSummary | undefined;
const profiles: Partial<Record<ClientName, ProfileSummary>> = {};
/** The client behind the worker's Source by default: the targets are measured against it. */
const DEFAULT_CLIENT: ClientName = 'kafkajs';
let exitCode = 0;

/** The run with the median value (the lower middle one for an even count). */
function medianRun<T>(runs: readonly T[], value: (r: T) => number): T | undefined {
  return [...runs].sort((a, b) => value(a) - value(b))[Math.floor((runs.length - 1) / 2)];
}

async function phase<T>(name: Phase | 'stream', run: () => Promise<T>): Promise<T | undefined> {
  const started = performance.now();
  log(`— ${name} —`);
  try {
    return await run();
  } catch (e) {
    results.errors[name] = (e as Error).message;
    log(`${name} failed: ${(e as Error).message}`);
    return undefined;
  } finally {
    log(`${name} took ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
}

try {
  log(`cdc-invalidator bench: ${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}, redis ${machine.redis}, load average ${machine.loadAverage.join(' ')}; work dir ${opts.workDir}; code ${code.commit}${code.srcDirty ? ' + uncommitted src/ changes' : ''}`);
  [broker, redisServer] = await Promise.all([startBenchBroker(opts.broker), startRedis()]);
  const brokerName = broker.kind === 'mock' ? `librdkafka ${machine.librdkafka} mock cluster (kcat)` : `${broker.description}, Java ${machine.java}`;
  const kafka = makeKafka(broker.brokers);
  const admin = kafka.admin();
  await admin.connect();
  const producer = await connectProducer(kafka, broker.kind === 'real');
  const ctx: BenchContext = { opts, broker, brokers: broker.brokers, redisUrl: redisServer.url, kafka, admin, producer, redis: redisServer.client(), log };
  log(`redis-server ${redisServer.url}; broker ${brokerName} on ${broker.brokers.join(',')}`);

  const needsMain = ['consume', 'redis', 'naive', 'worker'].some((p) => opts.phases.has(p as Phase));
  let main: MainStream | undefined;
  if (needsMain) {
    main = await phase('stream', () => prepareMainStream(ctx));
    if (main) results.stream = main.summary;
  }
  const on = (p: Phase): boolean => opts.phases.has(p) && (main !== undefined || !['consume', 'redis', 'naive', 'worker'].includes(p));

  const clients = opts.clients.map(clientInfo);
  for (const c of clients) log(`client ${c.name}: ${c.unavailable ? `skipped — ${c.unavailable}` : `${c.pkg} ${c.version}`}`);
  const runnable = clients.filter((c) => !c.unavailable);
  const bake: Partial<Record<ClientName, { consume: ConsumeResult[]; worker: WorkerRunResult[] }>> = {};
  for (const c of runnable) bake[c.name] = { consume: [], worker: [] };

  // Rounds alternate the clients (kafkajs, platformatic, confluent, kafkajs, …) so drift on a shared machine hits them alike.
  for (let i = 0; on('consume') && i < opts.repeat; i++) {
    for (const c of runnable) {
      const r = await phase('consume', () => consumeCeiling(ctx, main!, c.name));
      if (r) bake[c.name]!.consume.push(r);
    }
  }
  if (on('redis')) results.redis = await phase('redis', () => redisCeiling(ctx, main!));
  if (on('naive')) results.naive = await phase('naive', () => naiveBaseline(ctx, main!));
  // Each round runs every client's worker (and, with --baseline, the other build's kafkajs worker);
  // the order reverses every other round, so drift on a shared machine hits them alike.
  type WorkerVariant = { readonly client: ClientName; readonly build: 'this' | 'baseline' };
  const variants: WorkerVariant[] = [...runnable.map((c) => ({ client: c.name, build: 'this' as const })), ...(opts.baseline ? [{ client: DEFAULT_CLIENT, build: 'baseline' as const }] : [])];
  const baselineRuns: WorkerRunResult[] = [];
  const sideBySide: NonNullable<Results['sideBySide']> = [];
  for (let i = 0; on('worker') && i < opts.repeat; i++) {
    for (const v of i % 2 === 0 ? variants : [...variants].reverse()) {
      const profiled = opts.cpuProf && i === 0 && v.build === 'this';
      const what = v.build === 'baseline' ? 'baseline' : v.client;
      const run = await phase('worker', async () => {
        await ctx.redis.flushall();
        await cacheKeys(ctx.redis, main!.uniqueKeys);
        const profDir = join(opts.workDir, `cpu-profile-${v.client}`);
        if (profiled) await mkdir(profDir, { recursive: true });
        const w = await runWorker(ctx, {
          name: `worker-${what}${opts.repeat > 1 ? `-${i + 1}` : ''}`,
          client: v.client,
          ...(v.build === 'baseline' ? { cli: opts.baseline! } : {}),
          topics: main!.topics,
          ends: main!.ends,
          mappingsDir: main!.mappingsDir,
          records: main!.records,
          watchKeys: true,
          capMs: 120_000 + main!.records,
          ...(profiled ? { nodeArgs: ['--cpu-prof', '--cpu-prof-dir', profDir] } : {}),
        });
        log(
          `worker (${what}): ${w.records} records committed in ${w.seconds} s = ${w.recordsPerSecond} records/s (first deletes done at ${w.firstDeleteRecordsPerSecond} records/s); ` +
            `${w.keysDeleted} keys + ${w.secondKeysDeleted} second deletes; CPU ${w.cpuMicrosPerRecord} µs/record (${w.cores} cores); ` +
            `RSS peak ${(w.memory.peak / 1048576).toFixed(1)} MiB; ${w.leftoverKeys} cached keys left; exit ${w.exitCode}`,
        );
        if (w.leftoverKeys) throw new Error(`${w.leftoverKeys} cached keys were not deleted by the ${what} worker`);
        if (profiled) {
          const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
          if (file) {
            const summary = summarizeProfile(join(profDir, file), 25);
            profiles[v.client] = summary;
            log(`CPU profile (${v.client}) ${join(profDir, file)}\n${formatProfile(summary)}`);
          } else log(`no .cpuprofile was written (${v.client})`);
        }
        return w;
      });
      if (run) {
        if (v.build === 'baseline') baselineRuns.push(run);
        else bake[v.client]!.worker.push(run);
        if (opts.baseline && v.client === DEFAULT_CLIENT) sideBySide.push({ build: v.build, recordsPerSecond: run.recordsPerSecond, cpuMicrosPerRecord: run.cpuMicrosPerRecord });
      }
      await ctx.redis.flushall();
    }
  }
  results.bakeoff = clients.map((c) => {
    const b = bake[c.name];
    const consume = b ? medianRun(b.consume, (r) => r.recordsPerSecond) : undefined;
    const worker = b ? medianRun(b.worker, (r) => r.recordsPerSecond) : undefined;
    return {
      client: c.name,
      pkg: c.pkg,
      version: c.version,
      ...(c.unavailable ? { skipped: c.unavailable } : {}),
      ...(consume ? { consume, consumeRuns: b!.consume.map((r) => r.recordsPerSecond) } : {}),
      ...(worker ? { worker, workerRuns: b!.worker.map((r) => r.recordsPerSecond) } : {}),
    };
  });
  const chosen = results.bakeoff.find((b) => b.client === DEFAULT_CLIENT);
  results.consume = chosen?.consume;
  if (chosen?.consumeRuns && chosen.consumeRuns.length > 1) results.consumeRuns = chosen.consumeRuns;
  results.worker = chosen?.worker;
  if (chosen?.workerRuns && chosen.workerRuns.length > 1) results.workerRuns = chosen.workerRuns;
  profile = profiles[DEFAULT_CLIENT];
  if (opts.baseline) {
    const workerRuns = bake[DEFAULT_CLIENT]?.worker ?? [];
    results.baselineWorker = medianRun(baselineRuns, (r) => r.recordsPerSecond);
    results.baselineRuns = baselineRuns.map((r) => r.recordsPerSecond);
    results.sideBySide = sideBySide;
    const med = (runs: WorkerRunResult[], f: (r: WorkerRunResult) => number): number => median(runs.map(f));
    if (workerRuns.length > 0 && baselineRuns.length > 0) {
      log(
        `side by side (median of ${workerRuns.length} / ${baselineRuns.length}): this build ${med(workerRuns, (r) => r.recordsPerSecond)} records/s, ${med(workerRuns, (r) => r.cpuMicrosPerRecord)} µs CPU/record; ` +
          `baseline ${med(baselineRuns, (r) => r.recordsPerSecond)} records/s, ${med(baselineRuns, (r) => r.cpuMicrosPerRecord)} µs CPU/record`,
      );
    }
  }
  if (on('latency')) {
    const rate = opts.rate ?? (results.worker ? Math.max(100, Math.round(results.worker.recordsPerSecond / 2)) : 5000);
    const runs: LatencyResult[] = [];
    for (let i = 0; i < opts.repeat; i++) {
      const r = await phase('latency', () => latencyPhase(ctx, rate));
      if (r) runs.push(r);
      await ctx.redis.flushall();
    }
    results.latency = medianRun(runs, (r) => r.added.p99);
    if (runs.length > 1) results.latencyRunsP99 = runs.map((r) => r.added.p99);
  }
  if (on('backlog')) results.backlog = await phase('backlog', () => backlogPhase(ctx));
  if (on('scaling')) results.scaling = await phase('scaling', () => scalingPhase(ctx));

  await producer.disconnect().catch(() => undefined);
  await admin.disconnect().catch(() => undefined);

  const q = ratios(results, opts.delayMs);
  const ts = targets(results, q);
  const header = `cdc-invalidator bench — ${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}, redis ${machine.redis}, ${brokerName}; second delete ${opts.delayMs} ms${opts.quick ? '; --quick' : ''}${opts.label ? `; ${opts.label}` : ''}`;
  console.log(`\n${render(results, q, ts, header)}`);
  const { phases, ...shownOpts } = opts;
  const json = { date: new Date().toISOString(), machine, code, options: { ...shownOpts, phases: [...phases] }, ...results, ratios: q, targets: ts, profile, profiles };
  await mkdir(dirname(opts.outFile), { recursive: true });
  await writeFile(opts.outFile, `${JSON.stringify(json, null, 2)}\n`);
  const chartFile = `${opts.outFile.replace(/\.json$/, '')}.svg`;
  await writeFile(chartFile, chartSvg(results, q, `${header.replace(/^cdc-invalidator bench — /, '')} · ${new Date().toISOString().slice(0, 16)} · ${code.commit}`));
  console.log(`\nresults: ${opts.outFile}\nchart: ${chartFile}\nlogs of the worker processes: ${opts.workDir}`);
  log(`done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  if (Object.keys(results.errors).length > 0) exitCode = 1;
} catch (e) {
  console.error(`bench failed: ${(e as Error).stack ?? String(e)}`);
  exitCode = 1;
} finally {
  await cleanup();
}
process.exit(exitCode);
