import pino, { type DestinationStream, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export interface LoggerOptions {
  readonly level?: LevelWithSilent;
  /** Defaults to stdout; commands whose stdout is their output log to stderr (fd 2). */
  readonly destination?: DestinationStream | 1 | 2;
  /** `--log-keys`: key names and row values (the DATA_FIELDS) are written instead of censored. */
  readonly logKeys?: boolean;
}

/** Field names that hold a credential, wherever a config object puts them. */
const SECRET_FIELDS = [
  'password',
  'passphrase',
  'redisPassword',
  'sentinelPassword',
  'schemaRegistryPassword',
  'secretAccessKey',
  'sessionToken',
] as const;

/** Objects whose `key` (and `password`, `passphrase`) is a private key or a credential. */
const KEY_HOLDERS = ['tls', 'ssl', 'sasl'] as const;

/** Fields holding a URL that may carry `user:password@` (censored to the URL without its password). */
const URL_FIELDS = ['url', 'redisUrl', 'schemaRegistryUrl'] as const;

/**
 * Field names under which row data goes: cache key, tag and version names rendered from row values,
 * and row images. Log calls must put such data under these names only; they are censored unless
 * `--log-keys` is set.
 */
export const DATA_FIELDS = ['keyNames', 'tagNames', 'versionNames', 'row', 'before', 'after'] as const;

/**
 * `name` at the top, one object down, and up to three objects down under `config` (where whole config
 * objects are logged). Deeper wildcards (`*.*.*.name`) would walk every element of a logged array of key
 * names: 10× the cost of a debug batch line.
 */
function anyDepth(name: string): string[] {
  return [name, `*.${name}`, `config.*.${name}`, `config.*.*.${name}`];
}

/** Every redacted path: secrets always, row data unless `logKeys`. Exported for tests and docs. */
export function redactPaths(logKeys = false): string[] {
  const paths = [
    ...SECRET_FIELDS.flatMap(anyDepth),
    ...KEY_HOLDERS.flatMap((h) => anyDepth(`${h}.key`)),
    ...URL_FIELDS.flatMap(anyDepth),
    ...(logKeys ? [] : DATA_FIELDS.flatMap(anyDepth)),
  ];
  return [...new Set(paths)];
}

/** A URL keeps everything but its password; anything else is replaced. */
function censor(value: unknown, path: string[]): unknown {
  const field = path[path.length - 1] ?? '';
  if ((URL_FIELDS as readonly string[]).includes(field)) return maskUrls(value);
  if ((DATA_FIELDS as readonly string[]).includes(field)) return '[redacted: --log-keys]';
  return '[redacted]';
}

function maskUrls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(maskUrls);
  if (typeof value !== 'string') return value === undefined || value === null || typeof value === 'number' || typeof value === 'boolean' ? value : '[redacted]';
  return value.replace(/(\b[a-z][a-z0-9+.-]*:\/\/)([^/@\s]*)@/gi, (_m, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(':');
    return colon < 0 ? `${scheme}${userinfo}@` : `${scheme}${userinfo.slice(0, colon)}:***@`;
  });
}

/**
 * The one way to make a logger. Structured JSON. Secrets never reach the output: every config field
 * that can hold one is redacted (`redactPaths`), URLs lose their password. Key names and row values
 * only under DATA_FIELDS, and only with `logKeys` (`--log-keys`); `run` logs them at debug at most.
 */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const dest = opts.destination ?? 1;
  const stream = typeof dest === 'number' ? pino.destination({ dest, sync: true }) : dest;
  return pino(
    {
      name: 'cdc-invalidator',
      level: opts.level ?? 'info',
      base: { pid: process.pid },
      redact: { paths: redactPaths(opts.logKeys ?? false), censor },
    },
    stream,
  );
}
