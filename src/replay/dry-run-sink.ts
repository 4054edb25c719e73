import type { InvalidationSink } from '../pipeline/sink/sink.js';

/** Counts what would be invalidated and keeps a sample; touches nothing. */
export class DryRunSink implements InvalidationSink {
  readonly keys = new Set<string>();
  readonly tags = new Set<string>();
  readonly versions = new Set<string>();
  readonly #limit: number;

  /** At most `distinctLimit` names are remembered per kind (the counts go on). */
  constructor(distinctLimit = 1_000_000) {
    this.#limit = distinctLimit;
  }

  #add(set: Set<string>, names: readonly string[]): void {
    for (const n of names) if (set.size < this.#limit) set.add(n);
  }

  unlink(keys: readonly string[]): Promise<number> {
    this.#add(this.keys, keys);
    return Promise.resolve(0);
  }

  purgeTags(tags: readonly string[]): Promise<number> {
    this.#add(this.tags, tags);
    return Promise.resolve(0);
  }

  bumpVersions(versions: readonly string[]): Promise<void> {
    this.#add(this.versions, versions);
    return Promise.resolve();
  }

  async ping(): Promise<void> {}
  async close(): Promise<void> {}

  sample(n = 10): { keys: string[]; tags: string[]; versions: string[] } {
    return { keys: [...this.keys].slice(0, n), tags: [...this.tags].slice(0, n), versions: [...this.versions].slice(0, n) };
  }
}
