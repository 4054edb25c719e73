import type { Redis } from 'ioredis';
import type pg from 'pg';
import type { CacheClient, CacheEntry } from '../../src/client/index.js';
import { encodeEnvelope, readStored } from '../../src/client/index.js';
import { CommitLog, nowMs } from './oracle.js';
import { keyOf, type Strategy } from './strategies.js';
import type { Tally } from './tally.js';
import { fillPause, seededRandom, sleep, Zipf } from './workload.js';

export interface Row {
  readonly id: number;
  readonly version: number;
}

/** What every reader needs. */
export interface ReaderContext {
  readonly redis: Redis;
  readonly db: pg.Pool;
  readonly log: CommitLog;
  readonly zipf: Zipf;
  readonly ttlMs: number;
  readonly thinkMs: number;
  readonly pauseShare: number;
  readonly pauseMaxMs: number;
  readonly signal: AbortSignal;
}

/** The version a stored value was read at (the envelope's `v`), or undefined for nothing, a lease or a foreign value. */
export function storedVersion(raw: string | null): { version: number; filledAt: number } | undefined {
  if (raw === null) return undefined;
  const s = readStored(raw);
  if (s.kind !== 'value' || s.header.notFound || s.header.rowVersion === undefined) return undefined;
  const version = Number(s.header.rowVersion);
  return Number.isSafeInteger(version) ? { version, filledAt: s.header.filledAt } : undefined;
}

async function loadRow(db: pg.Pool, id: number): Promise<Row> {
  const r = await db.query<Row>('SELECT id, version FROM lab.items WHERE id = $1', [id]);
  const row = r.rows[0];
  if (!row) throw new Error(`row ${id} is missing`);
  return row;
}

/**
 * Plain cache-aside, as most applications do it: GET; on a miss SELECT the row, (maybe) pause, SET it
 * with the TTL — no lease. The value is the client's envelope (`v` = the row version), so the worker's
 * inspector can read it too.
 */
function plainReader(ctx: ReaderContext, s: Strategy, tally: Tally, random: () => number): () => Promise<void> {
  return async () => {
    const id = ctx.zipf.pick(random());
    const key = keyOf(s, id);
    const startedAt = nowMs();
    const cached = storedVersion(await ctx.redis.get(key));
    if (cached) {
      const v = ctx.log.judge(id, startedAt, cached.version);
      tally.read(true, v.stale, v.staleForMs, { id, version: cached.version, startedAt });
      return;
    }
    tally.dbReads++;
    const row = await loadRow(ctx.db, id);
    await sleep(fillPause(random, ctx.pauseShare, ctx.pauseMaxMs));
    const filledAt = Date.now();
    const text = encodeEnvelope({ filledAt, expiresAt: filledAt + ctx.ttlMs, fillMs: 0, rowVersion: String(row.version), notFound: false }, JSON.stringify(row));
    await ctx.redis.set(key, text, 'PX', ctx.ttlMs);
    const v = ctx.log.judge(id, startedAt, row.version);
    tally.read(false, v.stale, v.staleForMs, { id, version: row.version, startedAt });
  };
}

/**
 * The client's get-or-fill under a lease. The pause sits in the fill's `loaded` hook: between the
 * loader's read and the compare-and-set, where a plain reader's SET would be.
 */
export function leaseEntry(client: CacheClient, s: Strategy, ctx: Pick<ReaderContext, 'db' | 'pauseShare' | 'pauseMaxMs'>, random: () => number): CacheEntry<Row, { id: number }> {
  return client.entry<Row, { id: number }>({
    mapping: s.name,
    key: `${s.name}:{id}`,
    load: ({ id }) => loadRow(ctx.db, id),
    hooks: { loaded: () => sleep(fillPause(random, ctx.pauseShare, ctx.pauseMaxMs)) },
  });
}

function leaseReader(ctx: ReaderContext, entry: CacheEntry<Row, { id: number }>, tally: Tally, random: () => number): () => Promise<void> {
  return async () => {
    const id = ctx.zipf.pick(random());
    const startedAt = nowMs();
    let loaded = false;
    const row = await entry.get({ id }, async (p) => {
      loaded = true;
      tally.dbReads++;
      return loadRow(ctx.db, p.id);
    });
    if (!row) throw new Error(`row ${id}: the client returned "not found"`);
    const v = ctx.log.judge(id, startedAt, row.version);
    // No loader call of its own: answered from Redis (or shared with another caller's fill in this process).
    tally.read(!loaded, v.stale, v.staleForMs, { id, version: row.version, startedAt });
  };
}

/** Runs `readers` loops of one strategy until the signal; each reads, then thinks. */
export async function runReaders(ctx: ReaderContext, s: Strategy, tally: Tally, readers: number, seed: number, entry?: CacheEntry<Row, { id: number }>): Promise<void> {
  const loops = Array.from({ length: readers }, async (_, i) => {
    const random = seededRandom(seed + i * 7919);
    const read = entry ? leaseReader(ctx, entry, tally, random) : plainReader(ctx, s, tally, random);
    for (let n = 0; !ctx.signal.aborted && n < 10_000_000; n++) {
      try {
        await read();
      } catch {
        tally.errors++;
      }
      await sleep(ctx.thinkMs * (0.5 + random()), ctx.signal);
    }
  });
  await Promise.all(loops);
}
