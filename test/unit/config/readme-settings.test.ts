import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Command } from 'commander';
import { addSettings } from '../../../src/cli/options.js';
import { envName, markdownTable, SETTINGS, settingsOf, TABLE_BEGIN, TABLE_END, withDeprecatedEnv, type CommandName } from '../../../src/config/settings.js';
import { repoRoot } from '../../support/paths.js';

describe('the settings table is the one source', () => {
  it("the README's table is the generated one (npm run docs:settings)", () => {
    const readme = readFileSync(join(repoRoot(), 'README.md'), 'utf8');
    const a = readme.indexOf(TABLE_BEGIN);
    const b = readme.indexOf(TABLE_END);
    assert.ok(a >= 0 && b > a, 'README has the generated block');
    assert.equal(readme.slice(a + TABLE_BEGIN.length, b).trim(), markdownTable());
  });

  it('every command gets exactly its flags, with the env name and default in the help', () => {
    for (const command of ['run', 'replay', 'tap', 'offsets', 'explain'] as CommandName[]) {
      const cmd = addSettings(new Command(command), command);
      const flags = cmd.options.filter((o) => !o.hidden).map((o) => o.long);
      assert.deepEqual(flags, settingsOf(command).filter((s) => s.flag).map((s) => `--${s.name}`), command);
      for (const s of settingsOf(command).filter((x) => x.flag)) {
        const help = cmd.options.find((o) => o.long === `--${s.name}`)!.description;
        if (s.env) assert.ok(help.includes(envName(s)), `${command} --${s.name}: help names ${envName(s)}`);
        if (s.default && s.default !== 'false') assert.ok(help.includes(`default ${s.default}`), `${command} --${s.name}: help shows the default`);
      }
    }
    assert.ok(!settingsOf('tap').some((s) => s.name.startsWith('redis')), 'tap reads no Redis setting');
    assert.ok(!settingsOf('offsets').some((s) => s.name === 'redis' || s.name === 'format'), 'offsets reads neither Redis nor the decoder');
  });

  it('env names follow the flag; deprecated names are accepted with a warning, the new name wins', () => {
    for (const s of SETTINGS) if (s.env) assert.equal(envName(s), `CDC_INVALIDATOR_${s.name.toUpperCase().replace(/-/g, '_')}`);
    const r = withDeprecatedEnv({ VALUE_FORMAT: 'json', REDIS_COMMAND_TIMEOUT: '2s', CDC_INVALIDATOR_REDIS_TIMEOUT: '3s', REDIS_PASSWORD_FILE: '/run/pw' });
    assert.equal(r.env['CDC_INVALIDATOR_FORMAT'], 'json');
    assert.equal(r.env['CDC_INVALIDATOR_REDIS_TIMEOUT'], '3s');
    assert.equal(r.env['CDC_INVALIDATOR_REDIS_PASSWORD_FILE'], '/run/pw');
    assert.deepEqual(r.warnings.sort(), [
      'REDIS_COMMAND_TIMEOUT is deprecated and ignored: CDC_INVALIDATOR_REDIS_TIMEOUT is set too',
      'REDIS_PASSWORD_FILE is deprecated: use CDC_INVALIDATOR_REDIS_PASSWORD_FILE',
      'VALUE_FORMAT is deprecated: use CDC_INVALIDATOR_FORMAT',
    ]);
  });
});
