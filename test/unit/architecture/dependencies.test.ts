import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../../support/paths.js';

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(path));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** The packages a file imports (static, dynamic, re-exports): `@scope/name` or `name`, no Node built-ins. */
export function packagesOf(text: string): string[] {
  const out = new Set<string>();
  for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)'([^'.][^']*)'/g)) {
    const spec = m[1]!;
    if (spec.startsWith('node:') || builtinModules.includes(spec.split('/')[0]!)) continue;
    const parts = spec.split('/');
    out.add(spec.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!);
  }
  return [...out];
}

describe('dependencies', () => {
  const pkg = JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as { name: string; dependencies: Record<string, string>; devDependencies: Record<string, string> };
  // The package importing itself by name (its `exports`, e.g. cdc-invalidator/client) needs no declaration.
  const declared = (p: string): boolean => p === pkg.name || p in pkg.dependencies;

  it('every package src/ imports is a dependency in package.json', () => {
    const missing: string[] = [];
    for (const file of sources(join(repoRoot(), 'src'))) {
      for (const p of packagesOf(readFileSync(file, 'utf8'))) if (!declared(p)) missing.push(`${relative(repoRoot(), file)}: ${p}`);
    }
    assert.deepEqual(missing, []);
  });

  it('every package test/ and scripts/ import is a dependency or a devDependency', () => {
    const missing: string[] = [];
    for (const dir of ['test', 'scripts']) {
      // This file's own self-check quotes imports in a string: not imports.
      for (const file of sources(join(repoRoot(), dir)).filter((f) => !f.endsWith('dependencies.test.ts'))) {
        for (const p of packagesOf(readFileSync(file, 'utf8'))) if (!declared(p) && !(p in pkg.devDependencies)) missing.push(`${relative(repoRoot(), file)}: ${p}`);
      }
    }
    assert.deepEqual(missing, []);
  });

  it('finds the packages of an import (the check itself can fail)', () => {
    assert.deepEqual(packagesOf("import a from 'avsc';\nimport { b } from '@kafkajs/confluent-schema-registry';\nimport c from 'node:fs';\nimport d from './x.js';\nimport 'protobufjs/light';"), ['avsc', '@kafkajs/confluent-schema-registry', 'protobufjs']);
  });
});
