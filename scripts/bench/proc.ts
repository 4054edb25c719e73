/**
 * The worker as a child process (dist/src/cli/main.js run; for another Kafka client
 * dist/scripts/bench/worker-main.js, the same composition with that client's Source), and its CPU
 * and memory read from /proc.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { repoRoot } from '../../test/support/paths.js';
import { stopProcess } from '../../test/support/processes.js';
import type { ClientName } from './clients/index.js';

let clockTicks: number | undefined;

/** Clock ticks per second of /proc/<pid>/stat times. */
export function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** User + system CPU seconds the process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // after "pid (comm) ": state is field 3, utime field 14, stime field 15
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / ticksPerSecond();
}

/**
 * This process's descendants other than `except` and its descendants: pid → command name
 * (redis-server, kcat, and java for the real broker, which runs under a guard shell).
 */
export function otherChildren(except: number): Map<number, string> {
  const parent = new Map<number, number>();
  const names = new Map<number, string>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      names.set(Number(entry), stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')));
      parent.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const out = new Map<number, string>();
  for (const [pid, name] of names) {
    let p = parent.get(pid);
    let excluded = pid === except;
    for (let depth = 0; p !== undefined && p !== process.pid && p > 1 && depth < 32; depth++) {
      if (p === except) excluded = true;
      p = parent.get(p);
    }
    if (p === process.pid && !excluded) out.set(pid, name);
  }
  return out;
}

/** CPU seconds of this process and its other children since `snapshot()`, by command name. */
export class NeighbourCpu {
  readonly #start = new Map<number, number>();
  readonly #names: Map<number, string>;
  readonly #self = process.cpuUsage();

  constructor(except: number) {
    this.#names = otherChildren(except);
    for (const pid of this.#names.keys()) this.#start.set(pid, cpuSeconds(pid));
  }

  /** CPU seconds used since construction: `bench` (this process) and each child by name. */
  used(): Record<string, number> {
    const self = process.cpuUsage(this.#self);
    const out: Record<string, number> = { bench: (self.user + self.system) / 1e6 };
    for (const [pid, name] of this.#names) {
      try {
        out[name] = (out[name] ?? 0) + cpuSeconds(pid) - this.#start.get(pid)!;
      } catch {
        // gone
      }
    }
    return out;
  }
}

/** Resident set size and its high-water mark, in bytes. */
export function memory(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string): number => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status);
    return m ? Number(m[1]) * 1024 : 0;
  };
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

export interface WorkerFlags {
  readonly brokers: readonly string[];
  readonly redisUrl: string;
  readonly topics: readonly string[];
  readonly group: string;
  readonly mappingsDir: string;
  readonly delayMs: number;
  /** The Kafka client behind the Source (default kafkajs: the CLI itself). */
  readonly client?: ClientName;
  /** The CLI to run (default this checkout's dist/src/cli/main.js): --baseline runs another build's. */
  readonly cli?: string;
}

interface LogLine {
  readonly msg?: string;
  readonly partitions?: number;
  readonly stats?: Record<string, number>;
  readonly level?: number;
}

/**
 * One `cdc-invalidator run` process with short group timeouts. Its JSON log (stdout) is kept in a
 * file and watched for the assignment and the final stats.
 */
export class WorkerProcess {
  readonly child: ChildProcess;
  readonly logFile: string;
  #assigned: { at: number; partitions: number }[] = [];
  #finalStats: Record<string, number> | undefined;
  #errors: string[] = [];
  #exit: Promise<number | null>;

  constructor(flags: WorkerFlags, logDir: string, name: string, nodeArgs: readonly string[] = []) {
    const run = {
      brokers: flags.brokers.join(','),
      redis: flags.redisUrl,
      topics: flags.topics.join(','),
      group: flags.group,
      mappings: flags.mappingsDir,
      initialPosition: 'earliest',
      // the worker's dead-letter topic must exist (or be created: 1 partition, 1 replica, as the broker has one node)
      dlqCreatePartitions: '1',
      dlqCreateReplication: '1',
      secondDeleteDelay: `${flags.delayMs}ms`,
      logLevel: 'info',
      sessionTimeout: '6s',
      heartbeatInterval: '500ms',
      rebalanceTimeout: '6s',
      shutdownGrace: '15s',
    };
    const client = flags.client ?? 'kafkajs';
    const args =
      client === 'kafkajs'
        ? [
            ...nodeArgs,
            flags.cli ?? join(repoRoot(), 'dist', 'src', 'cli', 'main.js'),
            'run',
            ...Object.entries(run).flatMap(([k, v]) => [`--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, v]),
          ]
        : [...nodeArgs, join(repoRoot(), 'dist', 'scripts', 'bench', 'worker-main.js'), JSON.stringify(run), client];
    this.logFile = join(logDir, `${name}.log`);
    const log = createWriteStream(this.logFile);
    this.child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: logDir });
    this.#exit = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
    const lines = createInterface({ input: this.child.stdout! });
    lines.on('line', (line) => {
      log.write(`${line}\n`);
      if (!line.startsWith('{')) return;
      let entry: LogLine;
      try {
        entry = JSON.parse(line) as LogLine;
      } catch {
        return;
      }
      if (entry.msg === 'partitions assigned' && typeof entry.partitions === 'number') {
        this.#assigned.push({ at: performance.now(), partitions: entry.partitions });
      } else if (entry.msg === 'final stats' && entry.stats) {
        this.#finalStats = entry.stats;
      }
      if ((entry.level ?? 0) >= 50) this.#errors.push(line.slice(0, 500));
    });
    this.child.stderr!.on('data', (chunk: Buffer) => {
      log.write(chunk);
      this.#errors.push(chunk.toString('utf8').slice(0, 500));
    });
    this.child.once('exit', () => setTimeout(() => log.end(), 100));
  }

  get pid(): number {
    return this.child.pid!;
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  get errors(): readonly string[] {
    return this.#errors;
  }

  get finalStats(): Record<string, number> | undefined {
    return this.#finalStats;
  }

  /** Resolves with the time (performance.now) the worker logged an assignment of `partitions` partitions. */
  async assigned(partitions: number, deadline: number): Promise<number> {
    for (;;) {
      const hit = this.#assigned.find((a) => a.partitions >= partitions);
      if (hit) return hit.at;
      if (this.exited) throw new Error(`worker exited (${this.child.exitCode ?? this.child.signalCode}) before it was assigned: ${this.#errors.join(' | ')} (log ${this.logFile})`);
      if (performance.now() > deadline) throw new Error(`worker not assigned ${partitions} partitions in time (log ${this.logFile})`);
      await sleep(10);
    }
  }

  /** SIGTERM (drain, commit, leave the group), bounded; then the exit code. */
  async stop(ms = 20_000): Promise<number | null> {
    await stopProcess(this.child, 'SIGTERM', ms);
    const code = await this.#exit;
    await sleep(50); // let the last log lines through
    return code;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Samples a process's RSS every `intervalMs` until stopped. */
export class RssSampler {
  readonly samples: { t: number; rss: number }[] = [];
  #timer: NodeJS.Timeout;

  constructor(readonly pid: number, intervalMs = 100) {
    this.#take();
    this.#timer = setInterval(() => this.#take(), intervalMs);
  }

  #take(): void {
    try {
      this.samples.push({ t: performance.now(), rss: memory(this.pid).rss });
    } catch {
      // the process is gone
    }
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#take();
  }
}
