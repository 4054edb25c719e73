import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import protobuf from 'protobufjs';
import type { SchemaRegistryConfig } from '../../config/schema-registry.js';
import { avroOptions } from './avro-types.js';
import { DecodeError, DecoderUnavailableError } from './errors.js';

/** Confluent wire format: magic byte 0, a 4-byte big-endian schema id, then the serialised bytes. */
export const MAGIC_BYTE = 0;
const HEADER_BYTES = 5;

/** True when the bytes can be registry-framed (JSON text never starts with byte 0). */
export function isRegistryFramed(bytes: Buffer | null): bytes is Buffer {
  return bytes !== null && bytes.length >= HEADER_BYTES && bytes[0] === MAGIC_BYTE;
}

export function schemaIdOf(bytes: Buffer): number {
  return bytes.readInt32BE(1);
}

export type RegistrySchemaType = 'AVRO' | 'PROTOBUF' | 'JSON';

/** One registry-framed key or value, decoded with its writer schema. */
export interface RegistryDecoded {
  readonly schemaId: number;
  readonly schemaType: RegistrySchemaType;
  /** avsc Type (Avro), protobufjs message Type (Protobuf), or undefined (JSON Schema). */
  readonly schema: unknown;
  /** The decoded value: Avro/JSON as plain values, Protobuf as a protobufjs message. */
  readonly value: unknown;
  /** The serialised bytes after the 5-byte header. */
  readonly payload: Buffer;
}

/** The library's HTTP error (mappersmith response turned into an Error). */
interface ResponseError extends Error {
  readonly status?: number;
}

/** A 404 that names a missing schema, as Confluent (error_code 40403), Redpanda and Apicurio word it. */
const SCHEMA_NOT_FOUND = /\bnot found\b|\bno (?:schema|content)\b/i;

/** A mappersmith middleware giving every request a socket timeout (a hung registry fails, and is retried). */
function timeoutMiddleware(ms: number) {
  return () => ({
    prepareRequest: (next: () => Promise<{ timeout(): number | undefined; enhance(extras: { timeout: number }): unknown }>) =>
      next().then((req) => (req.timeout() ? req : req.enhance({ timeout: ms }))),
  });
}

/**
 * The Schema Registry behind `@kafkajs/confluent-schema-registry`: schemas are fetched once per id
 * and cached by the library (concurrent misses share one request). Failures are sorted here:
 * - the registry has no such schema (404), or the schema cannot be used → DecodeError (poison);
 * - the bytes do not decode with their schema → DecodeError (poison);
 * - anything else — refused, timed out, 5xx, 401/403, an unexpected 404 — → DecoderUnavailableError
 *   (an outage: the worker retries and never commits past the record).
 */
export class RegistryClient {
  readonly #registry: SchemaRegistry;
  readonly #url: string;

  constructor(config: SchemaRegistryConfig) {
    // The Confluent Protobuf converter names fields as in the .proto (first_name); protobufjs
    // would camelCase them unless told to keep the case. The library parses with the defaults.
    (protobuf.parse as unknown as { defaults: { keepCase: boolean } }).defaults.keepCase = true;
    this.#url = config.url;
    const agent = config.url.startsWith('https:')
      ? new HttpsAgent({ keepAlive: true, ...(config.ca ? { ca: config.ca } : {}) })
      : new HttpAgent({ keepAlive: true });
    this.#registry = new SchemaRegistry(
      {
        host: config.url,
        clientId: 'cdc-invalidator',
        // Retries belong to the worker (backoff, heartbeats, pause): one attempt per call here.
        retry: { retries: 0 },
        agent,
        middlewares: [timeoutMiddleware(config.timeoutMs) as never],
        ...(config.username !== undefined && config.password !== undefined ? { auth: { username: config.username, password: config.password } } : {}),
      },
      { [SchemaType.AVRO]: avroOptions() },
    );
  }

  /** The library client, for tools that register or encode (tests, the demo). */
  get registry(): SchemaRegistry {
    return this.#registry;
  }

  /** Decodes registry-framed bytes (check isRegistryFramed first); `what` names them in errors. */
  async decode(bytes: Buffer, what: 'key' | 'value'): Promise<RegistryDecoded> {
    if (!isRegistryFramed(bytes)) {
      throw new DecodeError('invalid_avro', `${what} is not Schema Registry framed (magic byte 0 and a 4-byte schema id)`);
    }
    const schemaId = schemaIdOf(bytes);
    await this.#schema(schemaId, what);
    const entry = this.#registry.cache.getSchema(schemaId);
    if (!entry) throw new DecoderUnavailableError(`schema ${schemaId} vanished from the cache`);
    const schemaType = entry.type as string;
    const payload = bytes.subarray(HEADER_BYTES);
    let value: unknown;
    try {
      value = await this.#registry.decode(bytes);
    } catch (e) {
      const message = (e as Error).message;
      if (schemaType === 'PROTOBUF') throw new DecodeError('invalid_protobuf', `${what} does not decode with Protobuf schema ${schemaId}: ${message}`);
      if (schemaType === 'JSON') {
        if (e instanceof SyntaxError) throw new DecodeError('invalid_json', `${what} (JSON Schema ${schemaId}) is not valid JSON: ${message}`);
        throw new DecodeError('schema_mismatch', `${what} does not match JSON Schema ${schemaId}: ${message}`);
      }
      throw new DecodeError('invalid_avro', `${what} does not decode with Avro schema ${schemaId}: ${message}`);
    }
    const schema = schemaType === 'AVRO' ? entry.schema : schemaType === 'PROTOBUF' ? (entry.schema as unknown as { message: unknown }).message : undefined;
    return { schemaId, schemaType: schemaType as RegistrySchemaType, schema, value, payload };
  }

  async #schema(id: number, what: string): Promise<void> {
    if (this.#registry.cache.getSchema(id)) return;
    try {
      await this.#registry.getSchema(id);
    } catch (e) {
      const err = e as ResponseError;
      if (err.name === 'ResponseError') {
        if (err.status === 404 && SCHEMA_NOT_FOUND.test(err.message)) {
          throw new DecodeError('unknown_schema', `${what} names schema id ${id}, which the Schema Registry does not know`);
        }
        const hint = err.status === 401 || err.status === 403 ? ' (check CDC_INVALIDATOR_SCHEMA_REGISTRY_USERNAME/PASSWORD)' : err.status === 404 ? ' (is the registry URL right?)' : '';
        throw new DecoderUnavailableError(`schema registry ${this.#url}: schema ${id}: HTTP ${err.status ?? '?'}${hint}: ${err.message}`, { cause: e });
      }
      if (err.name === 'ConfluentSchemaRegistryArgumentError') {
        throw new DecodeError('unsupported_schema', `${what} schema ${id} cannot be used: ${err.message}`);
      }
      throw new DecoderUnavailableError(`schema registry ${this.#url}: schema ${id}: ${err.message}`, { cause: e });
    }
  }
}
