import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { resolveKafkaSecurity, type KafkaSecurityFlags } from '../../src/config/kafka-security.js';
import { createKafka } from '../../src/pipeline/source/kafka-client.js';
import { startKafkaBroker, type KafkaBroker } from '../support/kafka-broker.js';
import { firstBroker, makeTestCerts, startTlsFront, type TestCerts, type TlsFront } from '../support/kafka-tls.js';
import { withTimeout } from '../support/processes.js';

/*
 * The kcat-hosted mock broker has no TLS listener, so a TLS server with the test CA's certificate,
 * requiring a client certificate, fronts its first broker. The client under test is the worker's own
 * kafkajs client (createKafka) with the options resolved from flags and env, connecting to that front:
 * the handshake, the certificate checks in both directions and the connect exchange (ApiVersions,
 * answered by the broker through the TLS tunnel) are real. Requests past connect go to the brokers the
 * metadata names, which listen in plaintext only, so they are not exercised over TLS here.
 */

let broker: KafkaBroker;
let certs: TestCerts;
let front: TlsFront;

before(async () => {
  broker = await startKafkaBroker();
  certs = makeTestCerts('client-key-pass-7f3a');
  front = await startTlsFront(certs, firstBroker(broker.brokers));
});
after(async () => {
  await front?.close();
  await broker?.stop();
});

/** Connects (ApiVersions) through the TLS front with the options these flags and env resolve to; no retries. */
async function connectOverTls(flags: KafkaSecurityFlags, env: NodeJS.ProcessEnv): Promise<void> {
  const security = resolveKafkaSecurity(flags, env);
  const kafka = createKafka(
    { brokers: [`127.0.0.1:${front.port}`], clientId: 'tls-test', security, client: { retry: { retries: 0 }, connectionTimeout: 5_000 } },
    pino({ level: 'silent' }),
  );
  const admin = kafka.admin();
  try {
    await withTimeout(admin.connect(), 20_000, 'admin.connect over TLS');
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

describe('Kafka over TLS (real handshake against a TLS front of the mock broker)', { timeout: 120_000 }, () => {
  it('CA from --kafka-tls-ca, client certificate and encrypted key from env files, passphrase from CDC_INVALIDATOR_KAFKA_TLS_KEY_PASSWORD_FILE: connects', async () => {
    const passFile = join(certs.dir, 'key-pass');
    writeFileSync(passFile, `${certs.clientKeyPassphrase}\n`);
    const before = front.clients.length;
    await connectOverTls(
      { kafkaTlsCa: certs.caFile },
      { CDC_INVALIDATOR_KAFKA_TLS_CERT: certs.clientCertFile, CDC_INVALIDATOR_KAFKA_TLS_KEY: certs.clientKeyFile, CDC_INVALIDATOR_KAFKA_TLS_KEY_PASSWORD_FILE: passFile },
    );
    assert.ok(front.clients.length > before, 'the server authorized a TLS connection');
    assert.deepEqual([...new Set(front.clients.slice(before))], [certs.clientName], 'the client presented its certificate');
  });

  it('the server name from --kafka-tls-servername is checked against the certificate', async () => {
    const env = { CDC_INVALIDATOR_KAFKA_TLS_CERT: certs.clientCertFile, CDC_INVALIDATOR_KAFKA_TLS_KEY: certs.clientKeyFile, CDC_INVALIDATOR_KAFKA_TLS_KEY_PASSWORD: certs.clientKeyPassphrase };
    await connectOverTls({ kafkaTlsCa: certs.caFile, kafkaTlsServername: 'localhost' }, env);
    const msg = await failure(connectOverTls({ kafkaTlsCa: certs.caFile, kafkaTlsServername: 'kafka.example.com' }, env));
    assert.match(msg, /Hostname\/IP does not match certificate's altnames|kafka\.example\.com/);
  });

  it('a broker certificate not signed by the configured CA fails with the verification error', async () => {
    const msg = await failure(
      connectOverTls({ kafkaTlsCa: certs.otherCaFile }, { CDC_INVALIDATOR_KAFKA_TLS_CERT: certs.clientCertFile, CDC_INVALIDATOR_KAFKA_TLS_KEY: certs.clientKeyFile, CDC_INVALIDATOR_KAFKA_TLS_KEY_PASSWORD: certs.clientKeyPassphrase }),
    );
    assert.match(msg, /KafkaJS\w+: .*(unable to verify the first certificate|unable to get local issuer certificate|self[- ]signed certificate)/);
  });

  it('the system CAs (--kafka-tls alone) do not trust the test CA', async () => {
    const msg = await failure(connectOverTls({ kafkaTls: true }, { CDC_INVALIDATOR_KAFKA_TLS_CERT: certs.clientCertFile, CDC_INVALIDATOR_KAFKA_TLS_KEY: certs.clientKeyFile, CDC_INVALIDATOR_KAFKA_TLS_KEY_PASSWORD: certs.clientKeyPassphrase }));
    assert.match(msg, /unable to verify the first certificate|unable to get local issuer certificate|self[- ]signed certificate/);
  });

  it('without a client certificate the broker refuses the connection', async () => {
    const errorsBefore = front.errors.length;
    const msg = await failure(connectOverTls({ kafkaTlsCa: certs.caFile }, {}));
    assert.match(msg, /KafkaJS\w+: .*certificate required/);
    assert.ok(front.errors.slice(errorsBefore).some((e) => /certificate/i.test(e)), `server side: ${front.errors.join('; ')}`);
  });

  it('a wrong key passphrase fails before any byte is sent, naming the decryption', async () => {
    const msg = await failure(
      connectOverTls({ kafkaTlsCa: certs.caFile }, { CDC_INVALIDATOR_KAFKA_TLS_CERT: certs.clientCertFile, CDC_INVALIDATOR_KAFKA_TLS_KEY: certs.clientKeyFile, CDC_INVALIDATOR_KAFKA_TLS_KEY_PASSWORD: 'not-the-passphrase' }),
    );
    assert.match(msg, /bad decrypt|decrypt|passphrase/i);
    assert.ok(!msg.includes('not-the-passphrase'), 'the error does not echo the passphrase');
  });
});
