/** The internal shapes that flow through the pipeline: source → decode → map → sink → commit. */

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
   * True when `before` carries only the key columns and placeholders for the rest
   * (Postgres REPLICA IDENTITY DEFAULT): its non-key columns must not be rendered.
   */
  readonly beforeKeyOnly: boolean;
  /** When the change was committed in the database (source.ts_ms), if known. */
  readonly sourceTsMs?: number;
}

export type SkipReason = 'tombstone' | 'heartbeat' | 'transaction' | 'message';

export type Decoded =
  | { readonly kind: 'change'; readonly event: ChangeEvent }
  | { readonly kind: 'skip'; readonly reason: SkipReason };

/** Where a record came from, for errors and logs. */
export function recordRef(r: Pick<SourceRecord, 'topic' | 'partition' | 'offset'>): string {
  return `${r.topic}/${r.partition}@${r.offset}`;
}
