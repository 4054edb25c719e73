import type { Redis } from 'ioredis';
import type pg from 'pg';
import { CommitLog, nowMs, type Commit } from './oracle.js';
import { markerOf, type WorkerId } from './strategies.js';
import { seededRandom, sleep, Zipf } from './workload.js';

export interface WriterOptions {
  readonly rate: number;
  readonly durationMs: number;
  readonly seed: number;
  /** The workers whose first pass each change's marker times. */
  readonly workers: readonly WorkerId[];
}

/**
 * Updates rows at a set rate, one statement (one transaction) at a time on its own connection:
 * `version = version + 1`. Before each UPDATE it plants the change's markers (one per worker), so the
 * worker's first pass of that very change shows up as a keyspace notification. Every COMMIT that
 * returned goes into the log, then to `onCommit`.
 */
export async function runWriter(
  o: WriterOptions,
  deps: { db: pg.Pool; redis: Redis; log: CommitLog; zipf: Zipf; versions: Map<number, number>; signal: AbortSignal; onCommit: (c: Commit) => void },
): Promise<{ commits: number; failed: number }> {
  const random = seededRandom(o.seed);
  const interval = 1000 / o.rate;
  const start = performance.now();
  const client = await deps.db.connect();
  let commits = 0;
  let failed = 0;
  try {
    for (let i = 0; !deps.signal.aborted && i < o.rate * (o.durationMs / 1000) + 1; i++) {
      const due = start + i * interval;
      if (due - start > o.durationMs) break;
      await sleep(due - performance.now(), deps.signal);
      if (deps.signal.aborted) break;
      const id = deps.zipf.pick(random());
      const next = (deps.versions.get(id) ?? 1) + 1;
      try {
        const p = deps.redis.pipeline();
        for (const w of o.workers) p.set(markerOf(w, id, next), '1', 'PX', 120_000);
        await p.exec();
        const r = await client.query<{ version: number }>('UPDATE lab.items SET version = version + 1 WHERE id = $1 RETURNING version', [id]);
        const at = nowMs();
        const version = r.rows[0]!.version;
        if (version !== next) throw new Error(`row ${id}: expected version ${next}, the UPDATE returned ${version} (another writer?)`);
        deps.versions.set(id, version);
        const c: Commit = { id, version, at };
        deps.log.add(c);
        commits++;
        deps.onCommit(c);
      } catch (e) {
        failed++;
        if (failed > 20) throw new Error(`the writer failed ${failed} times, last: ${(e as Error).message}`);
      }
    }
  } finally {
    client.release();
  }
  return { commits, failed };
}
