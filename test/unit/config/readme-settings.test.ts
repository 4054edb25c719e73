import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { RUN_SETTINGS } from '../../../src/config/run-config.js';
import { repoRoot } from '../../support/paths.js';

test("the README's configuration table lists every setting of `run` with its variable and default", () => {
  const readme = readFileSync(join(repoRoot(), 'README.md'), 'utf8');
  const rows = readme.split('\n').filter((l) => l.startsWith('| '));
  const missing: string[] = [];
  for (const [flag, env, fallback] of RUN_SETTINGS) {
    const row = rows.find((l) => (flag ? l.includes(`\`${flag}\``) : true) && l.includes(`\`${env}\``));
    if (!row) {
      missing.push(`${flag || '(env only)'} ${env}`);
      continue;
    }
    if (fallback && !fallback.startsWith('<') && !row.includes(`\`${fallback}\``)) missing.push(`${flag} ${env}: default ${fallback} not in "${row}"`);
  }
  assert.deepEqual(missing, []);
});
