import { recordRef, type SourceRecord } from '../../domain/types.js';

/** A record the pipeline cannot handle: dead-lettered, skipped, or the worker stops before it. */
export class PoisonRecordError extends Error {
  override readonly name = 'PoisonRecordError';
  /** Where the record is — only that: the error is logged, and a record's key and value are row data. */
  readonly record: Pick<SourceRecord, 'topic' | 'partition' | 'offset'>;

  constructor(
    record: Pick<SourceRecord, 'topic' | 'partition' | 'offset'>,
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${recordRef(record)}: ${code}: ${message}`, options);
    this.record = { topic: record.topic, partition: record.partition, offset: record.offset };
  }
}
