import type { ChangeEvent, ReplicaIdentityKind } from '../domain/types.js';

/**
 * Is a delete's `before` the whole old row, or only its key (Postgres REPLICA IDENTITY DEFAULT, whose
 * deletes carry the key columns and placeholders for the rest)? The image alone cannot always tell:
 * Debezium fills a DEFAULT delete's non-key columns with null, the column's DEFAULT or its type's
 * empty value, and a FULL row may hold exactly those. The two mistakes do not cost the same:
 * - a FULL image read as key-only skips the templates over non-key columns: a key that should go
 *   stays (a stale cache entry, the thing this worker exists to prevent);
 * - a key-only image read as FULL renders the placeholders (`account:email:`): a key nobody meant
 *   is deleted (a cache miss at worst), while the real old key is unknown either way.
 * So an image is read as key-only only when the table's identity is known to be DEFAULT, from (most
 * trusted first) the stream — the table's latest update seen: no `before` ⇒ DEFAULT, a `before` ⇒
 * FULL — or the mapping's `replica_identity`; and when the row schema came along, only if every
 * non-key column holds exactly its placeholder (else the image cannot be key-only). An ambiguous
 * image of a table whose identity is unknown is read as FULL, and reported (ambiguousBefore).
 */

/** The identity that decides for `mapping`'s view of this event: the stream's, else the declared one. */
export function identityFor(event: ChangeEvent, declared: ReplicaIdentityKind | undefined): ReplicaIdentityKind | undefined {
  return event.learnedIdentity ?? declared;
}

/** True when the event's `before` is to be read as key-only (render only templates over key columns). */
export function beforeIsKeyOnly(event: ChangeEvent, identity: ReplicaIdentityKind | undefined): boolean {
  if (event.op !== 'd' || event.before === null || !event.keyColumns || event.keyColumns.length === 0) return false;
  if (identity !== 'default') return false;
  // With the schema the check is exact: a column holding anything but its placeholder is a real value.
  return event.beforeLooksKeyOnly || !event.beforeSchemaKnown;
}

/** A delete whose image may be key-only, of a table whose identity nothing tells: read as FULL. */
export function ambiguousBefore(event: ChangeEvent, identity: ReplicaIdentityKind | undefined): boolean {
  return event.op === 'd' && event.beforeLooksKeyOnly && identity === undefined;
}

/**
 * The replica identity of each table as this process saw it in the stream: the latest update of
 * the table says it (ChangeEvent.identityHint). Bounded: at most `maxTables` tables are remembered
 * (the oldest forgotten first).
 */
export class ReplicaIdentityMemory {
  readonly #known = new Map<string, ReplicaIdentityKind>();

  constructor(private readonly maxTables = 10_000) {}

  /**
   * The event with what the stream showed before it (`learnedIdentity`), then remembers what this
   * event shows. Call in stream order.
   */
  apply(event: ChangeEvent): ChangeEvent {
    const known = this.#known.get(event.table);
    if (event.identityHint) this.#remember(event.table, event.identityHint);
    return known === undefined || event.learnedIdentity !== undefined ? event : { ...event, learnedIdentity: known };
  }

  identityOf(table: string): ReplicaIdentityKind | undefined {
    return this.#known.get(table);
  }

  #remember(table: string, identity: ReplicaIdentityKind): void {
    if (this.#known.get(table) === identity) return;
    this.#known.delete(table);
    if (this.#known.size >= this.maxTables) this.#known.delete(this.#known.keys().next().value!);
    this.#known.set(table, identity);
  }
}
