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
 * Properties an error may carry that hold row data: ioredis' ReplyError keeps the failed command
 * with its arguments (cache key names), a record or its key and value, a row image.
 */
const ERROR_DATA_FIELDS = ['command', 'args', 'record', 'records', 'key', 'value', 'row', 'before', 'after'] as const;

/** The cause chain of an error as `{type, message, code?, cause?}`, at most `depth` deep. */
function causeOf(err: unknown, depth: number): Record<string, unknown> | undefined {
  if (depth <= 0 || typeof err !== 'object' || err === null || !('message' in err)) return undefined;
  const e = err as Error & { code?: unknown; cause?: unknown };
  const out: Record<string, unknown> = { type: e.constructor?.name ?? e.name, message: String(e.message) };
  if (typeof e.code === 'string' || typeof e.code === 'number') out['code'] = e.code;
  const next = causeOf(e.cause, depth - 1);
  if (next) out['cause'] = next;
  return out;
}

/**
 * pino's error serializer (type, message and stack with their causes appended, own fields), plus
 * the cause chain as data (`cause: {type, message, code}`) and without the fields that hold row
 * data (ERROR_DATA_FIELDS). Log errors as `{ err }`, never as `{ err: { message } }`: that loses
 * type, stack and cause.
 */
export function serializeError(err: unknown): unknown {
  const out = pino.stdSerializers.err(err as Error) as unknown;
  if (out === err || typeof out !== 'object' || out === null) return out;
  const o = out as Record<string, unknown>;
  for (const f of ERROR_DATA_FIELDS) delete o[f];
  for (const [k, v] of Object.entries(o)) if (Buffer.isBuffer(v)) delete o[k];
  // kafkajs' protocol errors name the broker's error in `type`, which the serializer's `type` (the class) hides.
  const kafkaType = (err as { type?: unknown }).type;
  if (typeof kafkaType === 'string') o['errorType'] = kafkaType;
  const cause = causeOf((err as { cause?: unknown }).cause, 5);
  if (cause) o['cause'] = cause;
  return o;
}

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
      serializers: { err: serializeError },
      redact: { paths: redactPaths(opts.logKeys ?? false), censor },
    },
    stream,
  );
}
