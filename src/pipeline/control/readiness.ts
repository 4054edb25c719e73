/**
 * Why the worker is not ready, as a set of named reasons (what `/readyz` reports). A reason can be
 * held by several parties at once (four partitions waiting on Redis): it stays until each let go.
 */
export type NotReadyReason = 'starting' | 'consumer' | 'redis' | 'registry' | 'dead-letter' | 'stopping';

/** The reasons under which consumption waits (the `paused` gauge). */
const PAUSING: ReadonlySet<NotReadyReason> = new Set(['redis', 'registry', 'dead-letter']);

export class Readiness {
  readonly #held = new Map<NotReadyReason, Set<symbol>>();

  constructor(private readonly onChange: (r: Readiness) => void = () => undefined) {}

  /** Holds `reason` until the returned function is called (more calls are no-ops). */
  hold(reason: NotReadyReason): () => void {
    const token = Symbol(reason);
    let holders = this.#held.get(reason);
    if (!holders) this.#held.set(reason, (holders = new Set()));
    holders.add(token);
    this.onChange(this);
    return () => {
      if (!holders.delete(token)) return;
      if (holders.size === 0 && this.#held.get(reason) === holders) this.#held.delete(reason);
      this.onChange(this);
    };
  }

  /** Sets or clears a reason with a single owner (the consumer's state, starting, stopping). */
  set(reason: NotReadyReason, on: boolean): void {
    const had = this.#held.has(reason);
    if (on === had) return;
    if (on) this.#held.set(reason, new Set([Symbol(reason)]));
    else this.#held.delete(reason);
    this.onChange(this);
  }

  has(reason: NotReadyReason): boolean {
    return this.#held.has(reason);
  }

  get reasons(): NotReadyReason[] {
    return [...this.#held.keys()].sort();
  }

  get ready(): boolean {
    return this.#held.size === 0;
  }

  /** True while consumption waits on Redis, the Schema Registry or the dead-letter topic. */
  get paused(): boolean {
    for (const r of this.#held.keys()) if (PAUSING.has(r)) return true;
    return false;
  }
}
