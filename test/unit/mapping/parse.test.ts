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
    assert.deepEqual(r.problems.map((p) => p.severity), ['warning'], 'truncate would invalidate nothing');
    assert.equal(r.mappings.length, 1);
    assert.equal(r.mappings[0]!.name, 'customers');
    assert.equal(r.mappings[0]!.table.source, 'inventory.customers');
    assert.deepEqual(r.mappings[0]!.keys.map((k) => k.source), ['customer:{id}', 'customer:email:{email}']);
    assert.deepEqual(r.mappings[0]!.pos, { file: 'm.yaml', line: 2, col: 5 });
  });

  it('points at file:line:col for each problem', () => {
    assert.deepEqual(messages('mappings:\n  - name: x\n    table: nodot\n    keys: ["a:{id"]\n    kyes: []\n'), [
      'm.yaml:5:5 unknown field "kyes" (known: name, table, keys, tags, versions, ops, when, second_delete_delay, on_truncate, replica_identity, version_column)',
      'm.yaml:3:12 table "nodot" must be written schema.table (e.g. inventory.customers or tenant_*.orders)',
      'm.yaml:4:15 keys template "a:{id": unclosed "{" (write "{{" for a literal brace)',
    ]);
  });

  it('reports missing fields, wrong types and YAML syntax errors', () => {
    assert.deepEqual(messages('mappings:\n  - table: a.b\n    ops: [c]\n'), ['m.yaml:2:5 mapping is missing "name"', 'm.yaml:2:5 mapping invalidates nothing: give keys, tags or versions']);
    assert.deepEqual(messages('mappings:\n  - name: a\n    table: a.b\n    ops: [c]\n    keys: []\n'), ['m.yaml:5:11 "keys" is empty']);
    assert.deepEqual(messages('mappings: 3\n'), ['m.yaml:1:11 "mappings" must be a list of mappings']);
    assert.deepEqual(messages('- a\n'), ['m.yaml:1:1 a mapping file must be a YAML map with a "mappings:" list']);
    const yamlError = messages('mappings:\n  - name: [\n');
    assert.equal(yamlError.length > 0, true);
    assert.match(yamlError[0]!, /^m\.yaml:\d+:\d+ /);
  });

  it('checks the language fields', () => {
    const text = [
      'mappings:',
      '  - name: a',
      '    table: tenant_*.orders',
      '    keys: ["o:{id}"]',
      '    ops: [c, x]',
      '    when: {changed: [1bad], since: 3}',
      '    second_delete_delay: soon',
      '    on_truncate: {versions: ["v:{id}"], tags: ["t"]}',
      '',
    ].join('\n');
    assert.deepEqual(messages(text), [
      'm.yaml:5:14 unknown op "x" (known: c, u, d, r, t)',
      'm.yaml:6:29 unknown field "when.since" (known: changed)',
      'm.yaml:6:22 "1bad" is not a column name',
      'm.yaml:6:12 warning: "when.changed" only filters updates, and this mapping does not fire on "u"',
      'm.yaml:7:26 second_delete_delay: expected milliseconds or a duration such as 1500ms, 2s, 5m, 1h; got "soon"',
      'm.yaml:8:29 on_truncate.versions template "v:{id}" uses a column, but a truncate has no row',
      'm.yaml:8:5 warning: "on_truncate" never applies: the mapping does not fire on "t"',
    ]);
    const ok = parseMappingFile('m.yaml', 'mappings:\n  - name: a\n    table: s.t\n    versions: "ns:t"\n    ops: "c,u"\n    second_delete_delay: 0\n');
    assert.deepEqual(ok.problems.map(formatProblem), ['m.yaml:6:5 warning: second_delete_delay has no effect: the mapping has no keys or tags']);
    assert.deepEqual([...ok.mappings[0]!.ops], ['c', 'u']);
    assert.equal(ok.mappings[0]!.secondDeleteDelayMs, 0);
  });

  it('keeps the valid mappings of a file apart from the invalid ones', () => {
    const r = parseMappingFile('m.yaml', 'mappings:\n  - name: ok\n    table: a.b\n    keys: ["k:{id}"]\n  - name: bad\n    table: a.b\n    keys: ["k:{"]\n');
    assert.deepEqual(r.mappings.map((m) => m.name), ['ok']);
    assert.equal(r.problems.filter((p) => p.severity === 'error').length, 1);
  });
});

describe('YAML features and YAML mistakes', () => {
  it('an alias (keys: *k) is read as the list it names, in every field', () => {
    const r = parseMappingFile(
      'm.yaml',
      'mappings:\n  - name: a\n    table: s.a\n    ops: &ops [c, u, d]\n    keys: &k ["k:{id}", "k:email:{email}"]\n    second_delete_delay: &delay 2s\n  - name: b\n    table: s.b\n    ops: *ops\n    keys: *k\n    tags: ["t:{id}"]\n    second_delete_delay: *delay\n',
    );
    assert.deepEqual(r.problems.filter((p) => p.severity === 'error').map(formatProblem), []);
    const b = r.mappings.find((m) => m.name === 'b')!;
    assert.deepEqual(b.keys.map((k) => k.source), ['k:{id}', 'k:email:{email}']);
    assert.deepEqual([...b.ops], ['c', 'u', 'd']);
    assert.equal(b.secondDeleteDelayMs, 2_000);
    const items = parseMappingFile('m.yaml', 'mappings:\n  - &one\n    name: a\n    table: s.a\n    ops: [c]\n    keys: [&t "k:{id}", "x"]\n  - name: b\n    table: s.b\n    ops: [c]\n    keys: [*t]\n');
    assert.deepEqual(items.problems.map(formatProblem), []);
    assert.deepEqual(items.mappings.find((m) => m.name === 'b')!.keys.map((k) => k.source), ['k:{id}']);
  });

  it('a second YAML document is reported in our words at its line, not as the library\'s API advice', () => {
    const m = messages('mappings:\n  - name: a\n    table: s.a\n    ops: [c]\n    keys: ["k:{id}"]\n---\nmappings: []\n');
    assert.equal(m.length, 1);
    assert.match(m[0]!, /^m\.yaml:6:1 a second YAML document starts here \("---"\)/);
    assert.doesNotMatch(m[0]!, /parseAllDocuments/);
  });

  it('a YAML merge key (<<) is named as such', () => {
    const m = messages('mappings:\n  - name: a\n    table: s.a\n    ops: [c]\n    keys: ["k:{id}"]\n    <<: {tags: ["t"]}\n');
    assert.ok(m.some((x) => /^m\.yaml:6:5 YAML merge keys \("<<: \*anchor"\) are not supported/.test(x)), m.join('\n'));
  });
});

describe('replica_identity', () => {
  it('takes full or default; anything else is an error at its position', () => {
    const ok = parseMappingFile('m.yaml', 'mappings:\n  - name: a\n    table: s.a\n    ops: [c, u, d]\n    keys: ["k:{id}"]\n    replica_identity: DEFAULT\n');
    assert.equal(ok.mappings[0]!.replicaIdentity, 'default');
    assert.equal(parseMappingFile('m.yaml', 'mappings:\n  - name: a\n    table: s.a\n    ops: [c, u, d]\n    keys: ["k:{id}"]\n').mappings[0]!.replicaIdentity, undefined);
    assert.deepEqual(messages('mappings:\n  - name: a\n    table: s.a\n    ops: [c, u, d]\n    keys: ["k:{id}"]\n    replica_identity: nothing\n'), [
      'm.yaml:6:23 replica_identity must be full or default (the table\'s REPLICA IDENTITY: DEFAULT, and NOTHING or USING INDEX, are "default")',
    ]);
  });
});
