import assert from 'node:assert/strict';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { junitXml, xmlEscape } from '../../../src/mapping/junit.js';
import { MappingSet } from '../../../src/mapping/mapping-set.js';
import { formatProblem } from '../../../src/mapping/model.js';
import { parseMappingFile } from '../../../src/mapping/parse.js';
import { parseTestFile, type TestCase } from '../../../src/mapping/test-file.js';
import { formatCaseResult, loadMappingTests, runCase, runMappingTests, type CaseResult } from '../../../src/mapping/test-runner.js';
import { fixturePath } from '../../support/paths.js';
import { decodeDebeziumJson } from '../../../src/pipeline/decode/debezium-json.js';

const MAPPINGS = `mappings:
  - name: users
    table: app.users
    keys: ["user:{id}", "user:email:{email|lower}"]
    tags: ["org:{org_id}:members"]
    when:
      changed: [email, org_id]
    on_truncate:
      versions: ["ns:users"]
  - name: customers
    table: inventory.customers
    keys: ["customer:{id}", "customer:email:{email|lower}"]
  - name: orders
    table: "tenant_*.orders"
    keys: ["order:{id}"]
    versions: ["tenant:{tenant_id}:orders"]
  - name: never-tested
    table: app.other
    keys: ["other:{id}"]
`;
const parsedMappings = parseMappingFile('m.yaml', MAPPINGS);
assert.deepEqual(parsedMappings.problems.filter((p) => p.severity === 'error'), []);
const set = new MappingSet(parsedMappings.mappings);

function cases(yaml: string): TestCase[] {
  const r = parseTestFile('t.test.yaml', yaml);
  assert.deepEqual(r.problems.map(formatProblem), []);
  return r.cases;
}

function problems(yaml: string): string[] {
  return parseTestFile('t.test.yaml', yaml).problems.map(formatProblem);
}

async function run(yaml: string, testPath = join(tmpdir(), 't.test.yaml')): Promise<CaseResult[]> {
  const out: CaseResult[] = [];
  for (const c of cases(yaml)) out.push(await runCase(c, testPath, set, decodeDebeziumJson));
  return out;
}

describe('mapping test files: parse', () => {
  it('reads the three event forms and the expectations', () => {
    const [a, b, c] = cases(`tests:
  - name: shorthand
    event: {table: app.users, op: u, key: [id], before: {id: 1, email: a}, after: {id: 1, email: b}}
    expect: {keys: ["user:1"], tags: {contains: [x]}}
  - name: file
    event: {file: ../x.json, topic: shop.app.users}
    expect: {nothing: true}
  - name: value
    event:
      value: {op: c, source: {schema: app, table: users}, after: {id: 1}}
    expect:
      error: boom
`);
    assert.equal(a!.input.kind, 'row');
    assert.deepEqual(a!.expect.keys, { mode: 'exact', items: ['user:1'], pos: { file: 't.test.yaml', line: 4, col: 14 } });
    assert.equal(a!.expect.tags?.mode, 'contains');
    assert.equal(a!.pos.line, 2);
    assert.deepEqual(b!.input, { kind: 'file', path: '../x.json', pos: { file: 't.test.yaml', line: 6, col: 19 }, topic: 'shop.app.users', key: undefined });
    assert.equal(c!.input.kind, 'value');
    assert.equal(c!.expect.error?.text, 'boom');
  });

  it('builds a Debezium envelope from the shorthand, key columns from the row, int64 exact', () => {
    const [c] = cases(`tests:
  - name: big
    event:
      table: app.users
      op: d
      key: [id]
      before: {id: 9007199254740993, email: ""}
    expect: {keys: []}
`);
    assert.equal(c!.input.kind, 'row');
    if (c!.input.kind !== 'row') return;
    assert.deepEqual(c!.input.key, { id: 9007199254740993n });
    assert.deepEqual(c!.input.value, { before: { id: 9007199254740993n, email: '' }, after: null, source: { connector: 'postgresql', name: 'test', db: 'test', schema: 'app', table: 'users' }, op: 'd' });
    assert.equal(c!.input.topic, 'test.app.users');
  });

  it('reports each problem at file:line:col', () => {
    const syntax = problems('tests: [\n');
    assert.equal(syntax.length, 1);
    assert.match(syntax[0]!, /^t\.test\.yaml:2:1 .*flow sequence/i); // the yaml package's own message
    assert.deepEqual(problems('cases: []\n'), ['t.test.yaml:1:1 unknown top-level field "cases" (expected "tests")', 't.test.yaml:1:1 "tests" must be a list of test cases']);
    assert.deepEqual(problems(`tests:
  - name: a
    event: {table: app.users, op: x}
    expect: {keys: [k]}
  - name: a
    event: {file: f.json, table: app.users}
    expect: {keys: [k], nothing: true}
  - name: c
    evnt: {}
    expect: {}
  - name: d
    event: {table: "app.*", op: c, after: {id: 1}}
    expect: {keys: {contains: []}, tags: {exactly: [x]}}
  - name: e
    event: {table: app.users, op: d, key: [nope], before: {id: 1}, after: {id: 1}}
    expect: {versions: [a, a], error: x}
`), [
      't.test.yaml:3:35 "event.op" must be one of c, u, d, r, t',
      't.test.yaml:5:11 duplicate test name "a" (first at line 2)',
      't.test.yaml:6:12 "event" takes only one of file, table',
      't.test.yaml:7:25 "expect.nothing" excludes keys',
      't.test.yaml:8:5 test case is missing "event" (give file, value, or table and op)',
      't.test.yaml:9:5 unknown field "evnt" (known: name, event, expect)',
      't.test.yaml:10:13 "expect" is empty: give keys, tags, versions, nothing: true, or error',
      't.test.yaml:12:20 "event.table" must be a table written schema.table (no globs: an event comes from one table)',
      't.test.yaml:13:31 "expect.keys.contains" is empty (write keys: [] for "none")',
      't.test.yaml:13:42 "expect.tags" as a map needs "contains: [...]"',
      't.test.yaml:13:43 unknown field "expect.tags.exactly" (write a list for the exact names, or {contains: [...]})',
      't.test.yaml:15:43 key column "nope" is not in the before image',
      't.test.yaml:15:68 a delete has no "after" image',
      't.test.yaml:16:28 "a" is listed twice',
      't.test.yaml:16:32 "expect.error" stands alone: a failing record invalidates nothing',
    ]);
  });

  it('needs the row images an op has', () => {
    assert.deepEqual(problems(`tests:
  - name: c
    event: {table: app.users, op: c, before: {id: 1}}
    expect: {nothing: true}
  - name: t
    event: {table: app.users, op: t, after: {id: 1}}
    expect: {nothing: true}
`), [
      't.test.yaml:3:12 op "c" needs "event.after" (the new row)',
      't.test.yaml:3:38 op "c" has no "before" image',
      't.test.yaml:6:12 a truncate has no row: drop before and after',
    ]);
  });
});

describe('mapping test files: run', () => {
  it('passes when the names match in any order; exact lists catch extra names', async () => {
    const [ok, extra] = await run(`tests:
  - name: ok
    event: {table: app.users, op: c, after: {id: 1, email: A@X, org_id: 7}}
    expect: {keys: ["user:email:a@x", "user:1"], tags: ["org:7:members"], versions: []}
  - name: extra
    event: {table: app.users, op: c, after: {id: 1, email: A@X, org_id: 7}}
    expect: {keys: ["user:1", "user:email:A@X"], versions: [v]}
`);
    assert.equal(ok!.status, 'pass');
    assert.deepEqual(ok!.mismatches, []);
    assert.equal(extra!.status, 'fail');
    assert.deepEqual(extra!.mismatches.map((m) => m.summary), ['keys: 1 missing, 1 unexpected', 'versions: 1 missing']);
    const text = formatCaseResult(extra!).join('\n');
    assert.match(text, /^FAIL {2}t\.test\.yaml:5:5 {2}extra$/m);
    assert.match(text, /t\.test\.yaml:7:14\n {4}keys \(exact list, any order\): 1 missing, 1 unexpected/);
    assert.match(text, /^ {6}- user:email:A@X +missing: expected, not invalidated$/m);
    assert.match(text, /^ {6}\+ user:email:a@x +unexpected: invalidated, not expected$/m);
    assert.match(text, /^ {8}user:1$/m);
    assert.match(text, /how the event was mapped:\n {4}users \(m\.yaml:2:5\): fired\n {6}key "user:\{id\}" → user:1/);
  });

  it('contains: only the listed names must be there', async () => {
    const [r, miss] = await run(`tests:
  - name: r
    event: {table: app.users, op: c, after: {id: 1, email: a, org_id: 7}}
    expect: {keys: {contains: ["user:1"]}}
  - name: miss
    event: {table: app.users, op: c, after: {id: 1, email: a, org_id: 7}}
    expect: {keys: {contains: ["user:2"]}}
`);
    assert.equal(r!.status, 'pass');
    assert.equal(miss!.status, 'fail');
    assert.match(formatCaseResult(miss!).join('\n'), /keys \(contains\): 1 missing\n +- user:2 +missing.*\n +actual keys: \[user:1, user:email:a\]/);
  });

  it('nothing: true — for a mapping that does not fire, a skipped record, an unmapped table; says why on failure', async () => {
    const rs = await run(`tests:
  - name: unchanged
    event: {table: app.users, op: u, before: {id: 1, email: a, org_id: 7, name: x}, after: {id: 1, email: a, org_id: 7, name: y}}
    expect: {nothing: true}
  - name: tombstone
    event: {value: null, topic: shop.app.users, key: {id: 1}}
    expect: {nothing: true}
  - name: unmapped
    event: {table: app.nobody, op: c, after: {id: 1}}
    expect: {nothing: true}
  - name: fires
    event: {table: app.users, op: u, before: {id: 1, email: a, org_id: 7}, after: {id: 1, email: b, org_id: 7}}
    expect: {nothing: true}
  - name: not fired but expected
    event: {table: app.users, op: u, before: {id: 1, email: a, org_id: 7, name: x}, after: {id: 1, email: a, org_id: 7, name: y}}
    expect: {keys: ["user:1"]}
`);
    assert.deepEqual(rs.map((r) => r.status), ['pass', 'pass', 'pass', 'fail', 'fail']);
    assert.equal(rs[1]!.skipped, 'tombstone');
    assert.match(formatCaseResult(rs[3]!).join('\n'), /nothing: expected no key, tag or version, but got\n +\+ key user:1/);
    assert.match(formatCaseResult(rs[4]!).join('\n'), /users \(m\.yaml:2:5\): not fired: the update changed none of when\.changed \[email, org_id\]/);
  });

  it('runs the production decoder: key-only delete images, TOAST, int64 beyond 2^53, globs, truncate', async () => {
    const rs = await run(`tests:
  - name: key-only delete
    event: {table: app.users, op: d, key: [id], before: {id: 5, email: "", org_id: 0}, replica_identity: default}
    expect: {keys: ["user:5"], tags: []}
  - name: the same image of a table whose identity is unknown is a full row
    event: {table: app.users, op: d, key: [id], before: {id: 5, email: "", org_id: 0}}
    expect: {keys: ["user:5", "user:email:"], tags: ["org:0:members"]}
  - name: full delete
    event: {table: app.users, op: d, key: [id], before: {id: 5, email: E, org_id: 3}}
    expect: {keys: ["user:5", "user:email:e"], tags: ["org:3:members"]}
  - name: toast
    event: {table: app.users, op: u, after: {id: 5, email: __debezium_unavailable_value, org_id: 3}}
    expect: {keys: ["user:5"]}
  - name: int64
    event: {table: tenant_a.orders, op: c, after: {id: 9007199254740993, tenant_id: 2}}
    expect: {keys: ["order:9007199254740993"], versions: ["tenant:2:orders"]}
  - name: truncate
    event: {table: app.users, op: t}
    expect: {keys: [], tags: [], versions: ["ns:users"]}
`);
    assert.deepEqual(rs.map((r) => [r.name, r.status]), rs.map((r) => [r.name, 'pass']));
  });

  it('reads record files relative to the test file (our fixtures), and bare values with a topic', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cdci-mt-'));
    await writeFile(join(dir, 'bare.json'), JSON.stringify({ op: 'c', after: { id: 1005, email: 'X@Y' } }));
    const rel = fixturePath('debezium', 'update-full-with-schema.json');
    const rs = await run(`tests:
  - name: fixture
    event: {file: "${rel}"}
    expect: {keys: ["customer:1002", "customer:email:grace.hopper@example.com", "customer:email:grace@navy.example.mil"]}
  - name: bare
    event: {file: bare.json, topic: shop.inventory.customers}
    expect: {keys: ["customer:1005", "customer:email:x@y"]}
`, join(dir, 'x.test.yaml'));
    assert.deepEqual(rs.map((r) => r.status), ['pass', 'pass']);
  });

  it('an undecodable or unrenderable record is an error unless expected', async () => {
    const rs = await run(`tests:
  - name: bad json
    event: {value: '{"op":', topic: shop.app.users}
    expect: {nothing: true}
  - name: expected bad json
    event: {value: '{"op":', topic: shop.app.users}
    expect: {error: invalid_json}
  - name: poison
    event: {table: app.users, op: c, after: {id: [1, 2], email: a}}
    expect: {error: cannot be rendered}
  - name: wrong error
    event: {table: app.users, op: c, after: {id: [1, 2], email: a}}
    expect: {error: something else}
  - name: no error
    event: {table: app.users, op: c, after: {id: 1, email: a}}
    expect: {error: boom}
`);
    assert.deepEqual(rs.map((r) => r.status), ['error', 'pass', 'pass', 'fail', 'fail']);
    assert.match(formatCaseResult(rs[0]!).join('\n'), /^ERROR {2}t\.test\.yaml:2:5 {2}bad json\n {2}the record could not be decoded or mapped: invalid_json: /);
    assert.match(formatCaseResult(rs[3]!).join('\n'), /key "user:\{id\}": error: column "id" holds a/);
    assert.match(formatCaseResult(rs[4]!).join('\n'), /expected a message containing "boom", but the record decoded and mapped/);
  });
});

describe('mapping test files: load, coverage, JUnit', () => {
  it('finds *.test.yaml below the directory, checks event files exist, keeps valid files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cdci-mt-'));
    await mkdir(join(dir, 'sub'));
    await writeFile(join(dir, 'm.yaml'), MAPPINGS);
    await writeFile(join(dir, 'a.test.yaml'), 'tests:\n  - name: a\n    event: {table: app.users, op: c, after: {id: 1}}\n    expect: {keys: ["user:1"]}\n');
    await writeFile(join(dir, 'sub', 'b.test.yml'), 'tests:\n  - name: b\n    event: {file: missing.json}\n    expect: {nothing: true}\n');
    const loaded = await loadMappingTests(dir);
    assert.equal(loaded.found.length, 2);
    assert.deepEqual(loaded.files.map((f) => f.cases.length), [1]);
    assert.equal(loaded.problems.length, 1);
    assert.equal(loaded.problems[0]!.line, 3);
    assert.equal(loaded.problems[0]!.col, 19);
    assert.match(loaded.problems[0]!.message, /event file "missing\.json" cannot be read \(.*ENOENT\)/);

    const summary = await runMappingTests(loaded, set, decodeDebeziumJson);
    assert.deepEqual([summary.passed, summary.failed, summary.errors], [1, 0, 0]);
    assert.deepEqual(summary.unexercised.map((m) => m.name), ['customers', 'orders', 'never-tested']);
  });

  it('writes JUnit XML: a suite per file, failures and errors with the diff, invalid files as errors', async () => {
    const rs = await run(`tests:
  - name: ok <&>
    event: {table: app.users, op: c, after: {id: 1, email: a}}
    expect: {keys: {contains: ["user:1"]}}
  - name: fails
    event: {table: app.users, op: c, after: {id: 1, email: a}}
    expect: {keys: ["user:2"]}
  - name: errs
    event: {value: 'not json', topic: t.app.users}
    expect: {nothing: true}
`);
    const xml = junitXml({ results: rs, problems: [{ file: 'bad.test.yaml', line: 3, col: 7, severity: 'error', message: 'nope "x"' }], timestamp: new Date(0) });
    assert.match(xml, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<testsuites name="cdc-invalidator mappings test" tests="4" failures="1" errors="2" time="[\d.]+">/);
    assert.match(xml, /<testsuite name="t\.test\.yaml" tests="3" failures="1" errors="1" skipped="0" time="[\d.]+" timestamp="1970-01-01T00:00:00">/);
    assert.match(xml, /<testcase name="ok &lt;&amp;&gt;" classname="t\.test\.yaml" file="t\.test\.yaml" line="2" time="[\d.]+"\/>/);
    assert.match(xml, /<failure message="keys: 1 missing, 2 unexpected" type="MappingTestFailure">FAIL {2}t\.test\.yaml:5:5 {2}fails\n/);
    assert.match(xml, /<error message="invalid_json: [^"]*" type="MappingTestError">ERROR/);
    assert.match(xml, /<testsuite name="invalid mapping or test files" tests="1" failures="0" errors="1"[^>]*>\n {4}<testcase name="bad\.test\.yaml:3:7"[^>]*>\n {6}<error message="nope &quot;x&quot;" type="InvalidFile">bad\.test\.yaml:3:7 nope &quot;x&quot;<\/error>/);
    assert.equal((xml.match(/<testcase /g) ?? []).length, 4);
    assert.equal((xml.match(/<\/testsuite>/g) ?? []).length, 2);
  });

  it('escapes what XML 1.0 cannot hold', () => {
    assert.equal(xmlEscape('a\u0000b\u001bc\ud800d "\'<>&'), 'a\ufffdb\ufffdc\ufffdd &quot;&apos;&lt;&gt;&amp;');
    assert.equal(xmlEscape('tab\tnl\n😀'), 'tab\tnl\n😀');
  });
});
