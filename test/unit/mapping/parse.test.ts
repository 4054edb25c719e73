import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatProblem } from '../../../src/mapping/model.js';
import { parseMappingFile } from '../../../src/mapping/parse.js';

const messages = (text: string) => parseMappingFile('m.yaml', text).problems.map(formatProblem);

describe('mapping file parser', () => {
  it('accepts the minimum format', () => {
    const r = parseMappingFile(
      'm.yaml',
      'mappings:\n  - name: customers\n    table: inventory.customers\n    keys:\n      - "customer:{id}"\n      - "customer:email:{email}"\n',
    );
    assert.deepEqual(r.problems, []);
    assert.equal(r.mappings.length, 1);
    assert.equal(r.mappings[0]!.name, 'customers');
    assert.equal(r.mappings[0]!.table, 'inventory.customers');
    assert.deepEqual(r.mappings[0]!.keys.map((k) => k.source), ['customer:{id}', 'customer:email:{email}']);
    assert.deepEqual(r.mappings[0]!.pos, { file: 'm.yaml', line: 2, col: 5 });
  });

  it('points at file:line:col for each problem', () => {
    assert.deepEqual(messages('mappings:\n  - name: x\n    table: nodot\n    keys: ["a:{id"]\n    kyes: []\n'), [
      'm.yaml:5:5 unknown field "kyes" (known: name, table, keys)',
      'm.yaml:3:12 table "nodot" must be written schema.table (e.g. inventory.customers)',
      'm.yaml:4:15 key template "a:{id": unclosed "{" (write "{{" for a literal brace)',
    ]);
  });

  it('reports missing fields, wrong types and YAML syntax errors', () => {
    assert.deepEqual(messages('mappings:\n  - table: a.b\n'), ['m.yaml:2:5 mapping is missing "name"', 'm.yaml:2:5 mapping is missing "keys"']);
    assert.deepEqual(messages('mappings:\n  - name: a\n    table: a.b\n    keys: []\n'), ['m.yaml:4:11 "keys" must be a non-empty list of key templates']);
    assert.deepEqual(messages('mappings: 3\n'), ['m.yaml:1:11 "mappings" must be a list of mappings']);
    assert.deepEqual(messages('- a\n'), ['m.yaml:1:1 a mapping file must be a YAML map with a "mappings:" list']);
    const yamlError = messages('mappings:\n  - name: [\n');
    assert.equal(yamlError.length > 0, true);
    assert.match(yamlError[0]!, /^m\.yaml:\d+:\d+ /);
  });

  it('keeps the valid mappings of a file apart from the invalid ones', () => {
    const r = parseMappingFile('m.yaml', 'mappings:\n  - name: ok\n    table: a.b\n    keys: ["k:{id}"]\n  - name: bad\n    table: a.b\n    keys: ["k:{"]\n');
    assert.deepEqual(r.mappings.map((m) => m.name), ['ok']);
    assert.equal(r.problems.length, 1);
  });
});
