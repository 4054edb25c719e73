import type { Mapping } from './model.js';

/** The compiled mappings, indexed by `schema.table`. Immutable. */
export class MappingSet {
  readonly #byTable = new Map<string, Mapping[]>();

  constructor(readonly mappings: readonly Mapping[]) {
    for (const m of mappings) {
      const list = this.#byTable.get(m.table) ?? [];
      list.push(m);
      this.#byTable.set(m.table, list);
    }
    Object.freeze(this);
  }

  /** Every mapping whose table matches `schema.table`; empty when the table is not mapped. */
  forTable(table: string): readonly Mapping[] {
    return this.#byTable.get(table) ?? [];
  }

  /** The distinct mapped tables (`schema.table`), sorted. */
  tables(): string[] {
    return [...this.#byTable.keys()].sort();
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
