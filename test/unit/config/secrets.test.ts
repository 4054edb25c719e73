import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError } from '../../../src/config/errors.js';
import { fileFromEnv, secretFromEnv } from '../../../src/config/secrets.js';

const dir = mkdtempSync(join(tmpdir(), 'secrets-'));

test('a secret comes from NAME or from the file NAME_FILE names, without its trailing newline', () => {
  writeFileSync(join(dir, 'pw'), 's3cret\n');
  assert.equal(secretFromEnv({ CDC_INVALIDATOR_REDIS_PASSWORD: 'direct' }, 'CDC_INVALIDATOR_REDIS_PASSWORD'), 'direct');
  assert.equal(secretFromEnv({ CDC_INVALIDATOR_REDIS_PASSWORD_FILE: join(dir, 'pw') }, 'CDC_INVALIDATOR_REDIS_PASSWORD'), 's3cret');
  assert.equal(secretFromEnv({}, 'CDC_INVALIDATOR_REDIS_PASSWORD'), undefined);
  assert.equal(secretFromEnv({ CDC_INVALIDATOR_REDIS_PASSWORD: '' }, 'CDC_INVALIDATOR_REDIS_PASSWORD'), undefined);
});

test('both set, or an unreadable file, is a configuration error naming the variable', () => {
  assert.throws(() => secretFromEnv({ A: 'x', A_FILE: '/x' }, 'A'), (e: unknown) => e instanceof ConfigError && /A and A_FILE/.test(e.message));
  assert.throws(() => secretFromEnv({ A_FILE: join(dir, 'missing') }, 'A'), (e: unknown) => e instanceof ConfigError && /A_FILE: cannot read .*ENOENT/.test(e.message));
  assert.throws(() => fileFromEnv({ CA: join(dir, 'missing') }, 'CA'), (e: unknown) => e instanceof ConfigError && /^CA: cannot read/.test(e.message));
});

test('a file setting: the flag wins over the environment', () => {
  writeFileSync(join(dir, 'ca.pem'), 'CA');
  writeFileSync(join(dir, 'other.pem'), 'OTHER');
  assert.equal(fileFromEnv({ CA: join(dir, 'other.pem') }, 'CA', join(dir, 'ca.pem'))?.toString(), 'CA');
  assert.equal(fileFromEnv({ CA: join(dir, 'other.pem') }, 'CA')?.toString(), 'OTHER');
  assert.equal(fileFromEnv({}, 'CA'), undefined);
});
