import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { describeConfig, resolveRunConfig } from '../../../src/config/run-config.js';
import kafkajs from 'kafkajs';
import { PoisonRecordError } from '../../../src/pipeline/poison/poison.js';
import { RedisSink } from '../../../src/pipeline/sink/redis-sink.js';
import { createLogger, type LoggerOptions } from '../../../src/telemetry/logger.js';
import { freePort } from '../../support/ports.js';

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

const { KafkaJSConnectionError, KafkaJSNonRetriableError, KafkaJSProtocolError } = kafkajs;

describe('error logs', () => {
  it('keep the type, stack and cause of an error (a kafkajs error), never a bare {message}', () => {
    const { lines, logger } = capture();
    const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    // kafkajs' constructors take ({cause}) at runtime; its typings do not say so.
    const NonRetriable = KafkaJSNonRetriableError as unknown as new (e: string, o: { cause: unknown }) => Error;
    const err = new NonRetriable('Connection error: connect ECONNREFUSED', { cause: new KafkaJSConnectionError(cause, { broker: 'b:1' }) });
    const protocol = new KafkaJSProtocolError(Object.assign(new Error('This server does not host this topic-partition'), { type: 'UNKNOWN_TOPIC_OR_PARTITION', code: 3, retriable: true }));
    logger.error({ err }, 'could not start');
    logger.warn({ err: protocol }, 'kafka consumer crashed');
    const e = lines()[0]!['err'] as Record<string, unknown>;
    assert.equal(e['type'], 'KafkaJSNonRetriableError');
    assert.match(String(e['message']), /Connection error/);
    assert.match(String(e['stack']), /KafkaJSNonRetriableError|at /);
    assert.ok(String(e['stack']).length > 0);
    assert.equal((e['cause'] as Record<string, unknown>)['type'], 'KafkaJSConnectionError');
    const p = lines()[1]!['err'] as Record<string, unknown>;
    assert.equal(p['type'], 'KafkaJSProtocolError');
    assert.equal(p['errorType'], 'UNKNOWN_TOPIC_OR_PARTITION');
    assert.equal(p['code'], 3);
  });

  it('drop the fields of an error that hold row data: a Redis reply error keeps no command arguments, a poison error no record bytes', () => {
    const { text, lines, logger } = capture();
    const reply = Object.assign(new Error('WRONGTYPE Operation against a key holding the wrong kind of value'), { name: 'ReplyError', command: { name: 'unlink', args: ['customer:email:alice@example.com'] } });
    logger.warn({ err: new Error('first delete failed', { cause: reply }) }, 'redis call failed; retrying');
    logger.warn({ err: reply }, 'direct');
    const record = { topic: 't', partition: 0, offset: '7', key: Buffer.from('{"id":"alice"}'), value: Buffer.from('{"email":"alice@example.com"}'), headers: {} };
    logger.error({ err: new PoisonRecordError(record, 'invalid_json', 'value is not valid JSON') }, 'poison record: stopping before it');
    assert.ok(!text().includes('alice'), text());
    assert.equal((lines()[0]!['err'] as Record<string, unknown>)['cause'] !== undefined, true);
    assert.match(String((lines()[2]!['err'] as Record<string, unknown>)['message']), /^t\/0@7: invalid_json/);
  });

  it('the Redis connection error is logged with its type and stack (it was {"type":"Object","stack":""})', async () => {
    const { lines, logger } = capture();
    const sink = new RedisSink({ url: `redis://127.0.0.1:${await freePort()}`, commandTimeoutMs: 500, chunkSize: 10 }, logger);
    try {
      for (let i = 0; i < 100 && !lines().some((l) => l['msg'] === 'redis connection error; reconnecting'); i++) await new Promise((r) => setTimeout(r, 20));
      const e = lines().find((l) => l['msg'] === 'redis connection error; reconnecting')!['err'] as Record<string, unknown>;
      assert.equal(e['type'], 'Error');
      assert.match(String(e['stack']), /ECONNREFUSED/);
      assert.equal(e['code'], 'ECONNREFUSED');
    } finally {
      await sink.close();
    }
  });
});
