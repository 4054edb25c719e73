/** The port the pipeline deletes through. Implementations throw SinkError on failure. */
export interface InvalidationSink {
  /** Deletes the keys (UNLINK). Resolves only when the server acknowledged every one. */
  unlink(keys: readonly string[]): Promise<number>;
  /** Resolves when the server answers. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** `fatal`: retrying cannot help (permissions, wrong type, unknown command): stop the worker. */
export class SinkError extends Error {
  override readonly name = 'SinkError';
  constructor(message: string, readonly fatal: boolean, options?: { cause?: unknown }) {
    super(message, options);
  }
}
