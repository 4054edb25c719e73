import { recordRef, type SourceRecord } from '../../domain/types.js';

/** A record the pipeline cannot handle: dead-lettered, skipped, or the worker stops before it. */
export class PoisonRecordError extends Error {
  override readonly name = 'PoisonRecordError';
  constructor(
    readonly record: Pick<SourceRecord, 'topic' | 'partition' | 'offset'>,
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${recordRef(record)}: ${code}: ${message}`, options);
  }
}
