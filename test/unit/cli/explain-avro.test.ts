import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { avroEvents, encodeEvent, registerProducts } from '../../support/avro.js';
import { fixturePath } from '../../support/paths.js';
import { startSchemaRegistry, type TestSchemaRegistry } from '../../support/schema-registry.js';
import { exitOf, mappingsDir, spawnCli } from '../../support/worker.js';

const MAPPING = `mappings:
  - name: products
    table: inventory.products
    keys: ["product:{id}", "product:{id}:price:{price}"]
`;

let registry: TestSchemaRegistry;
let file: string;
let mappings: string;

before(async () => {
  registry = await startSchemaRegistry();
  const schemas = await registerProducts(registry.url);
  const { value } = await encodeEvent(schemas, avroEvents()[0]!);
  file = join(await mkdtemp(join(tmpdir(), 'cdci-explain-avro-')), 'create.avro');
  await writeFile(file, value!);
  mappings = await mappingsDir(MAPPING);
});
after(async () => registry?.close());

async function explain(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; lines: Record<string, unknown>[] }> {
  const child = spawnCli(['explain', '--mappings', mappings, ...args], { CDC_INVALIDATOR_SCHEMA_REGISTRY: '', ...env });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const code = await exitOf(child);
  return { code, lines: out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('explain with registry-framed files', { timeout: 60_000 }, () => {
  it('decodes an Avro value file through --schema-registry, next to a JSON file', async () => {
    const { code, lines } = await explain(['--schema-registry', registry.url, file, fixturePath('avro', 'products-create-with-schema.json')]);
    assert.equal(code, 0);
    assert.equal(lines.length, 2);
    for (const line of lines) {
      assert.equal(line['result'], 'event');
      assert.equal(line['table'], 'inventory.products');
      assert.deepEqual(line['keys'], ['product:501', 'product:501:price:1234.50']);
    }
  });

  it('takes the registry from CDC_INVALIDATOR_SCHEMA_REGISTRY; without one a framed file is an error that says so', async () => {
    const fromEnv = await explain([file], { CDC_INVALIDATOR_SCHEMA_REGISTRY: registry.url });
    assert.equal(fromEnv.code, 0);
    assert.deepEqual(fromEnv.lines[0]!['keys'], ['product:501', 'product:501:price:1234.50']);
    const none = await explain([file]);
    assert.equal(none.code, 1);
    assert.equal(none.lines[0]!['code'], 'invalid_json');
    assert.match(String(none.lines[0]!['error']), /--schema-registry/);
  });
});
