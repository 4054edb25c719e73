import { Redis } from 'ioredis';
import { nowMs, type Commit, type CommitLog } from './oracle.js';
import { storedVersion } from './readers.js';
import { keyOf, tickOf, type Strategy, type WorkerId } from './strategies.js';
import type { Tally } from './tally.js';

/** After lag + delay + the scheduler's tick, this much more before a key still older than the change counts against the bar. */
export const BAR_SLACK_MS = 300;
/** A value filled this long before the earliest moment the second delete could run certainly preceded it. */
export const INSIDE_MARGIN_MS = 50;
/** The oracle probe of the inspected strategy runs this long before the inspector's earliest check. */
export const ORACLE_LEAD_MS = 100;
export const STILL_STALE_AFTER = [1000, 5000, 10000] as const;

export interface ObserverOptions {
  readonly strategies: readonly Strategy[];
  readonly tallies: ReadonlyMap<string, Tally>;
  /** Where each change's first delete is recorded. */
  readonly log: CommitLog;
  /** The inspector's --verify-after, ms (the inspected strategy's oracle probe). */
  readonly verifyAfterMs: number;
}

/**
 * Watches each change after its COMMIT:
 * - the worker's first pass: the keyspace notification of the change's marker (lag = its arrival − the COMMIT);
 * - 1 s, 5 s and 10 s after the COMMIT: which strategies' keys still hold a version older than the change;
 * - the bar: once lag + delay + tick + slack passed, a key still older than the change, and whether its value
 *   was written before the second delete could run (it must have been removed) or after it (out of reach);
 * - the inspected strategy: just before the inspector's check, whether the key is older than the change.
 * Every probe is one GET per key, pipelined; probes never fill.
 */
export class Observer {
  readonly #redis: Redis;
  readonly #sub: Redis;
  readonly #commits = new Map<string, Commit>();
  readonly #early = new Map<string, number>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly lags = new Map<WorkerId, number[]>();
  /** Changes whose marker never vanished (counted at the end). */
  #inFlight = 0;
  #probeErrors = 0;

  private constructor(private readonly o: ObserverOptions, redis: Redis, sub: Redis) {
    this.#redis = redis;
    this.#sub = sub;
  }

  static async start(url: string, o: ObserverOptions): Promise<Observer> {
    const redis = new Redis(url, { maxRetriesPerRequest: 1 });
    await redis.config('SET', 'notify-keyspace-events', 'Eg'); // DEL/UNLINK of existing keys as keyevents
    const sub = new Redis(url);
    const obs = new Observer(o, redis, sub);
    sub.on('message', (_channel: string, key: string) => obs.#deleted(key, nowMs()));
    await sub.subscribe('__keyevent@0__:del');
    return obs;
  }

  get probeErrors(): number {
    return this.#probeErrors;
  }

  /** Changes whose marker is still waiting for its first delete. */
  get pendingMarkers(): number {
    return this.#inFlight;
  }

  get pendingProbes(): number {
    return this.#timers.size;
  }

  committed(c: Commit): void {
    for (const w of new Set(this.o.strategies.map((s) => s.worker).filter((x): x is WorkerId => x !== undefined))) {
      const marker = `lag-${w}:${c.id}:${c.version}`;
      const seen = this.#early.get(marker);
      if (seen !== undefined) {
        this.#early.delete(marker);
        this.#firstPass(w, c, seen);
      } else {
        this.#commits.set(marker, c);
        this.#inFlight++;
      }
    }
    for (const after of STILL_STALE_AFTER) {
      this.#at(c.at + after, async () => {
        const raws = await this.#get(this.o.strategies, c.id);
        this.o.strategies.forEach((s, i) => {
          const t = this.o.tallies.get(s.name)!;
          t.probed[after]!++;
          const v = storedVersion(raws[i] ?? null);
          if (v && v.version < c.version) t.stillStale[after]!++;
        });
      });
    }
  }

  #deleted(key: string, at: number): void {
    if (!key.startsWith('lag-')) return;
    const c = this.#commits.get(key);
    if (!c) {
      if (this.#early.size < 100_000) this.#early.set(key, at); // before the UPDATE returned to us
      return;
    }
    this.#commits.delete(key);
    this.#inFlight--;
    this.#firstPass(key.slice(4, key.indexOf(':')) as WorkerId, c, at);
  }

  #firstPass(worker: WorkerId, c: Commit, at: number): void {
    let lags = this.lags.get(worker);
    if (!lags) this.lags.set(worker, (lags = []));
    lags.push(Math.max(0, at - c.at));
    this.o.log.firstDeleted(worker, c.id, c.version, at);
    for (const s of this.o.strategies.filter((x) => x.worker === worker)) {
      const t = this.o.tallies.get(s.name)!;
      this.#at(at + s.secondDeleteMs + tickOf(s.secondDeleteMs) + BAR_SLACK_MS, async () => {
        const [raw] = await this.#get([s], c.id);
        t.barProbed++;
        const v = storedVersion(raw ?? null);
        if (!v || v.version >= c.version) return;
        if (v.filledAt + INSIDE_MARGIN_MS < at + s.secondDeleteMs) t.barInside++;
        else t.barOutside++;
      });
      if (worker === 'inspector') {
        this.#at(at + s.secondDeleteMs + this.o.verifyAfterMs - ORACLE_LEAD_MS, async () => {
          const [raw] = await this.#get([s], c.id);
          t.oracleProbed++;
          const v = storedVersion(raw ?? null);
          if (v && v.version < c.version) t.oracleStale++;
        });
      }
    }
  }

  async #get(strategies: readonly Strategy[], id: number): Promise<(string | null)[]> {
    const p = this.#redis.pipeline();
    for (const s of strategies) p.get(keyOf(s, id));
    return ((await p.exec()) ?? []).map(([err, v]) => (err ? null : (v as string | null)));
  }

  #at(when: number, probe: () => Promise<void>): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      probe().catch(() => this.#probeErrors++);
    }, Math.max(0, when - nowMs()));
    this.#timers.add(timer);
  }

  /** Cancels what is left and closes the connections. */
  stop(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    this.#sub.disconnect();
    this.#redis.disconnect();
  }
}
