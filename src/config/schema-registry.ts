import { ConfigError } from './errors.js';
import { DURATION_RANGES, durationValue } from './values.js';
import { fileFromEnv, secretFromEnv } from './secrets.js';

/** How record values are decoded: Kafka Connect JSON, registry-framed (Avro, Protobuf, JSON Schema), or told apart per record. */
export const VALUE_FORMATS = ['json', 'avro', 'auto'] as const;
export type ValueFormat = (typeof VALUE_FORMATS)[number];

/** The decoder flags of `run`, `tap` and `replay` (credentials are never flags). */
export interface DecoderFlags {
  format?: string;
  schemaRegistry?: string;
  schemaRegistryCa?: string;
  schemaRegistryTimeout?: string;
}

/** A Confluent-compatible Schema Registry (credentials and CA bytes: log it only through describeSchemaRegistry). */
export interface SchemaRegistryConfig {
  /** Base URL without credentials. */
  readonly url: string;
  readonly username?: string;
  readonly password?: string;
  /** PEM CA bundle for an https:// registry; undefined = Node's bundled CAs. */
  readonly ca?: Buffer;
  /** A lookup not answered in this time fails and is retried (an outage, not a poison record). */
  readonly timeoutMs: number;
}

export interface DecoderConfig {
  readonly format: ValueFormat;
  readonly schemaRegistry?: SchemaRegistryConfig;
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

/**
 * Resolves `--format`, `--schema-registry`, `--schema-registry-ca`, `--schema-registry-timeout`
 * (flags over env) and the basic-auth credentials from CDC_INVALIDATOR_SCHEMA_REGISTRY_USERNAME and
 * CDC_INVALIDATOR_SCHEMA_REGISTRY_PASSWORD (or their `_FILE` forms). Throws ConfigError.
 */
export function resolveDecoderConfig(flags: DecoderFlags, env: NodeJS.ProcessEnv): DecoderConfig {
  const rawFormat = nonEmpty(flags.format) ?? nonEmpty(env['CDC_INVALIDATOR_FORMAT']) ?? 'auto';
  if (!(VALUE_FORMATS as readonly string[]).includes(rawFormat)) {
    throw new ConfigError(`${flags.format ? '--format' : 'CDC_INVALIDATOR_FORMAT'}: expected one of ${VALUE_FORMATS.join(', ')}, got "${rawFormat}"`);
  }
  const format = rawFormat as ValueFormat;
  const rawUrl = nonEmpty(flags.schemaRegistry) ?? nonEmpty(env['CDC_INVALIDATOR_SCHEMA_REGISTRY']);
  if (rawUrl === undefined) {
    if (format === 'avro') throw new ConfigError('--format avro needs a Schema Registry: give --schema-registry (env CDC_INVALIDATOR_SCHEMA_REGISTRY)');
    return Object.freeze({ format });
  }
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw new ConfigError(`--schema-registry: not a URL: "${rawUrl.replace(/\/\/[^@/]*@/, '//***@')}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError('--schema-registry: expected an http:// or https:// URL');
  // Credentials in the URL are accepted (as the Confluent clients do) but moved out of it.
  let username = nonEmpty(decodeURIComponent(url.username));
  let password = nonEmpty(decodeURIComponent(url.password));
  url.username = '';
  url.password = '';
  const envUser = secretFromEnv(env, 'CDC_INVALIDATOR_SCHEMA_REGISTRY_USERNAME');
  const envPassword = secretFromEnv(env, 'CDC_INVALIDATOR_SCHEMA_REGISTRY_PASSWORD');
  if (envUser !== undefined) username = envUser;
  if (envPassword !== undefined) password = envPassword;
  if ((username === undefined) !== (password === undefined)) {
    throw new ConfigError('Schema Registry basic auth needs both CDC_INVALIDATOR_SCHEMA_REGISTRY_USERNAME and CDC_INVALIDATOR_SCHEMA_REGISTRY_PASSWORD (or _FILE)');
  }
  const caFlag = nonEmpty(flags.schemaRegistryCa);
  const ca = fileFromEnv(env, 'CDC_INVALIDATOR_SCHEMA_REGISTRY_CA', caFlag);
  if (ca !== undefined && url.protocol !== 'https:') throw new ConfigError('--schema-registry-ca: the registry URL is not https://');
  const timeoutText = nonEmpty(flags.schemaRegistryTimeout) ?? nonEmpty(env['CDC_INVALIDATOR_SCHEMA_REGISTRY_TIMEOUT']) ?? '5s';
  const timeoutSource = nonEmpty(flags.schemaRegistryTimeout) ? '--schema-registry-timeout' : 'CDC_INVALIDATOR_SCHEMA_REGISTRY_TIMEOUT';
  const [minMs, maxMs] = DURATION_RANGES['schema-registry-timeout'];
  const timeoutMs = durationValue(timeoutText, timeoutSource, minMs, maxMs);
  const registry: SchemaRegistryConfig = Object.freeze({
    url: url.toString().replace(/\/$/, ''),
    timeoutMs,
    ...(username !== undefined && password !== undefined ? { username, password } : {}),
    ...(ca !== undefined ? { ca } : {}),
  });
  return Object.freeze({ format, schemaRegistry: registry });
}

/** The registry settings for logs: no password, no CA bytes. */
export function describeSchemaRegistry(r: SchemaRegistryConfig | undefined): Record<string, unknown> | undefined {
  if (!r) return undefined;
  return {
    url: r.url,
    timeoutMs: r.timeoutMs,
    ...(r.username !== undefined ? { username: r.username, password: '***' } : {}),
    ...(r.ca !== undefined ? { ca: `${r.ca.length} bytes` } : {}),
  };
}
