import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse as parseYaml } from 'yaml';
import { MAPPING_FIELDS, parseMappingFile } from '../../../src/mapping/parse.js';
import { repoRoot } from '../../support/paths.js';

const root = repoRoot();
/** The parts of the schema the assertions below read. */
type MappingsSchema = {
  $schema: string;
  properties: Record<string, unknown>;
  $defs: { mapping: { properties: Record<string, { description?: string }>; additionalProperties: unknown } };
};
const schema = JSON.parse(await readFile(join(root, 'schema', 'mappings.schema.json'), 'utf8')) as MappingsSchema;
const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
const validate = ajv.compile(schema);

const exampleFiles = (await readdir(join(root, 'mappings'))).filter((f) => /\.ya?ml$/.test(f) && !/\.test\.ya?ml$/.test(f)).sort();

function errorsOf(doc: unknown): string[] {
  return validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`);
}

describe('schema/mappings.schema.json', () => {
  it('is a valid draft 2020-12 schema with a description on every mapping field', () => {
    assert.equal(schema['$schema'], 'https://json-schema.org/draft/2020-12/schema');
    const mapping = schema['$defs']['mapping'];
    for (const [field, def] of Object.entries(mapping.properties)) {
      assert.ok(def.description && def.description.length > 20, `${field} has a description`);
    }
  });

  it("lists exactly parse.ts's MAPPING_FIELDS, and mapping files may hold only `mappings`", () => {
    assert.deepEqual(Object.keys(schema['$defs']['mapping'].properties).sort(), [...MAPPING_FIELDS].sort());
    assert.deepEqual(Object.keys(schema['properties']), ['mappings']);
    assert.equal(schema['$defs']['mapping'].additionalProperties, false);
  });

  it('accepts every example mapping file in mappings/ (which the parser accepts without a warning)', async () => {
    assert.ok(exampleFiles.length >= 4, `example files: ${exampleFiles.join(', ')}`);
    for (const f of exampleFiles) {
      const text = await readFile(join(root, 'mappings', f), 'utf8');
      assert.deepEqual(errorsOf(parseYaml(text)), [], f);
      assert.deepEqual(parseMappingFile(f, text).problems, [], f);
    }
  });

  it('accepts the README example', async () => {
    const readme = await readFile(join(root, 'README.md'), 'utf8');
    const block = /## Mapping reference[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(block, 'README has a yaml block under "Mapping reference"');
    assert.deepEqual(errorsOf(parseYaml(block)), []);
  });

  it('rejects what the parser rejects', () => {
    const bad: [string, unknown][] = [
      ['unknown field', { mappings: [{ name: 'a', table: 's.t', keys: ['k:{id}'], kyes: ['x'] }] }],
      ['missing table', { mappings: [{ name: 'a', keys: ['k:{id}'] }] }],
      ['nothing to invalidate', { mappings: [{ name: 'a', table: 's.t' }] }],
      ['table without schema', { mappings: [{ name: 'a', table: 'customers', keys: ['k:{id}'] }] }],
      ['unknown op', { mappings: [{ name: 'a', table: 's.t', keys: ['k:{id}'], ops: ['x'] }] }],
      ['unknown filter', { mappings: [{ name: 'a', table: 's.t', keys: ['k:{id|shout}'] }] }],
      ['unclosed brace', { mappings: [{ name: 'a', table: 's.t', keys: ['k:{id'] }] }],
      ['column in on_truncate', { mappings: [{ name: 'a', table: 's.t', keys: ['k:{id}'], on_truncate: { keys: ['k:{id}'] } }] }],
      ['bad duration', { mappings: [{ name: 'a', table: 's.t', keys: ['k:{id}'], second_delete_delay: 'soon' }] }],
      ['unknown when field', { mappings: [{ name: 'a', table: 's.t', keys: ['k:{id}'], when: { unchanged: ['x'] } }] }],
      ['bad name', { mappings: [{ name: 'a b', table: 's.t', keys: ['k:{id}'] }] }],
      ['unknown top-level field', { mapping: [] }],
    ];
    for (const [what, doc] of bad) {
      assert.notDeepEqual(errorsOf(doc), [], `schema should reject: ${what}`);
      const yamlText = JSON.stringify(doc); // JSON is YAML
      assert.ok(parseMappingFile('x.yaml', yamlText).problems.some((p) => p.severity === 'error'), `parser rejects too: ${what}`);
    }
  });

  it('accepts the lone-string and comma-separated forms the parser accepts', () => {
    const doc = { mappings: [{ name: 'a', table: 'tenant_*.t', keys: 'k:{id}', ops: 'c, u,d', when: { changed: 'x' }, second_delete_delay: 1500, versions: ['{{v}}:{id|trim|lower}'] }] };
    assert.deepEqual(errorsOf(doc), []);
    assert.deepEqual(parseMappingFile('x.yaml', JSON.stringify(doc)).problems.filter((p) => p.severity === 'error'), []);
  });
});
