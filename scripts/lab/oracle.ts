/**
 * The oracle: every row version the writer committed and when its COMMIT returned. A read is stale
 * when it returns a version older than the newest version whose COMMIT returned before the read
 * began; it has been stale since the COMMIT of the first version newer than the one it returned.
 */
export interface Commit {
  readonly id: number;
  readonly version: number;
  /** When the UPDATE (one statement, autocommit) returned, ms since the epoch. */
  readonly at: number;
}

export interface Verdict {
  readonly stale: boolean;
  /** For a stale read: ms since the value became stale (the read's start − the COMMIT of version+1). */
  readonly staleForMs: number;
}

/** Milliseconds since the epoch with sub-millisecond resolution (the same clock as Date.now()). */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export class CommitLog {
  /** Per row: committed versions in order, and when each returned. */
  readonly #versions = new Map<number, number[]>();
  readonly #times = new Map<number, number[]>();
  readonly #initial = new Map<number, number>();
  /** When each change's first delete was seen, per worker (`worker:id:version`). */
  readonly #firstDeletes = new Map<string, number>();
  #count = 0;

  firstDeleted(worker: string, id: number, version: number, at: number): void {
    this.#firstDeletes.set(`${worker}:${id}:${version}`, at);
  }

  /** When the worker's first pass of `version` of `id` was seen (undefined: not seen). */
  firstDeleteOf(worker: string, id: number, version: number): number | undefined {
    return this.#firstDeletes.get(`${worker}:${id}:${version}`);
  }

  /** The version a row had before the run (committed long before any read). */
  seed(id: number, version: number): void {
    this.#initial.set(id, version);
  }

  add(c: Commit): void {
    let vs = this.#versions.get(c.id);
    let ts = this.#times.get(c.id);
    if (!vs || !ts) {
      this.#versions.set(c.id, (vs = []));
      this.#times.set(c.id, (ts = []));
    }
    vs.push(c.version);
    ts.push(c.at);
    this.#count++;
  }

  get count(): number {
    return this.#count;
  }

  /** The newest version of `id` whose COMMIT returned before `t`. */
  newestBefore(id: number, t: number): number {
    const ts = this.#times.get(id);
    const vs = this.#versions.get(id);
    let lo = 0;
    let hi = ts ? ts.length : 0;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ts![mid]! < t) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? (this.#initial.get(id) ?? 0) : vs![lo - 1]!;
  }

  /** When the COMMIT of `version` of `id` returned (undefined: before the run, or never). */
  committedAt(id: number, version: number): number | undefined {
    const vs = this.#versions.get(id);
    if (!vs) return undefined;
    const i = vs.indexOf(version);
    return i < 0 ? undefined : this.#times.get(id)![i];
  }

  /** Judges a read of `id` that began at `startedAt` and returned `version`. */
  judge(id: number, startedAt: number, version: number): Verdict {
    const newest = this.newestBefore(id, startedAt);
    if (version >= newest) return { stale: false, staleForMs: 0 };
    const since = this.committedAt(id, version + 1) ?? startedAt;
    return { stale: true, staleForMs: Math.max(0, startedAt - since) };
  }
}
