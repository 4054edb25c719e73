import type { ChildProcess } from 'node:child_process';
import { freePort } from './ports.js';
import { waitFor } from './processes.js';
import { spawnCli } from './worker.js';

/**
 * The built CLI (`dist/src/cli/main.js run`) as a child process on the host, configured through the
 * environment like the container: ready when its /readyz answers 200; stopped with SIGTERM like
 * `docker stop`, and expected to drain and exit 0.
 */
export class WorkerProcess {
  #child: ChildProcess | undefined;
  #output = '';
  #healthPort = 0;

  constructor(private readonly env: Readonly<Record<string, string>>) {}

  /** The last output of every run, for failure messages. */
  get output(): string {
    return this.#output.slice(-16_384);
  }

  async start(readyTimeoutMs = 120_000): Promise<void> {
    if (this.#child) throw new Error('the worker is already running');
    this.#healthPort = await freePort();
    const child = spawnCli(['run'], { ...this.env, CDC_INVALIDATOR_HEALTH_PORT: String(this.#healthPort) });
    this.#child = child;
    const keep = (d: Buffer): void => {
      this.#output = (this.#output + d.toString()).slice(-65_536);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const ready = async (): Promise<boolean> => {
      if (child.exitCode !== null) throw new Error(`the worker exited with ${child.exitCode} before it was ready`);
      try {
        const res = await fetch(`http://127.0.0.1:${this.#healthPort}/readyz`, { signal: AbortSignal.timeout(2_000) });
        return res.status === 200;
      } catch {
        return false;
      }
    };
    try {
      await waitFor(ready, { timeoutMs: readyTimeoutMs, intervalMs: 500, message: "the worker's /readyz to answer 200" });
    } catch (e) {
      throw new Error(`${(e as Error).message}\nworker output:\n${this.output}`);
    }
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Where its /metrics answers. */
  get metricsUrl(): string {
    return `http://127.0.0.1:${this.#healthPort}/metrics`;
  }

  /** GET /metrics (Prometheus text). */
  async metrics(): Promise<string> {
    const res = await fetch(`http://127.0.0.1:${this.#healthPort}/metrics`, { signal: AbortSignal.timeout(5_000) });
    return res.text();
  }

  /** The value of one sample of /metrics (`name{labels}`), 0 when absent. */
  async metric(name: string, labels: Readonly<Record<string, string>> = {}): Promise<number> {
    const text = await this.metrics();
    for (const line of text.split('\n')) {
      if (!line.startsWith(name)) continue;
      const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!m || m[1] !== name) continue;
      const got = new Map([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1]!, x[2]!]));
      if (Object.entries(labels).every(([k, v]) => got.get(k) === v)) return Number(m[3]);
    }
    return 0;
  }

  /** SIGKILL and wait for the exit. */
  async kill(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  }

  /** SIGTERM, then the exit code (SIGKILL and an error after `ms`). */
  async stop(ms = 60_000): Promise<number | null> {
    const child = this.#child;
    if (!child) return null;
    this.#child = undefined;
    if (child.exitCode !== null) return child.exitCode;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const killed = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`the worker did not exit within ${ms} ms of SIGTERM:\n${this.output}`));
      }, ms);
    });
    try {
      return await Promise.race([exited, killed]);
    } finally {
      clearTimeout(timer);
    }
  }
}
