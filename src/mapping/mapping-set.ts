import type { ChangeOp } from '../domain/types.js';
import type { Mapping } from './model.js';

/** The compiled mappings, looked up by `schema.table` (exact names and globs). Immutable. */
export class MappingSet {
  readonly #exact = new Map<string, Mapping[]>();
  readonly #globs: Mapping[] = [];
  readonly #cache = new Map<string, readonly Mapping[]>();

  constructor(readonly mappings: readonly Mapping[]) {
    for (const m of mappings) {
      if (m.table.exact) {
        const list = this.#exact.get(m.table.source) ?? [];
        list.push(m);
        this.#exact.set(m.table.source, list);
      } else {
        this.#globs.push(m);
      }
    }
  }

  /** Every mapping whose table matches `schema.table`, in file order; empty when unmapped. */
  forTable(table: string): readonly Mapping[] {
    let found = this.#cache.get(table);
    if (found) return found;
    const exact = this.#exact.get(table) ?? [];
    const globbed = this.#globs.filter((m) => m.table.matches(table));
    found = globbed.length === 0 ? exact : this.mappings.filter((m) => exact.includes(m) || globbed.includes(m));
    if (this.#cache.size < 10_000) this.#cache.set(table, found);
    return found;
  }

  /** The distinct exact tables (`schema.table`), sorted; globs cannot name topics. */
  tables(): string[] {
    return [...this.#exact.keys()].sort();
  }

  /** Table patterns with globs, for topic subscription by regex. */
  globs(): string[] {
    return [...new Set(this.#globs.map((m) => m.table.source))];
  }

  /** The same mappings, each also firing on `ops` (replay's --ops r). */
  withOps(ops: readonly ChangeOp[]): MappingSet {
    return new MappingSet(this.mappings.map((m) => ({ ...m, ops: new Set([...m.ops, ...ops]) })));
  }

  /** Restricts to the named mappings (replay's --mapping); unknown names throw. */
  only(names: readonly string[]): MappingSet {
    const known = new Set(this.mappings.map((m) => m.name));
    const unknown = names.filter((n) => !known.has(n));
    if (unknown.length > 0) throw new Error(`unknown mapping(s): ${unknown.join(', ')}`);
    const wanted = new Set(names);
    return new MappingSet(this.mappings.filter((m) => wanted.has(m.name)));
  }
}
