import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { Kafka } from 'kafkajs';
import { customerCreate } from '../support/debezium.js';
import { committedOffsets, endOffsets, makeKafka, produce, uniqueName } from '../support/kafka.js';
import type { TestCerts } from '../support/certs.js';
import { startKafka, type KafkaStack } from '../support/stack/kafka.js';
import { freePort } from '../support/ports.js';
import { stopProcess, waitFor, withTimeout } from '../support/processes.js';
import { exitOf, mappingsDir, spawnCli } from '../support/worker.js';

/*
 * The real CLI with credentials from env and *_FILE, at debug level: no secret may appear anywhere in
 * its stdout or stderr, and without --log-keys neither may a key name or a row value.
 */

const hex = (): string => randomBytes(6).toString('hex');
const REDIS_PASSWORD = `redis-pw-${hex()}`;
const KAFKA_PASSWORD = `kafka-pw-${hex()}`;
const KEY_PASSPHRASE = `key-pass-${hex()}`;
const REGISTRY_PASSWORD = `registry-pw-${hex()}`;
const SECRETS = [REDIS_PASSWORD, KAFKA_PASSWORD, KEY_PASSPHRASE, REGISTRY_PASSWORD];

const dir = mkdtempSync(join(tmpdir(), 'cdci-secrets-'));
function secretFile(name: string, value: string): string {
  const p = join(dir, name);
  writeFileSync(p, `${value}\n`, { mode: 0o600 });
  return p;
}

interface AuthRedis {
  readonly port: number;
  readonly client: Redis;
  stop(): Promise<void>;
}

/** A real redis-server that refuses commands without the password (`requirepass`). */
async function startRedisWithPassword(password: string): Promise<AuthRedis> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'no', '--loglevel', 'warning', '--requirepass', password],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const client = new Redis({ port, host: '127.0.0.1', password, lazyConnect: true, retryStrategy: () => 50 });
  client.on('error', () => undefined);
  const anonymous = new Redis({ port, host: '127.0.0.1', lazyConnect: true, enableReadyCheck: false, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  anonymous.on('error', () => undefined);
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
        try {
          if (client.status === 'wait' || client.status === 'end') await client.connect();
          return (await client.ping()) === 'PONG';
        } catch {
          return false;
        }
      },
      { timeoutMs: 10_000, message: `redis-server with requirepass on ${port}` },
    );
    // The password is really required.
    await anonymous.connect();
    await assert.rejects(anonymous.set('probe', '1'), /NOAUTH/);
  } catch (e) {
    client.disconnect();
    await stopProcess(child, 'SIGKILL');
    throw e;
  } finally {
    anonymous.disconnect();
  }
  return {
    port,
    client,
    async stop() {
      await client.quit().catch(() => undefined);
      client.disconnect();
      await stopProcess(child, 'SIGKILL');
    },
  };
}

// The real broker: SASL_PLAINTEXT and SASL_SSL listeners (the mock has no SASL), topics auto-created.
let broker: KafkaStack;
let kafka: Kafka;
let redis: AuthRedis;
let certs: TestCerts;

before(async () => {
  [broker, redis] = await Promise.all([
    startKafka({ security: true, autoCreateTopics: true, numPartitions: 4, clientKeyPassphrase: KEY_PASSPHRASE }),
    startRedisWithPassword(REDIS_PASSWORD),
  ]);
  kafka = makeKafka(broker.brokers);
  certs = broker.certs!;
});
after(async () => {
  await redis?.stop();
  await broker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Collects everything a child writes to stdout and stderr. */
function output(child: ChildProcess): () => string {
  const chunks: Buffer[] = [];
  child.stdout!.on('data', (c: Buffer) => chunks.push(c));
  child.stderr!.on('data', (c: Buffer) => chunks.push(c));
  return () => Buffer.concat(chunks).toString('utf8');
}

function assertNoSecrets(text: string): void {
  for (const s of SECRETS) assert.ok(!text.includes(s), `secret ${s.replace(/-\w+$/, '-…')} appears in the output`);
}

const FAST = ['--session-timeout', '6s', '--heartbeat-interval', '500ms', '--rebalance-timeout', '6s', '--commit-interval', '50ms', '--second-delete-delay', '100ms'];

/** Registry credentials: parsed and held by the worker (format auto), never used for JSON records. */
function registryEnv(): NodeJS.ProcessEnv {
  return { CDC_INVALIDATOR_SCHEMA_REGISTRY: 'http://127.0.0.1:9', CDC_INVALIDATOR_SCHEMA_REGISTRY_USERNAME: 'registry-user', CDC_INVALIDATOR_SCHEMA_REGISTRY_PASSWORD_FILE: secretFile('registry-password', REGISTRY_PASSWORD) };
}

/**
 * Runs the worker over `n` customer events (plus one record that is not JSON and quotes a row value),
 * waits until every cached key is gone and every offset committed, stops it with SIGTERM, and
 * returns its whole output. The emails are the row values; `customer:email:<email>` the key names.
 */
async function runWorker(extraArgs: readonly string[], env: NodeJS.ProcessEnv): Promise<{ out: string; emails: string[] }> {
  const topic = `${uniqueName('sec')}.inventory.customers`;
  const group = uniqueName('g');
  const tag = hex();
  const emails = Array.from({ length: 10 }, (_, i) => `user${i}-${tag}@example.com`);
  for (const e of emails) await redis.client.set(`customer:email:${e}`, 'cached');
  await produce(kafka, topic, [
    ...emails.map((e, i) => ({ key: { id: i }, value: customerCreate(i, e) })),
    { key: { id: 'poison' }, value: `${emails[0]} is not JSON` },
  ]);
  const child = spawnCli(['run', '--brokers', broker.brokers.join(','), '--topics', topic, '--group', group, '--mappings', await mappingsDir(), '--from-beginning', ...FAST, ...extraArgs], {
    CDC_INVALIDATOR_LOG_LEVEL: 'debug',
    ...env,
  });
  const text = output(child);
  try {
    await waitFor(async () => (await redis.client.exists(...emails.map((e) => `customer:email:${e}`))) === 0, { timeoutMs: 40_000, message: 'the worker deleted every cached key' });
    const end = await endOffsets(kafka, topic);
    await waitFor(
      async () => {
        const c = await committedOffsets(kafka, group, topic);
        return [...end].every(([p, high]) => high === 0n || c.get(p) === high);
      },
      { timeoutMs: 30_000, message: 'every offset committed (the poison record dead-lettered)' },
    );
    child.kill('SIGTERM');
    assert.equal(await withTimeout(exitOf(child), 20_000, 'exit on SIGTERM'), 0, text());
  } finally {
    await stopProcess(child, 'SIGKILL');
  }
  return { out: text(), emails };
}

describe('secrets and row data stay out of the output of a running worker', { timeout: 180_000 }, () => {
  it('Redis password from CDC_INVALIDATOR_REDIS_PASSWORD_FILE, registry password from a file, debug level, no --log-keys: no secret, no key name, no row value', async () => {
    const { out, emails } = await runWorker([], { CDC_INVALIDATOR_REDIS: `redis://127.0.0.1:${redis.port}`, CDC_INVALIDATOR_REDIS_PASSWORD_FILE: secretFile('redis-password', REDIS_PASSWORD), ...registryEnv() });
    assert.match(out, /"msg":"starting"/);
    assert.match(out, /"msg":"batch invalidated"/, 'the debug lines that could carry key names were written');
    assert.match(out, /"keyNames":"\[redacted: --log-keys\]"/);
    assert.match(out, /"msg":"poison record dead-lettered"/);
    assertNoSecrets(out);
    for (const e of emails) assert.ok(!out.includes(e), `row value ${e} in the output`);
    assert.doesNotMatch(out, /customer:email:/, 'no key name in the output');
  });

  it('Redis password inside CDC_INVALIDATOR_REDIS, --log-keys at debug: key names appear, secrets still do not', async () => {
    const { out, emails } = await runWorker(['--log-keys'], { CDC_INVALIDATOR_REDIS: `redis://:${REDIS_PASSWORD}@127.0.0.1:${redis.port}`, ...registryEnv() });
    assertNoSecrets(out);
    assert.ok(out.includes(`customer:email:${emails[1]}`), 'with --log-keys the key names are logged at debug');
  });
});

describe('secrets stay out of the output when Kafka authentication fails', { timeout: 120_000 }, () => {
  it('SASL PLAIN over TLS with an encrypted client key and a wrong password: the worker fails and prints neither password nor passphrase', async () => {
    const child = spawnCli(
      ['run', '--brokers', broker.listeners.saslSsl!.join(','), '--topics', uniqueName('sasl'), '--group', uniqueName('g'), '--mappings', await mappingsDir(), '--kafka-sasl-mechanism', 'plain', '--kafka-tls-ca', certs.caFile, ...FAST],
      {
        CDC_INVALIDATOR_LOG_LEVEL: 'debug',
        CDC_INVALIDATOR_REDIS: `redis://127.0.0.1:${redis.port}`,
        CDC_INVALIDATOR_REDIS_PASSWORD: REDIS_PASSWORD,
        CDC_INVALIDATOR_KAFKA_SASL_USERNAME: 'svc-cdc',
        CDC_INVALIDATOR_KAFKA_SASL_PASSWORD_FILE: secretFile('kafka-password', KAFKA_PASSWORD),
        CDC_INVALIDATOR_KAFKA_TLS_CERT: certs.clientCertFile,
        CDC_INVALIDATOR_KAFKA_TLS_KEY: certs.clientKeyFile,
        CDC_INVALIDATOR_KAFKA_TLS_KEY_PASSWORD_FILE: secretFile('key-passphrase', KEY_PASSPHRASE),
        ...registryEnv(),
      },
    );
    const text = output(child);
    try {
      const code = await withTimeout(exitOf(child), 90_000, 'the worker gives up on Kafka');
      const out = text();
      assert.equal(code, 1, out);
      // SASL_SSL: the broker answers the SASL exchange only over an established TLS session.
      assert.match(out, /SASL PLAIN authentication failed/, 'SASL failed at the broker, after the TLS handshake');
      assert.match(out, /"sasl":\{"mechanism":"plain","username":"svc-cdc"\}/, 'the variant is logged');
      assert.doesNotMatch(out, /SASL over plaintext/, 'no plaintext warning over TLS');
      assertNoSecrets(out);
    } finally {
      await stopProcess(child, 'SIGKILL');
    }
  });

  it('SASL over plaintext is warned about once', async () => {
    const child = spawnCli(['run', '--brokers', broker.listeners.saslPlaintext!.join(','), '--topics', uniqueName('sasl'), '--group', uniqueName('g'), '--mappings', await mappingsDir(), ...FAST], {
      CDC_INVALIDATOR_LOG_LEVEL: 'info',
      CDC_INVALIDATOR_REDIS: `redis://127.0.0.1:${redis.port}`,
      CDC_INVALIDATOR_REDIS_PASSWORD: REDIS_PASSWORD,
      CDC_INVALIDATOR_KAFKA_SASL_MECHANISM: 'scram-sha-256',
      CDC_INVALIDATOR_KAFKA_SASL_USERNAME: 'svc-cdc',
      CDC_INVALIDATOR_KAFKA_SASL_PASSWORD: KAFKA_PASSWORD,
    });
    const text = output(child);
    try {
      assert.equal(await withTimeout(exitOf(child), 90_000, 'the worker gives up on Kafka'), 1);
      const out = text();
      assert.equal(out.match(/Kafka SASL over plaintext/g)?.length, 1, out);
      assertNoSecrets(out);
    } finally {
      await stopProcess(child, 'SIGKILL');
    }
  });
});
