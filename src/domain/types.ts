/**
 * The domain types every folder may import: Kafka records as the pipeline sees them, decoded
 * change events, offsets and topic selections. This module imports nothing of the project.
 */

/** One Kafka record as the source hands it over. Offsets are decimal strings (int64). */
export interface SourceRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, string | undefined>>;
}

export type ChangeOp = 'c' | 'u' | 'd' | 'r' | 't';
export const CHANGE_OPS: readonly ChangeOp[] = ['c', 'u', 'd', 'r', 't'];

export type RowImage = Readonly<Record<string, unknown>>;

/** A Postgres table's REPLICA IDENTITY as far as the worker cares: FULL, or DEFAULT (the key only; NOTHING, USING INDEX). */
export type ReplicaIdentityKind = 'full' | 'default';

/** A decoded Debezium row change, independent of the converter that produced it. */
export interface ChangeEvent {
  readonly op: ChangeOp;
  /** `schema.table` (Postgres schema, not the Connect schema). */
  readonly table: string;
  readonly before: RowImage | null;
  readonly after: RowImage | null;
  /** Primary-key (replica identity) columns named by the record key, when the key could be read. */
  readonly keyColumns: readonly string[] | null;
  /**
   * What a delete's `before` looks like on its own: true when every non-key column holds what
   * Debezium writes into a REPLICA IDENTITY DEFAULT delete's image — null, an empty value (`""`,
   * `0`, `false`) or the column's schema default. Such an image is ambiguous: a FULL row can hold
   * exactly those values. Whether it is read as key-only depends on the table's replica identity
   * (src/mapping/replica-identity.ts). False for every other event.
   */
  readonly beforeLooksKeyOnly: boolean;
  /**
   * True when the row schema came with the record (`schemas.enable=true`, Avro): the check above
   * then knew each column's nullability and default, so a false means the image cannot be key-only.
   */
  readonly beforeSchemaKnown: boolean;
  /**
   * What this record says about its table's replica identity: an update without `before` comes
   * from REPLICA IDENTITY DEFAULT (or NOTHING, or USING INDEX), one with `before` from FULL.
   * Undefined for other ops and for rows flattened by ExtractNewRecordState (no `before` there).
   */
  readonly identityHint?: ReplicaIdentityKind;
  /** The table's identity as the stream showed it before this record (an earlier update), if known. */
  readonly learnedIdentity?: ReplicaIdentityKind;
  /** When the change was committed in the database (source.ts_ms), if known. */
  readonly sourceTsMs?: number;
}

export type SkipReason = 'tombstone' | 'heartbeat' | 'transaction' | 'message';

export type Decoded =
  | { readonly kind: 'change'; readonly event: ChangeEvent }
  | { readonly kind: 'skip'; readonly reason: SkipReason };

/** Decodes one record: synchronous for JSON, a promise when a Schema Registry is involved. */
export type RecordDecoder = (record: SourceRecord) => Decoded | Promise<Decoded>;

/** Where a record came from, for errors and logs. */
export function recordRef(r: Pick<SourceRecord, 'topic' | 'partition' | 'offset'>): string {
  return `${r.topic}/${r.partition}@${r.offset}`;
}

export interface TopicPartitionOffset {
  readonly topic: string;
  readonly partition: number;
  /** The next offset to read (Kafka commit semantics), as a decimal string. */
  readonly offset: string;
}

/** How the worker picks its topics: a list, a regex, or a Debezium prefix plus the mapped tables. */
export type TopicSelection =
  | { readonly kind: 'list'; readonly topics: readonly string[] }
  | { readonly kind: 'regex'; readonly pattern: RegExp }
  | { readonly kind: 'prefix'; readonly prefix: string };

/** Debezium names a table's topic `<prefix>.<schema>.<table>`. */
export function topicsForPrefix(prefix: string, tables: readonly string[]): string[] {
  return tables.map((t) => `${prefix}.${t}`);
}
