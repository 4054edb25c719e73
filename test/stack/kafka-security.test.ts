import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { resolveKafkaSecurity, type KafkaSecurityFlags } from '../../src/config/kafka-security.js';
import { createKafka } from '../../src/pipeline/source/kafka-client.js';
import { customerCreate } from '../support/debezium.js';
import { uniqueName, waitCommittedTo, endOffsets } from '../support/kafka.js';
import { stopProcess, withTimeout } from '../support/processes.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';
import { stackUnavailable } from '../support/stack/jars.js';
import { startKafka, type KafkaStack, type SaslUser } from '../support/stack/kafka.js';
import { exitOf, mappingsDir, spawnCli } from '../support/worker.js';

/**
 * Kafka security against the real broker's listeners: SASL_PLAINTEXT with PLAIN, SCRAM-SHA-256 and
 * SCRAM-SHA-512; SSL requiring a client certificate (mutual TLS); SASL_SSL. The client under test is the
 * worker's own kafkajs client (createKafka with the options resolved from flags and env), and the CLI
 * (run, offsets) end to end. Every secret stays out of the output, also when authentication fails.
 */

const SKIP = stackUnavailable() ?? false;

describe('Kafka security on the real listeners', { skip: SKIP, timeout: 240_000 }, () => {
  let kafka: KafkaStack;
  let redis: RedisServer;
  let dir: string;
  let mappings: string;
  let passFile: string;

  before(async () => {
    [kafka, redis] = await Promise.all([startKafka({ security: true }), startRedis()]);
    dir = await mkdtemp(join(tmpdir(), 'cdci-kafka-sec-'));
    passFile = join(dir, 'key-pass');
    mappings = await mappingsDir();
  });
  after(async () => {
    await redis?.cleanup();
    await kafka?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** The certificates startKafka made: its client key is encrypted with its own passphrase. */
  const certs = () => kafka.certs!;
  const clientTls = (): NodeJS.ProcessEnv => ({
    CDC_INVALIDATOR_KAFKA_TLS_CERT: certs().clientCertFile,
    CDC_INVALIDATOR_KAFKA_TLS_KEY: certs().clientKeyFile,
    CDC_INVALIDATOR_KAFKA_TLS_KEY_PASSWORD: certs().clientKeyPassphrase,
  });
  const sasl = (u: SaslUser, password = u.password): NodeJS.ProcessEnv => ({ CDC_INVALIDATOR_KAFKA_SASL_USERNAME: u.username, CDC_INVALIDATOR_KAFKA_SASL_PASSWORD: password });

  /** Connects and lists topics (a request to every broker the metadata names) with the resolved options; no retries. */
  async function roundTrip(brokers: readonly string[], flags: KafkaSecurityFlags, env: NodeJS.ProcessEnv): Promise<void> {
    const security = resolveKafkaSecurity(flags, env);
    const client = createKafka({ brokers, clientId: 'sec-test', security, client: { retry: { retries: 0 }, connectionTimeout: 5_000 } }, pino({ level: 'silent' }));
    const admin = client.admin();
    try {
      await withTimeout(admin.connect(), 20_000, 'admin.connect');
      await withTimeout(admin.listTopics(), 20_000, 'listTopics');
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  async function failure(p: Promise<unknown>): Promise<string> {
    try {
      await p;
    } catch (e) {
      return `${(e as Error).name}: ${(e as Error).message}`;
    }
    assert.fail('expected the connection to fail');
  }

  it('SASL_PLAINTEXT: PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 authenticate; a wrong password is refused by the broker', async () => {
    const addr = kafka.listeners.saslPlaintext!;
    for (const u of [kafka.users.plain, kafka.users.scram256, kafka.users.scram512]) {
      await roundTrip(addr, { kafkaSaslMechanism: u.mechanism }, sasl(u));
      const msg = await failure(roundTrip(addr, { kafkaSaslMechanism: u.mechanism }, sasl(u, 'not-the-password')));
      assert.match(msg, /KafkaJSSASLAuthenticationError: SASL (PLAIN|SCRAM SHA256|SCRAM SHA512) authentication failed/, `${u.mechanism}: ${msg}`);
      assert.ok(!msg.includes('not-the-password'), 'the error does not echo the password');
    }
  });

  it('SSL with a client certificate: CA from --kafka-tls-ca, certificate and encrypted key from env files, passphrase from a file', async () => {
    writeFileSync(passFile, `${certs().clientKeyPassphrase}\n`);
    await roundTrip(kafka.listeners.ssl!, { kafkaTlsCa: certs().caFile }, { CDC_INVALIDATOR_KAFKA_TLS_CERT: certs().clientCertFile, CDC_INVALIDATOR_KAFKA_TLS_KEY: certs().clientKeyFile, CDC_INVALIDATOR_KAFKA_TLS_KEY_PASSWORD_FILE: passFile });
  });

  it('SSL: the server name is checked, a foreign CA and the system CAs are refused, no client certificate is refused by the broker, a wrong passphrase fails before connecting', async () => {
    const ssl = kafka.listeners.ssl!;
    await roundTrip(ssl, { kafkaTlsCa: certs().caFile, kafkaTlsServername: 'localhost' }, clientTls());
    assert.match(await failure(roundTrip(ssl, { kafkaTlsCa: certs().caFile, kafkaTlsServername: 'kafka.example.com' }, clientTls())), /Hostname\/IP does not match certificate's altnames|kafka\.example\.com/);
    assert.match(await failure(roundTrip(ssl, { kafkaTlsCa: certs().otherCaFile }, clientTls())), /unable to verify the first certificate|unable to get local issuer certificate|self[- ]signed certificate/);
    assert.match(await failure(roundTrip(ssl, { kafkaTls: true }, clientTls())), /unable to verify the first certificate|unable to get local issuer certificate|self[- ]signed certificate/);
    // ssl.client.auth=required: the broker ends the handshake without a client certificate.
    const noCert = await failure(roundTrip(ssl, { kafkaTlsCa: certs().caFile }, {}));
    assert.match(noCert, /KafkaJS\w+: /, noCert);
    const badPass = await failure(roundTrip(ssl, { kafkaTlsCa: certs().caFile }, { ...clientTls(), CDC_INVALIDATOR_KAFKA_TLS_KEY_PASSWORD: 'not-the-passphrase' }));
    assert.match(badPass, /bad decrypt|decrypt|passphrase/i);
    assert.ok(!badPass.includes('not-the-passphrase'));
  });

  it('SASL_SSL with SCRAM-SHA-512 and a private CA', async () => {
    await roundTrip(kafka.listeners.saslSsl!, { kafkaSaslMechanism: 'scram-sha-512', kafkaTlsCa: certs().caFile }, sasl(kafka.users.scram512));
  });

  it('the worker CLI end to end over SASL_SSL (SCRAM-SHA-512) and mutual TLS; offsets show over SASL_SSL', async () => {
    for (const variant of ['sasl_ssl', 'mtls'] as const) {
      const topic = `${uniqueName('sec')}.inventory.customers`;
      const group = uniqueName('g');
      await kafka.createTopics([{ topic, numPartitions: 2 }]);
      const producer = kafka.kafka().producer();
      await producer.connect();
      await producer.send({ topic, messages: [1, 2, 3].map((id) => ({ key: JSON.stringify({ id }), value: JSON.stringify(customerCreate(id, `${id}@x`)) })) });
      await producer.disconnect();
      const client = redis.client();
      for (const id of [1, 2, 3]) await client.set(`customer:${id}`, 'x');
      const brokers = variant === 'sasl_ssl' ? kafka.listeners.saslSsl! : kafka.listeners.ssl!;
      const env: NodeJS.ProcessEnv =
        variant === 'sasl_ssl'
          ? { CDC_INVALIDATOR_KAFKA_SASL_MECHANISM: 'scram-sha-512', ...sasl(kafka.users.scram512), CDC_INVALIDATOR_KAFKA_TLS_CA: certs().caFile }
          : { CDC_INVALIDATOR_KAFKA_TLS_CA: certs().caFile, ...clientTls() };
      const child = spawnCli(
        ['run', '--brokers', brokers.join(','), '--topics', topic, '--group', group, '--mappings', mappings, '--redis', redis.url, '--from-beginning', '--session-timeout', '6s', '--heartbeat-interval', '500ms', '--commit-interval', '50ms', '--second-delete-delay', '100ms', '--log-level', 'info'],
        env,
      );
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      try {
        await waitCommittedTo(kafka.kafka(), group, topic, await endOffsets(kafka.kafka(), topic), { timeoutMs: 60_000, message: `${variant}: the worker committing to the end\n${out}` });
        assert.equal(await client.exists('customer:1', 'customer:2', 'customer:3'), 0, `${variant}: keys invalidated`);
        if (variant === 'sasl_ssl') {
          const show = spawnCli(['offsets', 'show', '--brokers', brokers.join(','), '--topics', topic, '--group', group, '--kafka-sasl-mechanism', 'scram-sha-512'], env);
          let text = '';
          show.stdout!.on('data', (d: Buffer) => (text += d.toString()));
          show.stderr!.on('data', (d: Buffer) => (text += d.toString()));
          assert.equal(await withTimeout(exitOf(show), 60_000, 'offsets show'), 0, text);
          assert.match(text, new RegExp(`${topic.replace(/\./g, '\\.')}\\t\\d\\t\\d+\\t\\d+\\t0`));
        }
        child.kill('SIGTERM');
        assert.equal(await withTimeout(exitOf(child), 30_000, 'a clean exit'), 0, out);
        for (const secret of [kafka.users.scram512.password, certs().clientKeyPassphrase]) assert.ok(!out.includes(secret), `${variant}: a secret in the output`);
      } finally {
        await stopProcess(child, 'SIGKILL');
      }
    }
  });

  it('a wrong SASL password: the worker exits 1 naming the mechanism, and prints no secret', async () => {
    const child = spawnCli(
      ['run', '--brokers', kafka.listeners.saslSsl!.join(','), '--topics', uniqueName('sec'), '--group', uniqueName('g'), '--mappings', mappings, '--redis', redis.url, '--kafka-sasl-mechanism', 'scram-sha-256', '--kafka-tls-ca', certs().caFile, '--log-level', 'debug'],
      { ...sasl(kafka.users.scram256, 'wrong-password-1234'), ...clientTls() },
    );
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    try {
      assert.equal(await withTimeout(exitOf(child), 90_000, 'the worker giving up'), 1, out);
      assert.match(out, /SASL SCRAM SHA256 authentication failed: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256/);
      for (const secret of ['wrong-password-1234', kafka.users.scram256.password, certs().clientKeyPassphrase]) assert.ok(!out.includes(secret), `a secret in the output: ${secret}`);
    } finally {
      await stopProcess(child, 'SIGKILL');
    }
  });
});
