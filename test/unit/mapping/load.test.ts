import assert from 'node:assert/strict';
import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadMappings } from '../../../src/mapping/load.js';
import { firstInvalidUtf8 } from '../../../src/mapping/utf8.js';

const MAPPING = `mappings:
  - name: customers
    table: inventory.customers
    ops: [c, u, d]
    keys: ["customer:{id}"]
`;

test('a directory laid out like a Kubernetes ConfigMap volume loads each mapping once', async () => {
  // kubelet: the files live in ..<timestamp>/, ..data links to it, each file is linked from the top.
  const dir = await mkdtemp(join(tmpdir(), 'cdci-configmap-'));
  const stamp = '..2026_11_27_09_00_00.123456789';
  await mkdir(join(dir, stamp));
  await writeFile(join(dir, stamp, 'inventory.yaml'), MAPPING);
  await writeFile(join(dir, stamp, 'inventory.test.yaml'), 'tests: []\n');
  await symlink(stamp, join(dir, '..data'));
  await symlink(join('..data', 'inventory.yaml'), join(dir, 'inventory.yaml'));
  await symlink(join('..data', 'inventory.test.yaml'), join(dir, 'inventory.test.yaml'));

  const loaded = await loadMappings(dir);
  assert.deepEqual(loaded.problems, []);
  assert.deepEqual(loaded.files, [join(dir, 'inventory.yaml')]);
  assert.deepEqual(loaded.set?.mappings.map((m) => m.name), ['customers']);
});

test('hidden files and directories are not mappings; subdirectories are', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cdci-hidden-'));
  await mkdir(join(dir, '.git'));
  await writeFile(join(dir, '.git', 'x.yaml'), 'not: a mapping\n');
  await writeFile(join(dir, '.editor.yaml'), 'not: a mapping\n');
  await mkdir(join(dir, 'team-a'));
  await writeFile(join(dir, 'team-a', 'a.yml'), MAPPING);
  const loaded = await loadMappings(dir);
  assert.deepEqual(loaded.problems, []);
  assert.deepEqual(loaded.files, [join(dir, 'team-a', 'a.yml')]);
});

test('a mapping file with bytes that are not UTF-8 is refused at its file:line:col, never read with U+FFFD in a key', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cdci-utf8-'));
  const text = Buffer.concat([Buffer.from('mappings:\n  - name: customers\n    table: inventory.customers\n    keys: ["customer:é:'), Buffer.from([0xff, 0xfe]), Buffer.from('{id}"]\n')]);
  await writeFile(join(dir, 'bad.yaml'), text);
  await writeFile(join(dir, 'ok.yaml'), MAPPING.replace('customers', 'others').replace('customers', 'others'));
  const loaded = await loadMappings(dir);
  assert.equal(loaded.set, undefined);
  const errors = loaded.problems.filter((p) => p.severity === 'error');
  assert.equal(errors.length, 1);
  // Column 24: the first invalid byte, counted in characters (é is one).
  assert.deepEqual({ file: errors[0]!.file, line: errors[0]!.line, col: errors[0]!.col }, { file: join(dir, 'bad.yaml'), line: 4, col: 24 });
  assert.match(errors[0]!.message, /^not UTF-8: invalid byte sequence \(ff fe 7b 69\)/);
});

test('the UTF-8 check finds the first invalid sequence: stray continuation, overlong, surrogate, truncated, beyond U+10FFFF', () => {
  const at = (...b: number[]) => firstInvalidUtf8(Uint8Array.from(b));
  assert.equal(at(0x61, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80), -1, 'a é € 😀 are valid');
  assert.equal(at(0x61, 0x80), 1);
  assert.equal(at(0xc0, 0xaf), 0, 'overlong /');
  assert.equal(at(0xe0, 0x80, 0xaf), 0, 'overlong in three bytes');
  assert.equal(at(0x61, 0xed, 0xa0, 0x80), 1, 'a UTF-16 surrogate');
  assert.equal(at(0x61, 0x62, 0xe2, 0x82), 2, 'truncated at the end');
  assert.equal(at(0xf4, 0x90, 0x80, 0x80), 0, 'beyond U+10FFFF');
});
