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
      const s = resolveKafkaSecurity({ kafkaSaslMechanism: mechanism }, { KAFKA_SASL_USERNAME: 'svc', KAFKA_SASL_PASSWORD: 'pw' });
      assert.deepEqual(kafkajsSecurityOptions(s), { sasl: { mechanism, username: 'svc', password: 'pw' } });
    });
  }

  it('the mechanism from env, case-insensitive; the password from KAFKA_SASL_PASSWORD_FILE without its newline', () => {
    const s = resolveKafkaSecurity({}, { KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512', KAFKA_SASL_USERNAME: 'svc', KAFKA_SASL_PASSWORD_FILE: PW_FILE });
    assert.deepEqual(kafkajsSecurityOptions(s).sasl, { mechanism: 'scram-sha-512', username: 'svc', password: 'pw-from-file' });
  });

  it('the flag wins over KAFKA_SASL_MECHANISM', () => {
    const s = resolveKafkaSecurity({ kafkaSaslMechanism: 'plain' }, { KAFKA_SASL_MECHANISM: 'scram-sha-256', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' });
    assert.equal(s.sasl?.mechanism, 'plain');
  });

  it('a mechanism without user or password, a password without a mechanism, an unknown mechanism: clear ConfigErrors', () => {
    configError(() => resolveKafkaSecurity({ kafkaSaslMechanism: 'plain' }, {}), /^--kafka-sasl-mechanism=plain needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD/);
    configError(() => resolveKafkaSecurity({}, { KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u' }), /^KAFKA_SASL_MECHANISM=plain needs KAFKA_SASL_PASSWORD \(or KAFKA_SASL_PASSWORD_FILE\)$/);
    configError(() => resolveKafkaSecurity({ kafkaSaslMechanism: 'scram-sha-256' }, { KAFKA_SASL_PASSWORD: 'p' }), /needs KAFKA_SASL_USERNAME$/);
    configError(() => resolveKafkaSecurity({}, { KAFKA_SASL_PASSWORD: 'p' }), /^KAFKA_SASL_PASSWORD is set but no SASL mechanism: give --kafka-sasl-mechanism/);
    configError(() => resolveKafkaSecurity({}, { KAFKA_SASL_USERNAME: 'u' }), /^KAFKA_SASL_USERNAME is set but no SASL mechanism/);
    configError(() => resolveKafkaSecurity({ kafkaSaslMechanism: 'gssapi' }, { KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' }), /^--kafka-sasl-mechanism: unknown SASL mechanism "gssapi" \(expected plain, scram-sha-256, scram-sha-512\)/);
    configError(() => resolveKafkaSecurity({}, { KAFKA_SASL_MECHANISM: 'oauthbearer' }), /^KAFKA_SASL_MECHANISM: unknown SASL mechanism "oauthbearer"/);
  });

  it('a password given both ways, or an unreadable password file, names the variable', () => {
    configError(() => resolveKafkaSecurity({ kafkaSaslMechanism: 'plain' }, { KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p', KAFKA_SASL_PASSWORD_FILE: PW_FILE }), /KAFKA_SASL_PASSWORD and KAFKA_SASL_PASSWORD_FILE are both set/);
    configError(() => resolveKafkaSecurity({ kafkaSaslMechanism: 'plain' }, { KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD_FILE: join(dir, 'nope') }), /^KAFKA_SASL_PASSWORD_FILE: cannot read .*nope: ENOENT/);
  });
});

describe('Kafka TLS settings → kafkajs ssl', () => {
  it('--kafka-tls alone: TLS with certificate verification against the system CAs', () => {
    assert.deepEqual(kafkajsSecurityOptions(resolveKafkaSecurity({ kafkaTls: true }, {})), { ssl: { rejectUnauthorized: true } });
    assert.deepEqual(kafkajsSecurityOptions(resolveKafkaSecurity({}, { KAFKA_TLS: 'true' })), { ssl: { rejectUnauthorized: true } });
    assert.deepEqual(resolveKafkaSecurity({}, { KAFKA_TLS: 'false' }), {});
    configError(() => resolveKafkaSecurity({}, { KAFKA_TLS: 'maybe' }), /^KAFKA_TLS: expected true or false, got "maybe"/);
  });

  it('CA, client certificate, key and its passphrase from files named by env; the bytes are read once', () => {
    const s = resolveKafkaSecurity({}, { KAFKA_TLS_CA_FILE: CA, KAFKA_TLS_CERT_FILE: CERT, KAFKA_TLS_KEY_FILE: KEY, KAFKA_TLS_KEY_PASSWORD: 'kp', KAFKA_TLS_SERVERNAME: 'kafka.internal' });
    const ssl = kafkajsSecurityOptions(s).ssl;
    assert.ok(ssl && typeof ssl === 'object');
    assert.equal(ssl.rejectUnauthorized, true);
    assert.deepEqual((ssl.ca as Buffer[]).map((b) => b.toString()), ['-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n']);
    assert.match(String(ssl.cert), /CLIENT/);
    assert.match(String(ssl.key), /KEYBYTES/);
    assert.equal(ssl.passphrase, 'kp');
    assert.equal(ssl.servername, 'kafka.internal');
  });

  it('flags win over env for the file paths; a CA turns TLS on by itself', () => {
    const other = file('other-ca.pem', 'OTHER');
    const s = resolveKafkaSecurity({ kafkaTlsCa: CA, kafkaTlsServername: 'b.example' }, { KAFKA_TLS_CA_FILE: other, KAFKA_TLS_SERVERNAME: 'a.example' });
    const ssl = kafkajsSecurityOptions(s).ssl as { ca: Buffer[]; servername: string };
    assert.match(ssl.ca[0]!.toString(), /CA/);
    assert.equal(ssl.servername, 'b.example');
  });

  it('the key passphrase from KAFKA_TLS_KEY_PASSWORD_FILE', () => {
    const s = resolveKafkaSecurity({ kafkaTlsCert: CERT, kafkaTlsKey: KEY }, { KAFKA_TLS_KEY_PASSWORD_FILE: file('kp', 'from-file\n') });
    assert.equal(s.tls?.passphrase, 'from-file');
  });

  it('a certificate without its key (and the reverse), a passphrase without a key, an unreadable file: clear ConfigErrors', () => {
    configError(() => resolveKafkaSecurity({ kafkaTlsCert: CERT }, {}), /^--kafka-tls-cert \(KAFKA_TLS_CERT_FILE\) needs --kafka-tls-key/);
    configError(() => resolveKafkaSecurity({}, { KAFKA_TLS_KEY_FILE: KEY }), /^--kafka-tls-key \(KAFKA_TLS_KEY_FILE\) needs --kafka-tls-cert/);
    configError(() => resolveKafkaSecurity({ kafkaTls: true }, { KAFKA_TLS_KEY_PASSWORD: 'x' }), /^KAFKA_TLS_KEY_PASSWORD is set but there is no client key/);
    configError(() => resolveKafkaSecurity({ kafkaTlsCa: join(dir, 'missing.pem') }, {}), /^KAFKA_TLS_CA_FILE: cannot read .*missing\.pem: ENOENT/);
  });

  it('SASL over TLS: both options', () => {
    const o = kafkajsSecurityOptions(resolveKafkaSecurity({ kafkaSaslMechanism: 'scram-sha-256', kafkaTlsCa: CA }, { KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' }));
    assert.equal(o.sasl?.mechanism, 'scram-sha-256');
    assert.ok(o.ssl && typeof o.ssl === 'object' && Array.isArray(o.ssl.ca));
  });
});

describe('Kafka security in the run config', () => {
  const base = { topics: 't' };
  it('resolveRunConfig carries it; describeConfig shows the variant and no password, key or certificate bytes', () => {
    const c = resolveRunConfig(
      { ...base, kafkaSaslMechanism: 'plain', kafkaTlsCa: CA, kafkaTlsCert: CERT, kafkaTlsKey: KEY },
      { KAFKA_SASL_USERNAME: 'svc', KAFKA_SASL_PASSWORD_FILE: PW_FILE, KAFKA_TLS_KEY_PASSWORD: 'key-pass-123' },
    );
    assert.equal(c.kafkaSecurity.sasl?.password, 'pw-from-file');
    const described = JSON.stringify(describeConfig(c));
    for (const secret of ['pw-from-file', 'key-pass-123', 'KEYBYTES', 'CLIENT']) assert.ok(!described.includes(secret), `describeConfig leaks ${secret}: ${described}`);
    assert.deepEqual(describeKafkaSecurity(c.kafkaSecurity), { sasl: { mechanism: 'plain', username: 'svc' }, tls: { ca: 'file', clientCertificate: true, encryptedKey: true } });
  });

  it('a bad security setting fails resolveRunConfig with the ConfigError', () => {
    configError(() => resolveRunConfig({ ...base, kafkaSaslMechanism: 'plain' }, {}), /needs KAFKA_SASL_USERNAME/);
  });

  it('--log-keys / LOG_KEYS, off by default', () => {
    assert.equal(resolveRunConfig(base, {}).logKeys, false);
    assert.equal(resolveRunConfig(base, { LOG_KEYS: 'true' }).logKeys, true);
    assert.equal(resolveRunConfig({ ...base, logKeys: true }, {}).logKeys, true);
    configError(() => resolveRunConfig(base, { LOG_KEYS: 'sure' }), /^LOG_KEYS: expected true or false/);
  });
});
