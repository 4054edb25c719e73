import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../../support/paths.js';
import { freePort } from '../../support/ports.js';

const root = repoRoot();
const MAIN = join(root, 'dist', 'src', 'cli', 'main.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI; killed after 20 s. */
function cli(args: string[], cwd = root): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    delete env['CDC_INVALIDATOR_MAPPINGS'];
    const child = spawn(process.execPath, [MAIN, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const MAPPING = `mappings:
  - name: users
    table: app.users
    keys: ["user:{id}", "user:email:{email|lower}"]
    ops: [c, u, d]
`;

async function dir(files: Record<string, string>): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'cdci-cli-'));
  for (const [name, text] of Object.entries(files)) await writeFile(join(d, name), text);
  return d;
}

describe('cdc-invalidator mappings test', () => {
  it('passes on the shipped example mappings, every mapping exercised (exit 0)', async () => {
    const r = await cli(['mappings', 'test', 'mappings']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.doesNotMatch(r.stdout, /FAIL|ERROR|warning/);
    assert.match(r.stdout, /^ok {4}mappings\/users\.test\.yaml:3:5 {2}sign-up/m);
    assert.match(r.stderr, /mapping tests: \d+ passed, 0 failed, 0 errored in [4-9] file\(s\)/);
  });

  it('the shipped example mappings validate without a warning, even --strict', async () => {
    const r = await cli(['mappings', 'validate', 'mappings', '--strict']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^ok: \d+ mapping\(s\) in \d+ file\(s\), tables: .*inventory\.customers.*tenant_\*\.orders/);
  });

  it('a failing case: file:line, name, diff; exit 1; --junit-report written', async () => {
    const d = await dir({
      'users.yaml': MAPPING,
      'users.test.yaml': `tests:
  - name: passes
    event: {table: app.users, op: c, after: {id: 1, email: A@B}}
    expect: {keys: ["user:1", "user:email:a@b"]}
  - name: forgets the old email
    event: {table: app.users, op: u, before: {id: 1, email: old@b}, after: {id: 1, email: new@b}}
    expect:
      keys: ["user:1", "user:email:new@b"]
`,
    });
    const report = join(d, 'out', 'junit.xml');
    const r = await cli(['mappings', 'test', d, '--junit-report', report]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^ok {4}.*users\.test\.yaml:2:5 {2}passes$/m);
    assert.match(r.stdout, /^FAIL {2}.*users\.test\.yaml:5:5 {2}forgets the old email$/m);
    assert.match(r.stdout, /users\.test\.yaml:8:7\n {4}keys \(exact list, any order\): 1 unexpected\n/);
    assert.match(r.stdout, /^ {6}\+ user:email:old@b +unexpected: invalidated, not expected$/m);
    assert.match(r.stderr, /mapping tests: 1 passed, 1 failed, 0 errored in 1 file\(s\)/);
    const xml = await readFile(report, 'utf8');
    assert.match(xml, /<testsuites name="cdc-invalidator mappings test" tests="2" failures="1" errors="0"/);
  });

  it('invalid test files: problems as file:line:col, exit 78, valid files still run', async () => {
    const d = await dir({
      'users.yaml': MAPPING,
      'a.test.yaml': 'tests:\n  - name: ok\n    event: {table: app.users, op: c, after: {id: 1, email: a}}\n    expect: {keys: {contains: ["user:1"]}}\n',
      'b.test.yaml': 'tests:\n  - name: bad\n    event: {table: app.users, op: q}\n    expect: {keys: []}\n',
    });
    const report = join(d, 'junit.xml');
    const r = await cli(['mappings', 'test', d, '--junit-report', report]);
    assert.equal(r.code, 78, r.stdout + r.stderr);
    assert.match(r.stdout, /b\.test\.yaml:3:35 "event\.op" must be one of c, u, d, r, t/);
    assert.match(r.stdout, /^ok {4}.*a\.test\.yaml:2:5 {2}ok$/m);
    assert.match(r.stderr, /1 invalid test file\(s\) not run/);
    assert.match(await readFile(report, 'utf8'), /<error message="&quot;event\.op&quot; must be one of c, u, d, r, t" type="InvalidFile">/);
  });

  it('invalid mappings: exit 78 before any test', async () => {
    const d = await dir({ 'users.yaml': 'mappings:\n  - name: x\n    table: nodot\n    keys: [a]\n', 'a.test.yaml': 'tests: []\n' });
    const r = await cli(['mappings', 'test', d]);
    assert.equal(r.code, 78);
    assert.match(r.stdout, /users\.yaml:3:12 table "nodot" must be written schema\.table/);
    assert.match(r.stderr, /invalid; no test ran/);
  });

  it('no test files: exit 1, so a misplaced test directory does not pass silently', async () => {
    const r = await cli(['mappings', 'test', await dir({ 'users.yaml': MAPPING })]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no mapping tests \(\*\.test\.yaml\) in /);
  });

  it('warns about mappings that no case fires, without failing', async () => {
    const d = await dir({
      'users.yaml': MAPPING + '  - name: orphans\n    table: app.orphans\n    keys: ["orphan:{id}"]\n    ops: [d]\n',
      'a.test.yaml': 'tests:\n  - name: ok\n    event: {table: app.users, op: c, after: {id: 1, email: a}}\n    expect: {keys: {contains: ["user:1"]}}\n',
    });
    const r = await cli(['mappings', 'test', d]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /users\.yaml:6:5 warning: mapping "orphans" is not exercised: no test case fires it/);
  });
});

describe('cdc-invalidator mappings validate', () => {
  it('--strict turns warnings into exit 78', async () => {
    const d = await dir({ 'm.yaml': 'mappings:\n  - name: x\n    table: a.b\n    keys: ["k:{id}"]\n' });
    const loose = await cli(['mappings', 'validate', d]);
    assert.equal(loose.code, 0);
    assert.match(loose.stdout, /m\.yaml:2:5 warning: a truncate of a\.b invalidates nothing/);
    const strict = await cli(['mappings', 'validate', d, '--strict']);
    assert.equal(strict.code, 78);
    assert.match(strict.stderr, /1 warning\(s\), and --strict treats warnings as errors/);
  });

  it('--database: no server there → exit 78 with a clear message, password hidden', async () => {
    const port = await freePort();
    const r = await cli(['mappings', 'validate', 'mappings', '--database', `postgres://app:s3cret@127.0.0.1:${port}/shop`]);
    assert.equal(r.code, 78, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`cdc-invalidator: cannot connect to postgres://app:\\*\\*\\*@127\\.0\\.0\\.1:${port}/shop: .*ECONNREFUSED`));
    assert.doesNotMatch(r.stderr, /s3cret/);
  });

  it('--database must be a postgres URL', async () => {
    const r = await cli(['mappings', 'validate', 'mappings', '--database', 'host=localhost dbname=shop']);
    assert.equal(r.code, 78);
    assert.match(r.stderr, /--database must be a postgres:\/\/ or postgresql:\/\/ URL/);
  });
});

describe('cdc-invalidator explain --format text', () => {
  it('prints each mapping and template', async () => {
    const r = await cli(['explain', '--format', 'text', 'test/fixtures/debezium/update-default-no-schema.json']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^test\/fixtures\/debezium\/update-default-no-schema\.json: update \(op u\) on inventory\.customers$/m);
    assert.match(r.stdout, /^ {2}customers \(mappings\/inventory\.yaml:\d+:5\): fired$/m);
    assert.match(r.stdout, /^ {4}key "customer:email:\{email\|lower\}" → customer:email:grace@navy\.example\.mil; no name from before: the update has no before image/m);
  });
});
