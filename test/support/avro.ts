import { readFileSync } from 'node:fs';
import { SchemaType } from '@kafkajs/confluent-schema-registry';
import { RegistryClient } from '../../src/pipeline/decode/registry-client.js';
import { parseJsonExact } from '../../src/util/json.js';
import { fixturePath } from './paths.js';

/** One Avro event of test/fixtures/avro/products-events.json and its JSON-converter twin file. */
export interface AvroFixtureEvent {
  readonly name: string;
  readonly twin: string;
  readonly topic: string;
  readonly key: Record<string, unknown>;
  readonly value: Record<string, unknown> | null;
}

export function avroEvents(): AvroFixtureEvent[] {
  return parseJsonExact(readFileSync(fixturePath('avro', 'products-events.json'), 'utf8')) as AvroFixtureEvent[];
}

export function avroSchemaText(name: 'products-key' | 'products-value'): string {
  return readFileSync(fixturePath('avro', `${name}.avsc`), 'utf8');
}

export interface ProductsSchemas {
  readonly client: RegistryClient;
  readonly keyId: number;
  readonly valueId: number;
}

/** Registers the products key and value schemas (subjects <topic>-key / <topic>-value, as the AvroConverter does). */
export async function registerProducts(url: string, topic = 'shop.inventory.products'): Promise<ProductsSchemas> {
  const client = new RegistryClient({ url, timeoutMs: 5_000 });
  const { id: keyId } = await client.registry.register({ type: SchemaType.AVRO, schema: avroSchemaText('products-key') }, { subject: `${topic}-key` });
  const { id: valueId } = await client.registry.register({ type: SchemaType.AVRO, schema: avroSchemaText('products-value') }, { subject: `${topic}-value` });
  return { client, keyId, valueId };
}

/** Key and value bytes of an event, encoded by the library with the registered schemas. */
export async function encodeEvent(s: ProductsSchemas, ev: Pick<AvroFixtureEvent, 'key' | 'value'>): Promise<{ key: Buffer; value: Buffer | null }> {
  return {
    key: await s.client.registry.encode(s.keyId, ev.key),
    value: ev.value === null ? null : await s.client.registry.encode(s.valueId, ev.value),
  };
}
