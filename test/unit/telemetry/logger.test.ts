import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { describeConfig, resolveRunConfig } from '../../../src/config/run-config.js';
import { createLogger, type LoggerOptions } from '../../../src/telemetry/logger.js';

/** A logger writing into an array of parsed lines. */
function capture(opts: Omit<LoggerOptions, 'destination'> = {}): { lines: () => Record<string, unknown>[]; text: () => string; logger: ReturnType<typeof createLogger> } {
  const raw: string[] = [];
  const logger = createLogger({ level: 'debug', ...opts, destination: { write: (s: string) => void raw.push(s) } });
  return { lines: () => raw.map((l) => JSON.parse(l) as Record<string, unknown>), text: () => raw.join(''), logger };
}

describe('logger redaction of secrets', () => {
  it('censors every field that can hold a credential, at any depth up to config.x.y.field', () => {
    const { text, logger } = capture();
    const secrets = {
      password: 'S-top',
      config: {
        redisPassword: 'S-redis-password',
        sentinelPassword: 'S-sentinel',
        schemaRegistryPassword: 'S-registry',
        redis: { password: 'S-redis-nested', sentinelPassword: 'S-sentinel-nested', tls: { key: 'S-redis-tls-key', passphrase: 'S-redis-key-pass' } },
        kafkaSecurity: { sasl: { mechanism: 'plain', username: 'svc', password: 'S-sasl' }, tls: { key: Buffer.from('S-kafka-tls-key'), passphrase: 'S-kafka-key-pass' } },
        schemaRegistry: { url: 'https://reg:S-registry-url@registry.example:8081', auth: { username: 'reg', password: 'S-registry-auth' } },
      },
      ssl: { key: 'S-ssl-key' },
    };
    logger.info(secrets, 'starting');
    logger.debug({ err: { message: 'x' }, sasl: { password: 'S-sasl-top' } }, 'debug line');
    const out = text();
    for (const s of [...out.matchAll(/S-[a-z-]+/g)].map((m) => m[0])) assert.fail(`secret ${s} in the log: ${out}`);
    // What is not secret stays readable.
    assert.match(out, /"username":"svc"/);
    assert.match(out, /"mechanism":"plain"/);
    assert.match(out, /"url":"https:\/\/reg:\*\*\*@registry\.example:8081"/);
  });

  it('a URL keeps everything but its password; a URL without one is unchanged', () => {
    const { lines, logger } = capture();
    logger.info({ redisUrl: 'rediss://worker:hunter2@redis.internal:6380/0', config: { redisUrl: 'redis://redis:6379' } }, 'x');
    const line = lines()[0]!;
    assert.equal(line['redisUrl'], 'rediss://worker:***@redis.internal:6380/0');
    assert.deepEqual(line['config'], { redisUrl: 'redis://redis:6379' });
  });

  it('describeConfig of a config holding every Kafka credential logs none of them, at debug too', () => {
    const dir = mkdtempSync(join(tmpdir(), 'logger-'));
    const key = join(dir, 'k.pem');
    const cert = join(dir, 'c.pem');
    writeFileSync(key, 'PRIVATE-KEY-BYTES');
    writeFileSync(cert, 'CERT-BYTES');
    const config = resolveRunConfig(
      { topics: 't', redis: 'redis://u:redis-url-pw@h:6379', kafkaSaslMechanism: 'scram-sha-512', kafkaTlsCert: cert, kafkaTlsKey: key, logLevel: 'debug' },
      { CDC_INVALIDATOR_KAFKA_SASL_USERNAME: 'svc', CDC_INVALIDATOR_KAFKA_SASL_PASSWORD: 'sasl-pw-42', CDC_INVALIDATOR_KAFKA_TLS_KEY_PASSWORD: 'key-pw-42' },
    );
    const { text, logger } = capture();
    logger.info({ config: describeConfig(config) }, 'starting');
    // Even the raw config, logged by mistake, loses its secrets.
    logger.debug({ config }, 'raw config');
    const out = text();
    for (const s of ['redis-url-pw', 'sasl-pw-42', 'key-pw-42', 'PRIVATE-KEY-BYTES']) assert.ok(!out.includes(s), `${s} leaked: ${out}`);
    assert.match(out, /"mechanism":"scram-sha-512"/);
  });
});

describe('key names and row values: only with --log-keys', () => {
  const line = { topic: 't', partition: 0, keys: 2, keyNames: ['customer:42', 'customer:email:alice@example.com'], tagNames: ['tag:alice'], versionNames: [], row: { email: 'alice@example.com' } };

  it('without logKeys they are censored, even at debug, and the counts stay', () => {
    const { text, logger } = capture({ level: 'debug' });
    logger.debug(line, 'batch invalidated');
    const out = text();
    assert.ok(!out.includes('alice'), out);
    assert.ok(!out.includes('customer:42'), out);
    const parsed = JSON.parse(out) as Record<string, unknown>;
    assert.equal(parsed['keys'], 2);
    assert.equal(parsed['keyNames'], '[redacted: --log-keys]');
  });

  it('with logKeys they are written', () => {
    const { text, logger } = capture({ level: 'debug', logKeys: true });
    logger.debug(line, 'batch invalidated');
    const parsed = JSON.parse(text()) as Record<string, unknown>;
    assert.deepEqual(parsed['keyNames'], line.keyNames);
    assert.deepEqual(parsed['row'], line.row);
  });

  it('logKeys does not lift the redaction of secrets', () => {
    const { text, logger } = capture({ logKeys: true });
    logger.info({ config: { kafkaSecurity: { sasl: { password: 'still-secret' } } } }, 'x');
    assert.ok(!text().includes('still-secret'));
  });
});
