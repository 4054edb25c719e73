/**
 * Readers waiting for another filler's value sleep until Redis reports a change of the key (through the
 * tracking connection, when it covers the key) or until their poll delay runs out, whichever is first.
 */
export class KeyWakeups {
  readonly #waiting = new Map<string, Set<() => void>>();

  /** Resolves after ms, or earlier when `notify` names the key (or everything). */
  wait(key: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let set = this.#waiting.get(key);
      if (!set) {
        set = new Set();
        this.#waiting.set(key, set);
      }
      const waiters = set;
      const done = (): void => {
        clearTimeout(timer);
        waiters.delete(done);
        if (waiters.size === 0 && this.#waiting.get(key) === waiters) this.#waiting.delete(key);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      waiters.add(done);
    });
  }

  /** Wakes the waiters of these keys; null wakes everyone. */
  notify(keys: readonly string[] | null): void {
    if (this.#waiting.size === 0) return;
    if (keys === null) {
      for (const set of [...this.#waiting.values()]) for (const done of [...set]) done();
      return;
    }
    for (const k of keys) {
      const set = this.#waiting.get(k);
      if (set) for (const done of [...set]) done();
    }
  }

  get size(): number {
    return this.#waiting.size;
  }
}
