export type DecodeErrorCode =
  | 'invalid_json'
  | 'invalid_envelope'
  | 'unknown_op'
  | 'missing_source'
  | 'invalid_row_image';

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
