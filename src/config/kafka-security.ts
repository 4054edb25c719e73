import type { KafkaConfig } from 'kafkajs';
import { ConfigError } from './errors.js';
import { fileFromEnv, secretFromEnv } from './secrets.js';

export const SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

/** The Kafka security flags of `run`, `tap`, `replay` and `offsets` (credentials are never flags). */
export interface KafkaSecurityFlags {
  kafkaSaslMechanism?: string;
  kafkaTls?: boolean;
  kafkaTlsCa?: string;
  kafkaTlsCert?: string;
  kafkaTlsKey?: string;
  kafkaTlsServername?: string;
}

export interface KafkaSasl {
  readonly mechanism: SaslMechanism;
  readonly username: string;
  readonly password: string;
}

export interface KafkaTls {
  /** PEM CA bundle; undefined = Node's bundled CAs. */
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  /** Passphrase of an encrypted `key`. */
  readonly passphrase?: string;
  /** SNI and certificate host check, when it differs from the broker host. */
  readonly servername?: string;
}

/** How the worker authenticates to Kafka and encrypts the connection; both absent = plaintext, no auth. */
export interface KafkaSecurity {
  readonly sasl?: KafkaSasl;
  readonly tls?: KafkaTls;
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

function bool(value: string, name: string): boolean {
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off|)$/i.test(value)) return false;
  throw new ConfigError(`${name}: expected true or false, got "${value}"`);
}

function mechanism(value: string, flag: string): SaslMechanism {
  const m = value.toLowerCase();
  if ((SASL_MECHANISMS as readonly string[]).includes(m)) return m as SaslMechanism;
  throw new ConfigError(`${flag}: unknown SASL mechanism "${value}" (expected ${SASL_MECHANISMS.join(', ')})`);
}

function resolveSasl(flags: KafkaSecurityFlags, env: NodeJS.ProcessEnv): KafkaSasl | undefined {
  const fromFlag = nonEmpty(flags.kafkaSaslMechanism);
  const raw = fromFlag ?? nonEmpty(env['CDC_INVALIDATOR_KAFKA_SASL_MECHANISM']);
  const where = fromFlag !== undefined ? '--kafka-sasl-mechanism' : 'CDC_INVALIDATOR_KAFKA_SASL_MECHANISM';
  const username = secretFromEnv(env, 'CDC_INVALIDATOR_KAFKA_SASL_USERNAME');
  const password = secretFromEnv(env, 'CDC_INVALIDATOR_KAFKA_SASL_PASSWORD');
  if (raw === undefined) {
    if (username !== undefined || password !== undefined) {
      throw new ConfigError(
        `CDC_INVALIDATOR_KAFKA_SASL_${password !== undefined ? 'PASSWORD' : 'USERNAME'} is set but no SASL mechanism: give --kafka-sasl-mechanism (CDC_INVALIDATOR_KAFKA_SASL_MECHANISM) ${SASL_MECHANISMS.join('|')}`,
      );
    }
    return undefined;
  }
  const m = mechanism(raw, where);
  const missing = [username === undefined ? 'CDC_INVALIDATOR_KAFKA_SASL_USERNAME' : '', password === undefined ? 'CDC_INVALIDATOR_KAFKA_SASL_PASSWORD (or CDC_INVALIDATOR_KAFKA_SASL_PASSWORD_FILE)' : ''].filter(Boolean);
  if (missing.length) throw new ConfigError(`${where}=${m} needs ${missing.join(' and ')}`);
  return Object.freeze({ mechanism: m, username: username!, password: password! });
}

function resolveTls(flags: KafkaSecurityFlags, env: NodeJS.ProcessEnv): KafkaTls | undefined {
  const ca = fileFromEnv(env, 'CDC_INVALIDATOR_KAFKA_TLS_CA', nonEmpty(flags.kafkaTlsCa));
  const cert = fileFromEnv(env, 'CDC_INVALIDATOR_KAFKA_TLS_CERT', nonEmpty(flags.kafkaTlsCert));
  const key = fileFromEnv(env, 'CDC_INVALIDATOR_KAFKA_TLS_KEY', nonEmpty(flags.kafkaTlsKey));
  const passphrase = secretFromEnv(env, 'CDC_INVALIDATOR_KAFKA_TLS_KEY_PASSWORD');
  const servername = nonEmpty(flags.kafkaTlsServername) ?? nonEmpty(env['CDC_INVALIDATOR_KAFKA_TLS_SERVERNAME']);
  if (cert && !key) throw new ConfigError('--kafka-tls-cert (CDC_INVALIDATOR_KAFKA_TLS_CERT) needs --kafka-tls-key (CDC_INVALIDATOR_KAFKA_TLS_KEY): a client certificate without its key');
  if (key && !cert) throw new ConfigError('--kafka-tls-key (CDC_INVALIDATOR_KAFKA_TLS_KEY) needs --kafka-tls-cert (CDC_INVALIDATOR_KAFKA_TLS_CERT): a client key without its certificate');
  if (passphrase !== undefined && !key) throw new ConfigError('CDC_INVALIDATOR_KAFKA_TLS_KEY_PASSWORD is set but there is no client key (--kafka-tls-key, CDC_INVALIDATOR_KAFKA_TLS_KEY)');
  const explicit = flags.kafkaTls ?? bool(env['CDC_INVALIDATOR_KAFKA_TLS'] ?? '', 'CDC_INVALIDATOR_KAFKA_TLS');
  // A CA, a client certificate or a server name only make sense over TLS: they turn it on.
  if (!explicit && !ca && !cert && servername === undefined) return undefined;
  return Object.freeze({
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    ...(passphrase !== undefined ? { passphrase } : {}),
    ...(servername !== undefined ? { servername } : {}),
  });
}

/** Resolves the Kafka security settings from flags, env and files (read once, now). Throws ConfigError. */
export function resolveKafkaSecurity(flags: KafkaSecurityFlags, env: NodeJS.ProcessEnv = process.env): KafkaSecurity {
  const sasl = resolveSasl(flags, env);
  const tls = resolveTls(flags, env);
  return Object.freeze({ ...(sasl ? { sasl } : {}), ...(tls ? { tls } : {}) });
}

/** The kafkajs client options (`ssl`, `sasl`) for these settings. */
export function kafkajsSecurityOptions(s: KafkaSecurity): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  const out: Pick<KafkaConfig, 'ssl' | 'sasl'> = {};
  if (s.tls) {
    const t = s.tls;
    out.ssl = {
      rejectUnauthorized: true,
      ...(t.ca ? { ca: [t.ca] } : {}),
      ...(t.cert ? { cert: t.cert } : {}),
      ...(t.key ? { key: t.key } : {}),
      ...(t.passphrase !== undefined ? { passphrase: t.passphrase } : {}),
      ...(t.servername !== undefined ? { servername: t.servername } : {}),
    };
  }
  if (s.sasl) {
    const { username, password } = s.sasl;
    // One branch per mechanism: kafkajs types SASLOptions as a union discriminated by `mechanism`.
    switch (s.sasl.mechanism) {
      case 'plain':
        out.sasl = { mechanism: 'plain', username, password };
        break;
      case 'scram-sha-256':
        out.sasl = { mechanism: 'scram-sha-256', username, password };
        break;
      case 'scram-sha-512':
        out.sasl = { mechanism: 'scram-sha-512', username, password };
        break;
    }
  }
  return out;
}

/** What may be logged about these settings: which variant, never a password, key or certificate bytes. */
export function describeKafkaSecurity(s: KafkaSecurity): Record<string, unknown> {
  return {
    sasl: s.sasl ? { mechanism: s.sasl.mechanism, username: s.sasl.username } : false,
    tls: s.tls
      ? {
          ca: s.tls.ca ? 'file' : 'system',
          clientCertificate: s.tls.cert !== undefined,
          encryptedKey: s.tls.passphrase !== undefined,
          ...(s.tls.servername !== undefined ? { servername: s.tls.servername } : {}),
        }
      : false,
  };
}
