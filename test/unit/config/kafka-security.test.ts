import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError } from '../../../src/config/errors.js';
import { describeKafkaSecurity, kafkajsSecurityOptions, resolveKafkaSecurity } from '../../../src/config/kafka-security.js';
import { describeConfig, resolveRunConfig } from '../../../src/config/run-config.js';

const dir = mkdtempSync(join(tmpdir(), 'kafka-security-'));
const file = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const CA = file('ca.pem', '-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n');
const CERT = file('client.pem', '-----BEGIN CERTIFICATE-----\nCLIENT\n-----END CERTIFICATE-----\n');
const KEY = file('client.key', '-----BEGIN PRIVATE KEY-----\nKEYBYTES\n-----END PRIVATE KEY-----\n');
const PW_FILE = file('sasl-password', 'pw-from-file\n');

function configError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof ConfigError && pattern.test(e.message), `expected a ConfigError matching ${pattern}`);
}

describe('Kafka SASL settings → kafkajs sasl', () => {
  it('nothing set: plaintext, no SASL, nothing passed to kafkajs', () => {
    const s = resolveKafkaSecurity({}, {});
    assert.deepEqual(s, {});
    assert.deepEqual(kafkajsSecurityOptions(s), {});
  });

  for (const mechanism of ['plain', 'scram-sha-256', 'scram-sha-512'] as const) {
    it(`${mechanism} from the flag, user and password from env`, () => {
      const s = resolveKafkaSecurity({ kafkaSaslMechanism: mechanism }, { CDC_INVALIDATOR_KAFKA_SASL_USERNAME: 'svc', CDC_INVALIDATOR_KAFKA_SASL_PASSWORD: 'pw' });
      assert.deepEqual(kafkajsSecurityOptions(s), { sasl: { mechanism, username: 'svc', password: 'pw' } });
    });
  }

  it('the mechanism from env, case-insensitive; the password from CDC_INVALIDATOR_KAFKA_SASL_PASSWORD_FILE without its newline', () => {
    const s = resolveKafkaSecurity({}, { CDC_INVALIDATOR_KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512', CDC_INVALIDATOR_KAFKA_SASL_USERNAME: 'svc', CDC_INVALIDATOR_KAFKA_SASL_PASSWORD_FILE: PW_FILE });
    assert.deepEqual(kafkajsSecurityOptions(s).sasl, { mechanism: 'scram-sha-512', username: 'svc', password: 'pw-from-file' });
  });

  it('the flag wins over CDC_INVALIDATOR_KAFKA_SASL_MECHANISM', () => {
    const s = resolveKafkaSecurity({ kafkaSaslMechanism: 'plain' }, { CDC_INVALIDATOR_KAFKA_SASL_MECHANISM: 'scram-sha-256', CDC_INVALIDATOR_KAFKA_SASL_USERNAME: 'u', CDC_INVALIDATOR_KAFKA_SASL_PASSWORD: 'p' });
    assert.equal(s.sasl?.mechanism, 'plain');
  });

  it('a mechanism without user or password, a password without a mechanism, an unknown mechanism: clear ConfigErrors', () => {
    configError(() => resolveKafkaSecurity({ kafkaSaslMechanism: 'plain' }, {}), /^--kafka-sasl-mechanism=plain needs CDC_INVALIDATOR_KAFKA_SASL_USERNAME and CDC_INVALIDATOR_KAFKA_SASL_PASSWORD/);
    configError(() => resolveKafkaSecurity({}, { CDC_INVALIDATOR_KAFKA_SASL_MECHANISM: 'plain', CDC_INVALIDATOR_KAFKA_SASL_USERNAME: 'u' }), /^CDC_INVALIDATOR_KAFKA_SASL_MECHANISM=plain needs CDC_INVALIDATOR_KAFKA_SASL_PASSWORD \(or CDC_INVALIDATOR_KAFKA_SASL_PASSWORD_FILE\)$/);
    configError(() => resolveKafkaSecurity({ kafkaSaslMechanism: 'scram-sha-256' }, { CDC_INVALIDATOR_KAFKA_SASL_PASSWORD: 'p' }), /needs CDC_INVALIDATOR_KAFKA_SASL_USERNAME$/);
    configError(() => resolveKafkaSecurity({}, { CDC_INVALIDATOR_KAFKA_SASL_PASSWORD: 'p' }), /^CDC_INVALIDATOR_KAFKA_SASL_PASSWORD is set but no SASL mechanism: give --kafka-sasl-mechanism/);
    configError(() => resolveKafkaSecurity({}, { CDC_INVALIDATOR_KAFKA_SASL_USERNAME: 'u' }), /^CDC_INVALIDATOR_KAFKA_SASL_USERNAME is set but no SASL mechanism/);
    configError(() => resolveKafkaSecurity({ kafkaSaslMechanism: 'gssapi' }, { CDC_INVALIDATOR_KAFKA_SASL_USERNAME: 'u', CDC_INVALIDATOR_KAFKA_SASL_PASSWORD: 'p' }), /^--kafka-sasl-mechanism: unknown SASL mechanism "gssapi" \(expected plain, scram-sha-256, scram-sha-512\)/);
    configError(() => resolveKafkaSecurity({}, { CDC_INVALIDATOR_KAFKA_SASL_MECHANISM: 'oauthbearer' }), /^CDC_INVALIDATOR_KAFKA_SASL_MECHANISM: unknown SASL mechanism "oauthbearer"/);
  });

  it('a password given both ways, or an unreadable password file, names the variable', () => {
    configError(() => resolveKafkaSecurity({ kafkaSaslMechanism: 'plain' }, { CDC_INVALIDATOR_KAFKA_SASL_USERNAME: 'u', CDC_INVALIDATOR_KAFKA_SASL_PASSWORD: 'p', CDC_INVALIDATOR_KAFKA_SASL_PASSWORD_FILE: PW_FILE }), /CDC_INVALIDATOR_KAFKA_SASL_PASSWORD and CDC_INVALIDATOR_KAFKA_SASL_PASSWORD_FILE are both set/);
    configError(() => resolveKafkaSecurity({ kafkaSaslMechanism: 'plain' }, { CDC_INVALIDATOR_KAFKA_SASL_USERNAME: 'u', CDC_INVALIDATOR_KAFKA_SASL_PASSWORD_FILE: join(dir, 'nope') }), /^CDC_INVALIDATOR_KAFKA_SASL_PASSWORD_FILE: cannot read .*nope: ENOENT/);
  });
});

describe('Kafka TLS settings → kafkajs ssl', () => {
  it('--kafka-tls alone: TLS with certificate verification against the system CAs', () => {
    assert.deepEqual(kafkajsSecurityOptions(resolveKafkaSecurity({ kafkaTls: true }, {})), { ssl: { rejectUnauthorized: true } });
    assert.deepEqual(kafkajsSecurityOptions(resolveKafkaSecurity({}, { CDC_INVALIDATOR_KAFKA_TLS: 'true' })), { ssl: { rejectUnauthorized: true } });
    assert.deepEqual(resolveKafkaSecurity({}, { CDC_INVALIDATOR_KAFKA_TLS: 'false' }), {});
    configError(() => resolveKafkaSecurity({}, { CDC_INVALIDATOR_KAFKA_TLS: 'maybe' }), /^CDC_INVALIDATOR_KAFKA_TLS: expected true or false, got "maybe"/);
  });

  it('CA, client certificate, key and its passphrase from files named by env; the bytes are read once', () => {
    const s = resolveKafkaSecurity({}, { CDC_INVALIDATOR_KAFKA_TLS_CA: CA, CDC_INVALIDATOR_KAFKA_TLS_CERT: CERT, CDC_INVALIDATOR_KAFKA_TLS_KEY: KEY, CDC_INVALIDATOR_KAFKA_TLS_KEY_PASSWORD: 'kp', CDC_INVALIDATOR_KAFKA_TLS_SERVERNAME: 'kafka.internal' });
    const ssl = kafkajsSecurityOptions(s).ssl;
    assert.ok(ssl && typeof ssl === 'object');
    assert.equal(ssl.rejectUnauthorized, true);
    assert.deepEqual((ssl.ca as Buffer[]).map((b) => b.toString()), ['-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n']);
    assert.match(String(ssl.cert), /CLIENT/);
    assert.match((ssl.key as Buffer).toString(), /KEYBYTES/);
    assert.equal(ssl.passphrase, 'kp');
    assert.equal(ssl.servername, 'kafka.internal');
  });

  it('flags win over env for the file paths; a CA turns TLS on by itself', () => {
    const other = file('other-ca.pem', 'OTHER');
    const s = resolveKafkaSecurity({ kafkaTlsCa: CA, kafkaTlsServername: 'b.example' }, { CDC_INVALIDATOR_KAFKA_TLS_CA: other, CDC_INVALIDATOR_KAFKA_TLS_SERVERNAME: 'a.example' });
    const ssl = kafkajsSecurityOptions(s).ssl as { ca: Buffer[]; servername: string };
    assert.match(ssl.ca[0]!.toString(), /CA/);
    assert.equal(ssl.servername, 'b.example');
  });

  it('the key passphrase from CDC_INVALIDATOR_KAFKA_TLS_KEY_PASSWORD_FILE', () => {
    const s = resolveKafkaSecurity({ kafkaTlsCert: CERT, kafkaTlsKey: KEY }, { CDC_INVALIDATOR_KAFKA_TLS_KEY_PASSWORD_FILE: file('kp', 'from-file\n') });
    assert.equal(s.tls?.passphrase, 'from-file');
  });

  it('a certificate without its key (and the reverse), a passphrase without a key, an unreadable file: clear ConfigErrors', () => {
    configError(() => resolveKafkaSecurity({ kafkaTlsCert: CERT }, {}), /^--kafka-tls-cert \(CDC_INVALIDATOR_KAFKA_TLS_CERT\) needs --kafka-tls-key/);
    configError(() => resolveKafkaSecurity({}, { CDC_INVALIDATOR_KAFKA_TLS_KEY: KEY }), /^--kafka-tls-key \(CDC_INVALIDATOR_KAFKA_TLS_KEY\) needs --kafka-tls-cert/);
    configError(() => resolveKafkaSecurity({ kafkaTls: true }, { CDC_INVALIDATOR_KAFKA_TLS_KEY_PASSWORD: 'x' }), /^CDC_INVALIDATOR_KAFKA_TLS_KEY_PASSWORD is set but there is no client key/);
    configError(() => resolveKafkaSecurity({ kafkaTlsCa: join(dir, 'missing.pem') }, {}), /^CDC_INVALIDATOR_KAFKA_TLS_CA: cannot read .*missing\.pem: ENOENT/);
  });

  it('SASL over TLS: both options', () => {
    const o = kafkajsSecurityOptions(resolveKafkaSecurity({ kafkaSaslMechanism: 'scram-sha-256', kafkaTlsCa: CA }, { CDC_INVALIDATOR_KAFKA_SASL_USERNAME: 'u', CDC_INVALIDATOR_KAFKA_SASL_PASSWORD: 'p' }));
    assert.equal(o.sasl?.mechanism, 'scram-sha-256');
    assert.ok(o.ssl && typeof o.ssl === 'object' && Array.isArray(o.ssl.ca));
  });
});

describe('Kafka security in the run config', () => {
  const base = { topics: 't' };
  it('resolveRunConfig carries it; describeConfig shows the variant and no password, key or certificate bytes', () => {
    const c = resolveRunConfig(
      { ...base, kafkaSaslMechanism: 'plain', kafkaTlsCa: CA, kafkaTlsCert: CERT, kafkaTlsKey: KEY },
      { CDC_INVALIDATOR_KAFKA_SASL_USERNAME: 'svc', CDC_INVALIDATOR_KAFKA_SASL_PASSWORD_FILE: PW_FILE, CDC_INVALIDATOR_KAFKA_TLS_KEY_PASSWORD: 'key-pass-123' },
    );
    assert.equal(c.kafkaSecurity.sasl?.password, 'pw-from-file');
    const described = JSON.stringify(describeConfig(c));
    for (const secret of ['pw-from-file', 'key-pass-123', 'KEYBYTES', 'CLIENT']) assert.ok(!described.includes(secret), `describeConfig leaks ${secret}: ${described}`);
    assert.deepEqual(describeKafkaSecurity(c.kafkaSecurity), { sasl: { mechanism: 'plain', username: 'svc' }, tls: { ca: 'file', clientCertificate: true, encryptedKey: true } });
  });

  it('a bad security setting fails resolveRunConfig with the ConfigError', () => {
    configError(() => resolveRunConfig({ ...base, kafkaSaslMechanism: 'plain' }, {}), /needs CDC_INVALIDATOR_KAFKA_SASL_USERNAME/);
  });

  it('--log-keys / CDC_INVALIDATOR_LOG_KEYS, off by default', () => {
    assert.equal(resolveRunConfig(base, {}).logKeys, false);
    assert.equal(resolveRunConfig(base, { CDC_INVALIDATOR_LOG_KEYS: 'true' }).logKeys, true);
    assert.equal(resolveRunConfig({ ...base, logKeys: true }, {}).logKeys, true);
    configError(() => resolveRunConfig(base, { CDC_INVALIDATOR_LOG_KEYS: 'sure' }), /^CDC_INVALIDATOR_LOG_KEYS: expected true or false/);
  });
});
