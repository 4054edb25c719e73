/** Something signals can be listened on (the process, or a test's EventEmitter). */
export interface SignalSource {
  on(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  off(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
}

export interface SignalHandlers {
  /** The first SIGTERM/SIGINT: drain. */
  readonly drain: (signal: NodeJS.Signals) => void;
  /** A second one: stop now (pending work is not committed and will be replayed). */
  readonly force: (signal: NodeJS.Signals) => void;
}

/** Signals are handled here, in the CLI, never in library code. Returns a function that removes the handlers. */
export function onShutdownSignals(source: SignalSource, handlers: SignalHandlers): () => void {
  let received = 0;
  const listener = (signal: NodeJS.Signals): void => {
    received++;
    if (received === 1) handlers.drain(signal);
    else handlers.force(signal);
  };
  source.on('SIGTERM', listener);
  source.on('SIGINT', listener);
  return () => {
    source.off('SIGTERM', listener);
    source.off('SIGINT', listener);
  };
}
