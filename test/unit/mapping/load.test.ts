import assert from 'node:assert/strict';
import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadMappings } from '../../../src/mapping/load.js';

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
