export type DecodeErrorCode =
  | 'invalid_json'
  | 'invalid_envelope'
  | 'unknown_op'
  | 'missing_source'
  | 'invalid_row_image'
  // registry-framed values (Avro, Protobuf, JSON Schema): see registry-client.ts
  | 'unknown_schema'
  | 'unsupported_schema'
  | 'invalid_avro'
  | 'invalid_protobuf'
  | 'schema_mismatch';

/** A record that cannot be decoded as a Debezium change event (a poison record). */
export class DecodeError extends Error {
  override readonly name = 'DecodeError';
  constructor(
    readonly code: DecodeErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The decoder could not reach what it needs (the Schema Registry is down, slow or answers 5xx):
 * an outage, not a poison record. The worker retries the record and never commits past it.
 */
export class DecoderUnavailableError extends Error {
  override readonly name = 'DecoderUnavailableError';
}
