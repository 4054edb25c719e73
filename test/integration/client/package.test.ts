import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { repoRoot } from '../../support/paths.js';

/** `cdc-invalidator/client` as another package sees it: an ESM subpath export with type declarations, no Kafka. */

const run = promisify(execFile);
const root = repoRoot();
let consumer: string;

before(async () => {
  consumer = await mkdtemp(join(tmpdir(), 'cdci-consumer-'));
  await mkdir(join(consumer, 'node_modules'));
  await symlink(root, join(consumer, 'node_modules', 'cdc-invalidator'), 'dir');
  await writeFile(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module', private: true }));
});
after(async () => {
  if (consumer) await rm(consumer, { recursive: true, force: true });
});

/** Every module the client's entry imports, statically, and the bare specifiers among them. */
async function importGraph(entry: string): Promise<{ files: Set<string>; packages: Set<string>; dynamic: string[] }> {
  const files = new Set<string>();
  const packages = new Set<string>();
  const dynamic: string[] = [];
  const queue = [entry];
  while (queue.length > 0 && files.size < 500) {
    const file = queue.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    const text = await readFile(file, 'utf8');
    for (const m of text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+'([^']+)'|^\s*import\s+'([^']+)'/gm)) {
      const spec = (m[1] ?? m[2])!;
      if (spec.startsWith('.')) queue.push(resolve(dirname(file), spec));
      else packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
    }
    if (/\bimport\(/.test(text)) dynamic.push(file);
  }
  return { files, packages, dynamic };
}

describe('the cdc-invalidator/client package export', { timeout: 120_000 }, () => {
  it('maps ./client to ESM and declarations in dist', async () => {
    const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { type: string; exports: Record<string, { types: string; default: string }> };
    assert.equal(pkg.type, 'module');
    assert.deepEqual(pkg.exports['./client'], { types: './dist/src/client/index.d.ts', default: './dist/src/client/index.js' });
    assert.ok(existsSync(join(root, 'dist', 'src', 'client', 'index.d.ts')));
  });

  it('loads nothing of Kafka: its import graph reaches pino, prom-client and yaml only (ioredis is the application\'s client)', async () => {
    const { files, packages, dynamic } = await importGraph(join(root, 'dist', 'src', 'client', 'index.js'));
    assert.deepEqual([...packages].filter((p) => !p.startsWith('node:')).sort(), ['pino', 'prom-client', 'yaml']);
    assert.deepEqual(dynamic, [], 'no dynamic imports');
    const own = [...files].map((f) => f.slice(join(root, 'dist', 'src').length + 1)).sort();
    assert.deepEqual(own.filter((f) => /^(cli|pipeline|runtime|replay)\//.test(f)), [], `none of the worker's pipeline, runtime or CLI: ${own.join(', ')}`);
    const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    for (const p of packages) if (!p.startsWith('node:')) assert.ok(pkg.dependencies[p], `${p} is a declared dependency`);
  });

  it('runs in a plain Node ESM program of another package', async () => {
    const script = join(consumer, 'main.mjs');
    await writeFile(
      script,
      `import { createCacheClient, readEnvelopeHeader, CacheMappings } from 'cdc-invalidator/client';
const m = await CacheMappings.fromDirectory(${JSON.stringify(join(root, 'mappings'))});
console.log(JSON.stringify({ create: typeof createCacheClient, names: m.render('customers', { id: 7, email: 'A@B' }), header: readEnvelopeHeader('cdc1:{"t":1,"e":2,"d":3}\\n{}') }));
`,
    );
    const { stdout } = await run(process.execPath, [script], { cwd: consumer, timeout: 30_000 });
    assert.deepEqual(JSON.parse(stdout), {
      create: 'function',
      names: { keys: ['customer:7', 'customer:email:a@b'], tags: [], versions: [] },
      header: { filledAt: 1, expiresAt: 2, fillMs: 3, notFound: false },
    });
  });

  it('type-checks a TypeScript consumer against its declarations (and rejects a wrong call)', async () => {
    await writeFile(
      join(consumer, 'service.ts'),
      `import { Redis } from 'ioredis';
import { createCacheClient, type CacheEntry } from 'cdc-invalidator/client';

interface Customer { id: number; email: string }
export async function build(redis: Redis): Promise<CacheEntry<Customer, { id: number }>> {
  const cache = await createCacheClient({ redis, mappings: './mappings', defaults: { ttlMs: 60_000 }, l1: { maxEntries: 1_000 } });
  const byId = cache.entry<Customer, { id: number }>({ mapping: 'customers', key: 'customer:{id}', load: async ({ id }) => ({ id, email: 'x' }) });
  const c: Customer | undefined = await byId.get({ id: 1 });
  void c;
  // @ts-expect-error: ttlMs is a number
  cache.entry({ mapping: 'customers', ttlMs: '5m' });
  return byId;
}
`,
    );
    await writeFile(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: false, types: ['node'], typeRoots: [join(root, 'node_modules', '@types')] }, files: ['service.ts'] }),
    );
    await symlink(join(root, 'node_modules', 'ioredis'), join(consumer, 'node_modules', 'ioredis'), 'dir');
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    try {
      await run(process.execPath, [tsc, '-p', join(consumer, 'tsconfig.json')], { cwd: consumer, timeout: 90_000 });
    } catch (e) {
      assert.fail(`tsc failed:\n${(e as { stdout?: string }).stdout ?? (e as Error).message}`);
    }
  });
});
