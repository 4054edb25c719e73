import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../paths.js';

const GUARD = join(repoRoot(), 'stack', 'guard.sh');

export interface GuardedSpawnOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly uid?: number;
  readonly gid?: number;
  /** stdout and stderr of the command go here (appended). */
  readonly logFile: string;
  /** Removed by the guard when the test process dies before stopping this one. */
  readonly cleanDir?: string;
  /** For messages: "kafka node 1", "connect", … */
  readonly name: string;
}

/**
 * A server process of the stack (a JVM, postgres) started through stack/guard.sh: the guard holds a
 * pipe from this process and kills the server when the pipe closes, so a test that crashes, is
 * interrupted or is SIGKILLed leaves nothing running. Signals go to the server's own pid.
 */
export class GuardedProcess {
  readonly #guard: ChildProcess;
  readonly #exited: Promise<number | null>;
  #pid = 0;
  #exitCode: number | null | undefined;

  private constructor(guard: ChildProcess, readonly opts: GuardedSpawnOptions) {
    this.#guard = guard;
    this.#exited = new Promise((resolve) => {
      guard.once('exit', (code) => {
        this.#exitCode = code;
        resolve(code);
      });
    });
  }

  static async start(command: string, args: readonly string[], opts: GuardedSpawnOptions): Promise<GuardedProcess> {
    const fd = openSync(opts.logFile, 'a');
    let guard: ChildProcess;
    try {
      guard = spawn(GUARD, [command, ...args], {
        cwd: opts.cwd,
        env: { ...(opts.env ?? process.env), ...(opts.cleanDir ? { GUARD_CLEAN_DIR: opts.cleanDir } : {}) },
        uid: opts.uid,
        gid: opts.gid,
        stdio: ['pipe', 'pipe', fd],
      });
    } finally {
      closeSync(fd);
    }
    const p = new GuardedProcess(guard, opts);
    // The guard's stdin is never written: it stays open for as long as this process lives.
    guard.stdin!.on('error', () => undefined);
    p.#pid = await new Promise<number>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`${opts.name}: the guard printed no pid within 10 s`)), 10_000);
      guard.once('error', (e) => {
        clearTimeout(timer);
        reject(new Error(`${opts.name}: cannot start ${command}: ${e.message}`));
      });
      guard.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /^(\d+)\n/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
    });
    guard.stdout!.resume();
    guard.unref();
    (guard.stdout as unknown as { unref?: () => void }).unref?.();
    (guard.stdin as unknown as { unref?: () => void }).unref?.();
    return p;
  }

  get pid(): number {
    return this.#pid;
  }

  /** True until the server exited. */
  get running(): boolean {
    return this.#exitCode === undefined;
  }

  /** Resolves with the exit code once the server (and its guard) ended. */
  get exited(): Promise<number | null> {
    return this.#exited;
  }

  /** Keeps the event loop alive until the server exited (the guard is unref'd while it runs). */
  async #waitExit(): Promise<void> {
    this.#guard.ref();
    await this.#exited;
  }

  signal(sig: NodeJS.Signals): void {
    if (!this.running) return;
    try {
      process.kill(this.#pid, sig);
    } catch {
      // already gone
    }
  }

  /** SIGKILL and wait: a crash, as far as the server can tell. */
  async kill(): Promise<void> {
    this.signal('SIGCONT');
    this.signal('SIGKILL');
    await this.#waitExit();
  }

  /** `sig` (SIGTERM by default), then SIGKILL after `graceMs`; resolves once it exited. */
  async stop(sig: NodeJS.Signals = 'SIGTERM', graceMs = 15_000): Promise<void> {
    if (!this.running) return;
    this.signal('SIGCONT');
    this.signal(sig);
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    await this.#waitExit();
    clearTimeout(timer);
  }

  /** The last `lines` lines of a log file (the command's output by default). */
  logTail(lines = 40, file = this.opts.logFile): string {
    return tailOf(file, lines);
  }
}

/** The last lines of a file, read from its last 64 KiB; '' when it does not exist. */
export function tailOf(file: string, lines: number): string {
  try {
    const size = statSync(file).size;
    const fd = openSync(file, 'r');
    try {
      const len = Math.min(size, 65_536);
      const buf = Buffer.alloc(len);
      readSync(fd, buf, 0, len, size - len);
      return buf.toString('utf8').split('\n').slice(-lines - 1).join('\n');
    } finally {
      closeSync(fd);
    }
  } catch {
    return '';
  }
}

