import type { ChildProcess } from 'node:child_process';

/** Waits for a child to exit, bounded; SIGKILL after `ms`. Idempotent. */
export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', ms = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  await exited;
  clearTimeout(timer);
}

/** Polls until predicate is true; throws `message` (a function: evaluated then, with what is known by then) after timeoutMs. */
export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  { timeoutMs = 10_000, intervalMs = 50, message = 'condition' }: { timeoutMs?: number; intervalMs?: number; message?: string | (() => string) } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${typeof message === 'function' ? message() : message}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Resolves as `p`, or rejects with `message` after ms; leaves no timer behind. */
export async function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${message}`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
