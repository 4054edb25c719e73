import pino, { type DestinationStream, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export interface LoggerOptions {
  readonly level?: LevelWithSilent;
  /** Defaults to stdout; commands whose stdout is their output log to stderr (fd 2). */
  readonly destination?: DestinationStream | 1 | 2;
}

/**
 * The one way to make a logger. Structured JSON; row data and key names only at debug.
 * Secrets never reach it: config objects are logged through `redact` paths below.
 */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const dest = opts.destination ?? 1;
  const stream = typeof dest === 'number' ? pino.destination({ dest, sync: true }) : dest;
  return pino(
    {
      name: 'cdc-invalidator',
      level: opts.level ?? 'info',
      base: { pid: process.pid },
      redact: { paths: ['redis', 'config.redis', '*.password', '*.sasl', 'password'], censor: '[redacted]' },
    },
    stream,
  );
}
