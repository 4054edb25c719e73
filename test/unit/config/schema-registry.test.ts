import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError } from '../../../src/config/errors.js';
import { describeConfig, resolveRunConfig } from '../../../src/config/run-config.js';

describe('decoder settings (--format, --schema-registry)', () => {
  it('defaults to auto without a registry; flags win over env', () => {
    const c = resolveRunConfig({ topicPrefix: 'shop' }, {});
    assert.equal(c.format, 'auto');
    assert.equal(c.schemaRegistry, undefined);
    const e = resolveRunConfig({ topicPrefix: 'shop' }, { CDC_INVALIDATOR_FORMAT: 'avro', CDC_INVALIDATOR_SCHEMA_REGISTRY: 'http://sr:8081/', CDC_INVALIDATOR_SCHEMA_REGISTRY_TIMEOUT: '2s' });
    assert.equal(e.format, 'avro');
    assert.deepEqual(e.schemaRegistry, { url: 'http://sr:8081', timeoutMs: 2000 });
    const f = resolveRunConfig({ topicPrefix: 'shop', format: 'json', schemaRegistry: 'https://other:443' }, { CDC_INVALIDATOR_FORMAT: 'avro', CDC_INVALIDATOR_SCHEMA_REGISTRY: 'http://sr:8081' });
    assert.equal(f.format, 'json');
    assert.equal(f.schemaRegistry?.url, 'https://other');
  });

  it('rejects --format avro without a registry, unknown formats, non-http URLs, a CA for http, half credentials', () => {
    assert.throws(() => resolveRunConfig({ topicPrefix: 'p', format: 'avro' }, {}), (e: Error) => e instanceof ConfigError && /--schema-registry/.test(e.message));
    assert.throws(() => resolveRunConfig({ topicPrefix: 'p', format: 'xml' }, {}), ConfigError);
    assert.throws(() => resolveRunConfig({ topicPrefix: 'p', schemaRegistry: 'ftp://x' }, {}), ConfigError);
    assert.throws(() => resolveRunConfig({ topicPrefix: 'p', schemaRegistry: 'not a url' }, {}), ConfigError);
    assert.throws(() => resolveRunConfig({ topicPrefix: 'p', schemaRegistry: 'http://sr', schemaRegistryCa: '/etc/hostname' }, {}), ConfigError);
    assert.throws(() => resolveRunConfig({ topicPrefix: 'p', schemaRegistry: 'http://sr' }, { CDC_INVALIDATOR_SCHEMA_REGISTRY_USERNAME: 'u' }), ConfigError);
  });

  it('takes basic auth from env or _FILE (or the URL), and never shows the password', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cdci-sr-'));
    await writeFile(join(dir, 'pw'), 'fr0m-file\n');
    const c = resolveRunConfig({ topicPrefix: 'p', schemaRegistry: 'https://sr:8081' }, { CDC_INVALIDATOR_SCHEMA_REGISTRY_USERNAME: 'cdc', CDC_INVALIDATOR_SCHEMA_REGISTRY_PASSWORD_FILE: join(dir, 'pw') });
    assert.equal(c.schemaRegistry?.username, 'cdc');
    assert.equal(c.schemaRegistry?.password, 'fr0m-file');
    assert.doesNotMatch(JSON.stringify(describeConfig(c)), /fr0m-file/);
    const u = resolveRunConfig({ topicPrefix: 'p', schemaRegistry: 'https://us%40er:s3cret@sr:8081' }, {});
    assert.equal(u.schemaRegistry?.url, 'https://sr:8081');
    assert.equal(u.schemaRegistry?.username, 'us@er');
    assert.equal(u.schemaRegistry?.password, 's3cret');
    assert.doesNotMatch(JSON.stringify(describeConfig(u)), /s3cret/);
  });
});
