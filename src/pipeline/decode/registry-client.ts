import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import type { SchemaRegistryConfig } from '../../config/schema-registry.js';
import { avroOptions } from './avro-types.js';
import { DecodeError, DecoderUnavailableError } from './errors.js';
import { ProtobufSchema } from './protobuf-schema.js';

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

/** A schema as the registry answers GET /schemas/ids/:id or /subjects/:s/versions/:v. */
interface RegistrySchemaBody {
  readonly schema: string;
  readonly references?: readonly SchemaReference[];
}

interface SchemaReference {
  readonly name: string;
  readonly subject: string;
  readonly version: number | string;
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

  readonly #config: SchemaRegistryConfig;
  readonly #agent: HttpAgent | HttpsAgent;
  /** Protobuf schemas by id, parsed by us (ProtobufSchema: keepCase for this parse only). */
  readonly #protobuf = new Map<number, Promise<ProtobufSchema>>();

  constructor(config: SchemaRegistryConfig) {
    this.#url = config.url;
    this.#config = config;
    const agent = config.url.startsWith('https:')
      ? new HttpsAgent({ keepAlive: true, ...(config.ca ? { ca: config.ca } : {}) })
      : new HttpAgent({ keepAlive: true });
    this.#agent = agent;
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
    if (schemaType === 'PROTOBUF') return this.#decodeProtobuf(schemaId, payload, what);
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
    const schema = schemaType === 'AVRO' ? entry.schema : undefined;
    return { schemaId, schemaType: schemaType as RegistrySchemaType, schema, value, payload };
  }

  /**
   * Protobuf is decoded here, not by the library: it parses .proto text with protobufjs' defaults
   * (field names camelCased), and the only way to change those is process-wide. We fetch the
   * schema's text once per id and parse it with keepCase (ProtobufSchema), and we read the
   * message indexes Confluent's serializer writes after the schema id.
   */
  async #decodeProtobuf(schemaId: number, payload: Buffer, what: 'key' | 'value'): Promise<RegistryDecoded> {
    let parsed = this.#protobuf.get(schemaId);
    if (!parsed) {
      parsed = this.#fetchProtobuf(schemaId, what);
      this.#protobuf.set(schemaId, parsed);
      // An outage is retried: forget the failed lookup (a schema that cannot be used stays poison).
      parsed.catch((e: unknown) => {
        if (e instanceof DecoderUnavailableError) this.#protobuf.delete(schemaId);
      });
    }
    const schema = await parsed;
    try {
      const { type, bytes } = schema.messageOf(payload);
      return { schemaId, schemaType: 'PROTOBUF', schema: type, value: type.decode(bytes), payload };
    } catch (e) {
      throw new DecodeError('invalid_protobuf', `${what} does not decode with Protobuf schema ${schemaId}: ${(e as Error).message}`);
    }
  }

  async #fetchProtobuf(id: number, what: string): Promise<ProtobufSchema> {
    const top = (await this.#getJson(`/schemas/ids/${id}`)) as RegistrySchemaBody;
    const references: string[] = [];
    const seen = new Set<string>();
    // Depth-first, dependencies before their dependants; bounded by the set of distinct references.
    const collect = async (refs: readonly SchemaReference[] | undefined): Promise<void> => {
      for (const r of refs ?? []) {
        const id = `${r.subject}\u0000${r.version}`;
        if (seen.has(id) || seen.size >= 1_000) continue;
        seen.add(id);
        const body = (await this.#getJson(`/subjects/${encodeURIComponent(r.subject)}/versions/${encodeURIComponent(String(r.version))}`)) as RegistrySchemaBody;
        await collect(body.references);
        references.push(body.schema);
      }
    };
    await collect(top.references);
    try {
      return new ProtobufSchema({ schema: top.schema, references });
    } catch (e) {
      throw new DecodeError('unsupported_schema', `${what} Protobuf schema ${id} cannot be used: ${(e as Error).message}`);
    }
  }

  /** One GET against the registry (its agent, credentials and timeout); failures as the library reports them. */
  #getJson(path: string): Promise<unknown> {
    const url = new URL(path.replace(/^\//, ''), this.#url.endsWith('/') ? this.#url : `${this.#url}/`);
    const { username, password, timeoutMs } = this.#config;
    const headers: Record<string, string> = { accept: 'application/vnd.schemaregistry.v1+json, application/json' };
    if (username !== undefined && password !== undefined) headers['authorization'] = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(url, { agent: this.#agent, headers, timeout: timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            body = undefined;
          }
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300 && typeof (body as RegistrySchemaBody | undefined)?.schema === 'string') return resolve(body);
          const message = typeof (body as { message?: unknown } | undefined)?.message === 'string' ? (body as { message: string }).message : `HTTP ${status}`;
          reject(this.#failure(Object.assign(new Error(message), { name: 'ResponseError', status }), path));
        });
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (e) => reject(this.#failure(e, path)));
      req.end();
    });
  }

  /** A failed registry request as poison (the schema does not exist) or an outage (anything else). */
  #failure(err: ResponseError, path: string): Error {
    if (err.name === 'ResponseError' && err.status === 404 && SCHEMA_NOT_FOUND.test(err.message)) {
      return new DecodeError('unknown_schema', `the Schema Registry does not know ${path}`);
    }
    const hint = err.status === 401 || err.status === 403 ? ' (check CDC_INVALIDATOR_SCHEMA_REGISTRY_USERNAME/PASSWORD)' : '';
    return new DecoderUnavailableError(`schema registry ${this.#url}: ${path}: ${err.status ? `HTTP ${err.status}${hint}: ` : ''}${err.message}`, { cause: err });
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
