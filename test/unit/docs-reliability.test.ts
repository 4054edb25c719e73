import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { repoRoot } from '../support/paths.js';

it('every row of docs/reliability.md cites a test file that exists, and the test names it quotes exist in it', () => {
  const text = readFileSync(join(repoRoot(), 'docs', 'reliability.md'), 'utf8');
  const table = text.slice(text.indexOf('| failure |'), text.indexOf('Exit codes:'));
  const rows = table.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| failure') && !l.startsWith('|---'));
  assert.ok(rows.length >= 15, `only ${rows.length} rows`);
  const problems: string[] = [];
  for (const row of rows) {
    const cells = row.split(' | ');
    const proof = cells[cells.length - 1]!;
    const files = [...proof.matchAll(/`(test\/[^`]+\.test\.ts)`/g)].map((m) => m[1]!);
    if (files.length === 0) problems.push(`no test cited: ${row.slice(0, 80)}`);
    for (const f of files) if (!existsSync(join(repoRoot(), f))) problems.push(`${f} does not exist`);
    // `file`: "name", "name" — each quoted name must be the start of a test's title in that file
    for (const m of proof.matchAll(/`(test\/[^`]+\.test\.ts)`: ((?:"[^"]+"(?:, )?)+)/g)) {
      const source = existsSync(join(repoRoot(), m[1]!)) ? readFileSync(join(repoRoot(), m[1]!), 'utf8') : '';
      for (const name of m[2]!.matchAll(/"([^"]+)"/g)) if (!source.includes(`'${name[1]!}`)) problems.push(`${m[1]}: no test titled "${name[1]}…"`);
    }
  }
  assert.deepEqual(problems, []);
});
