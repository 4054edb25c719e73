import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { BrokerChoice } from './broker.js';
import { CLIENTS, isClientName, type ClientName } from './clients/index.js';

export const PHASES = ['consume', 'redis', 'naive', 'worker', 'latency', 'backlog', 'scaling'] as const;
export type Phase = (typeof PHASES)[number];

export interface BenchOptions {
  /** Apache Kafka (real, the default) or librdkafka's mock cluster. */
  readonly broker: BrokerChoice;
  /** Kafka clients of the bake-off (phases consume and worker), in the order they run. */
  readonly clients: readonly ClientName[];
  /** Kafka records in the main stream (phases consume, redis, naive, worker). */
  readonly events: number;
  /** Records in the backlog of the memory phase. */
  readonly backlog: number;
  /** Records per configuration of the scaling phase. */
  readonly scaleEvents: number;
  /** Second-delete delay of the worker, ms. */
  readonly delayMs: number;
  /** Time cap of the naive baseline, ms (it also stops after `events` records). */
  readonly naiveMs: number;
  /** Length of the fixed-rate run of the latency phase, ms. */
  readonly latencyMs: number;
  /** Fixed rate of the latency phase (events/s); undefined = half the measured worker throughput. */
  readonly rate: number | undefined;
  /** Messages per producer send while preloading (one topic per send). */
  readonly produceBatch: number;
  readonly phases: ReadonlySet<Phase>;
  readonly quick: boolean;
  /** Runs the worker of the throughput phase under `node --cpu-prof` and summarizes the profile. */
  readonly cpuProf: boolean;
  /** Extra node flags for the worker child processes (phases worker, backlog, scaling). */
  readonly workerNodeArgs: readonly string[];
  readonly outFile: string;
  readonly workDir: string;
  readonly seed: number;
  /** Runs of the consume-ceiling, worker and latency phases; the median run is reported. */
  readonly repeat: number;
  /** Free text stored with the results (e.g. what code was measured). */
  readonly label: string | undefined;
  /**
   * Another build's CLI (its dist/src/cli/main.js): the worker phase runs it too, alternating with this
   * build's on the same stream, each --repeat times, so the two are compared side by side in one run.
   */
  readonly baseline: string | undefined;
}

const USAGE = `usage: npm run bench -- [options]
  --broker real|mock  Apache Kafka (KRaft, one node; the default) or librdkafka's mock cluster (kcat)
  --clients LIST      Kafka clients of the bake-off in phases consume and worker (default ${CLIENTS.join(',')};
                      one not installed or built is skipped with the reason)
  --events N          records in the main stream (default 200000; --quick 20000)
  --backlog N         records in the memory-under-backlog phase (default 1000000; --quick 30000)
  --scale-events N    records per configuration in the scaling phase (default 30000; --quick 3000)
  --delay MS          second-delete delay of the worker (default 1000)
  --naive-seconds S   time cap of the naive baseline (default 15; --quick 2)
  --latency-seconds S length of the fixed-rate latency run (default 10; --quick 2)
  --rate N            fixed rate of the latency run, events/s (default: half the measured worker rate)
  --produce-batch N   messages per producer send while preloading (default 1000)
  --phases LIST       comma-separated subset of ${PHASES.join(',')} (default all)
  --quick             small sizes: a run of a couple of minutes
  --cpu-prof          profile the worker of the throughput phase (node --cpu-prof) and print its hot spots
  --worker-node-arg A node flag for the worker child processes, repeatable (e.g. --max-semi-space-size=32)
  --out FILE          JSON results (default <tmp dir>/bench-results.json)
  --seed N            seed of the generated stream (default 42)
  --repeat N          run the consume-ceiling, worker and latency phases N times, report the median (default 1)
  --label TEXT        free text stored with the results and printed in the header
  --baseline FILE     another build's dist/src/cli/main.js: the worker phase runs it too, alternating with
                      this build's on the same stream (each --repeat times), and reports both`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

function int(v: string | undefined, flag: string, min = 0): number {
  const n = Number(v);
  if (v === undefined || !Number.isInteger(n) || n < min) throw new UsageError(`${flag}: expected an integer ≥ ${min}, got ${v ?? 'nothing'}\n${USAGE}`);
  return n;
}

export function parseOptions(argv: readonly string[]): BenchOptions {
  const quick = argv.includes('--quick');
  let events = quick ? 20_000 : 200_000;
  let backlog = quick ? 30_000 : 1_000_000;
  let scaleEvents = quick ? 3_000 : 30_000;
  let delayMs = 1000;
  let naiveMs = (quick ? 2 : 15) * 1000;
  let latencyMs = (quick ? 2 : 10) * 1000;
  let rate: number | undefined;
  let produceBatch = 1000;
  let phases = new Set<Phase>(PHASES);
  let out: string | undefined;
  let cpuProf = false;
  const workerNodeArgs: string[] = [];
  let seed = 42;
  let label: string | undefined;
  let repeat = 1;
  let broker: BrokerChoice = 'real';
  let clients: ClientName[] = [...CLIENTS];
  let baseline: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = (): string | undefined => argv[++i];
    switch (a) {
      case '--quick':
        break;
      case '--broker': {
        const b = next();
        if (b !== 'real' && b !== 'mock') throw new UsageError(`--broker: expected real or mock, got ${b ?? 'nothing'}\n${USAGE}`);
        broker = b;
        break;
      }
      case '--clients': {
        const list = (next() ?? '').split(',').map((x) => x.trim()).filter(Boolean);
        const bad = list.filter((c) => !isClientName(c));
        if (list.length === 0 || bad.length > 0) throw new UsageError(`--clients: unknown ${bad.join(',') || '(empty)'}\n${USAGE}`);
        clients = [...new Set(list as ClientName[])];
        break;
      }
      case '--events':
        events = int(next(), a, 100);
        break;
      case '--backlog':
        backlog = int(next(), a, 100);
        break;
      case '--scale-events':
        scaleEvents = int(next(), a, 100);
        break;
      case '--delay':
        delayMs = int(next(), a, 0);
        break;
      case '--naive-seconds':
        naiveMs = int(next(), a, 1) * 1000;
        break;
      case '--latency-seconds':
        latencyMs = int(next(), a, 1) * 1000;
        break;
      case '--rate':
        rate = int(next(), a, 1);
        break;
      case '--produce-batch':
        produceBatch = int(next(), a, 1);
        break;
      case '--phases': {
        const list = (next() ?? '').split(',').map((s) => s.trim()).filter(Boolean);
        const bad = list.filter((p) => !(PHASES as readonly string[]).includes(p));
        if (list.length === 0 || bad.length > 0) throw new UsageError(`--phases: unknown ${bad.join(',') || '(empty)'}\n${USAGE}`);
        phases = new Set(list as Phase[]);
        break;
      }
      case '--cpu-prof':
        cpuProf = true;
        break;
      case '--worker-node-arg': {
        const arg = next();
        if (!arg?.startsWith('--')) throw new UsageError(`--worker-node-arg: expected a node flag such as --max-semi-space-size=32\n${USAGE}`);
        workerNodeArgs.push(arg);
        break;
      }
      case '--out':
        out = next();
        if (!out) throw new UsageError(`--out: expected a file name\n${USAGE}`);
        break;
      case '--seed':
        seed = int(next(), a, 0);
        break;
      case '--repeat':
        repeat = int(next(), a, 1);
        break;
      case '--label':
        label = next();
        break;
      case '--baseline':
        baseline = next();
        if (!baseline || !existsSync(baseline)) throw new UsageError(`--baseline: expected the path of another build's dist/src/cli/main.js, got ${baseline ?? 'nothing'}\n${USAGE}`);
        baseline = resolve(baseline);
        break;
      case '-h':
      case '--help':
        throw new UsageError(USAGE);
      default:
        throw new UsageError(`unknown option ${a}\n${USAGE}`);
    }
  }
  const workDir = mkdtempSync(join(tmpdir(), 'cdci-bench-'));
  return {
    broker,
    clients,
    events,
    backlog,
    scaleEvents,
    delayMs,
    naiveMs,
    latencyMs,
    rate,
    produceBatch,
    phases,
    quick,
    cpuProf,
    workerNodeArgs,
    outFile: out ? resolve(out) : join(workDir, 'bench-results.json'),
    workDir,
    seed,
    label,
    repeat,
    baseline,
  };
}
