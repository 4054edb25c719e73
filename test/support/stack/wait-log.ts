import { closeSync, openSync, readSync, statSync } from 'node:fs';
import type { GuardedProcess } from './guarded-process.js';

/** The size of a file now (0 when absent): pass it to waitForLine to look only at what comes after. */
export function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

function readFrom(file: string, from: number): string {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return '';
  }
  try {
    const size = statSync(file).size;
    if (size <= from) return '';
    const buf = Buffer.alloc(size - from);
    readSync(fd, buf, 0, buf.length, from);
    return buf.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * Waits until a line matching `pattern` appears in `file` after byte `from`. Fails at once when the
 * process exits, and after `timeoutMs`, with the log's tail in the message.
 */
export async function waitForLine(
  proc: GuardedProcess,
  file: string,
  pattern: RegExp,
  { from = 0, timeoutMs }: { from?: number; timeoutMs: number },
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let seen = '';
  let offset = from;
  for (;;) {
    const chunk = readFrom(file, offset);
    offset += Buffer.byteLength(chunk);
    seen = (seen + chunk).slice(-200_000);
    if (pattern.test(seen)) return;
    if (!proc.running) {
      throw new Error(`${proc.opts.name} exited before logging ${pattern}; last lines of ${file}:\n${proc.logTail(40, file)}\n--- output:\n${proc.logTail(20)}`);
    }
    if (Date.now() > deadline) {
      throw new Error(`${proc.opts.name} did not log ${pattern} within ${timeoutMs} ms; last lines of ${file}:\n${proc.logTail(40, file)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
