import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import type { Kafka } from 'kafkajs';
import { changeEvent } from '../support/debezium.js';
import { startKafkaBroker, type KafkaBroker } from '../support/kafka-broker.js';
import { committedOffsets, endOffsets, makeKafka, produce, totalCommitted, uniqueName } from '../support/kafka.js';
import { repoRoot } from '../support/paths.js';
import { stopProcess, waitFor, withTimeout } from '../support/processes.js';
import { makeCertificates, startTlsRedis, type Certificates, type TlsRedis } from '../support/redis-tls.js';
import { exitOf, mappingsDir, spawnCli } from '../support/worker.js';

const MAPPING = `mappings:
  - name: customers
    table: inventory.customers
    keys: ["cache:customer:{id}"]
    tags: ["tag:region:{region}"]
    versions: ["ver:customers"]
`;
const PASSWORD = 'pw-Only-In-A-File-7f3a';

/** The least-privilege ACL line exactly as docs/production-redis.md documents it. */
async function documentedAcl(): Promise<string> {
  const doc = await readFile(join(repoRoot(), 'docs', 'production-redis.md'), 'utf8');
  const line = doc.split('\n').find((l) => l.startsWith('user cdc-invalidator on '));
  assert.ok(line, 'docs/production-redis.md holds a "user cdc-invalidator on …" line');
  return line;
}

let broker: KafkaBroker;
let certs: Certificates;
let server: TlsRedis;
let admin: Redis;
let kafka: Kafka;
let mappings: string;
let acl: string;

before(async () => {
  acl = await documentedAcl();
  assert.match(acl, /\+unlink\b/);
  certs = await makeCertificates();
  const withoutUnlink = acl.replace(/^user cdc-invalidator /, 'user inval-no-unlink ').replace(/ \+unlink\b/, '');
  [broker, server] = await Promise.all([startKafkaBroker(), startTlsRedis(certs, [acl.replace('>CHANGE-ME', `>${PASSWORD}`), withoutUnlink.replace('>CHANGE-ME', `>${PASSWORD}`)])]);
  admin = server.admin();
  kafka = makeKafka(broker.brokers);
  mappings = await mappingsDir(MAPPING);
  await writeFile(join(certs.dir, 'redis-password'), `${PASSWORD}\n`);
});
after(async () => {
  await server?.cleanup();
  await broker?.stop();
});

function cli(topic: string, group: string, user: string): { child: ChildProcess; output: () => string } {
  const child = spawnCli(
    ['run', '--brokers', broker.brokers.join(','), '--topics', topic, '--group', group, '--mappings', mappings, '--from-beginning', '--second-delete-delay', '100ms',
      '--session-timeout', '6s', '--heartbeat-interval', '500ms', '--rebalance-timeout', '6s', '--commit-interval', '50ms', '--redis-timeout', '2s'],
    {
      CDC_INVALIDATOR_REDIS: server.url,
      CDC_INVALIDATOR_REDIS_USERNAME: user,
      CDC_INVALIDATOR_REDIS_PASSWORD_FILE: join(certs.dir, 'redis-password'),
      CDC_INVALIDATOR_REDIS_TLS_CA: certs.ca,
      CDC_INVALIDATOR_REDIS_TLS_CERT: certs.clientCert,
      CDC_INVALIDATOR_REDIS_TLS_KEY: certs.clientKey,
      CDC_INVALIDATOR_LOG_LEVEL: 'info',
    },
  );
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString('utf8')));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString('utf8')));
  return { child, output: () => out };
}

async function allCommitted(group: string, topic: string): Promise<boolean> {
  const [committed, end] = await Promise.all([committedOffsets(kafka, group, topic), endOffsets(kafka, topic)]);
  for (const [p, high] of end) if (high > 0n && committed.get(p) !== high) return false;
  return true;
}

const customer = (id: number, region: string): Record<string, unknown> => changeEvent('c', { after: { id, region } });

describe('worker over TLS (client certificate) as an ACL user with the documented least privilege', { timeout: 180_000 }, () => {
  it('deletes keys, purges tags and bumps versions; the server logs no denied command; no secret in the logs', async () => {
    const topic = `${uniqueName('shop')}.inventory.customers`;
    const group = uniqueName('g');
    const ids = Array.from({ length: 30 }, (_, i) => i + 1);
    for (const id of ids) await admin.set(`cache:customer:${id}`, 'cached');
    await admin.set('cache:page:eu:1', 'cached');
    await admin.set('cache:page:eu:2', 'cached');
    await admin.sadd('tag:region:eu', 'cache:page:eu:1', 'cache:page:eu:2');
    await admin.set('outside:pattern', 'keep');
    await admin.acl('LOG', 'RESET');
    await produce(kafka, topic, ids.map((id) => ({ key: { id }, value: customer(id, id % 2 ? 'eu' : 'us') })));
    const { child, output } = cli(topic, group, 'cdc-invalidator');
    try {
      await waitFor(() => allCommitted(group, topic), { timeoutMs: 60_000, intervalMs: 200, message: `offsets committed to the end; worker output:\n${output().slice(-2000)}` });
      assert.equal(await admin.exists(...ids.map((id) => `cache:customer:${id}`)), 0, 'every mapped key deleted');
      assert.equal(await admin.exists('cache:page:eu:1', 'cache:page:eu:2', 'tag:region:eu', '{tag:region:eu}:purging'), 0, 'tag members and the tag set deleted');
      assert.ok(Number(await admin.get('ver:customers')) >= 1, 'version counter bumped');
      assert.equal(await admin.get('outside:pattern'), 'keep');
      const clients = (await admin.client('LIST')) as string;
      assert.match(clients, /user=cdc-invalidator /, 'connected as the ACL user');
      assert.deepEqual(await admin.acl('LOG'), [], 'no command or key was denied to the worker');
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await withTimeout(exitOf(child), 20_000, 'worker exit after SIGTERM'), 0);
    assert.deepEqual(await admin.acl('LOG'), [], 'nothing denied at shutdown either (QUIT)');
    assert.doesNotMatch(output(), new RegExp(PASSWORD), 'the password never appears in the output');
    assert.match(output(), /"topology":"standalone"/);
  });

  it('without +unlink it exits 1 with a message naming the command, committing nothing', async () => {
    const topic = `${uniqueName('shop')}.inventory.customers`;
    const group = uniqueName('g');
    await admin.set('cache:customer:500', 'cached');
    await produce(kafka, topic, [{ key: { id: 500 }, value: customer(500, 'eu') }]);
    const { child, output } = cli(topic, group, 'inval-no-unlink');
    let code: number | null;
    try {
      code = await withTimeout(exitOf(child), 60_000, 'the worker stopping on NOPERM');
    } finally {
      await stopProcess(child, 'SIGKILL');
    }
    assert.equal(code, 1, output().slice(-2000));
    assert.match(output(), /NOPERM[^"]*'unlink' command/, 'the error names the missing permission');
    assert.equal(await admin.get('cache:customer:500'), 'cached');
    assert.equal(totalCommitted(await committedOffsets(kafka, group, topic)), 0n);
  });

  it('with a wrong password it exits 1 naming WRONGPASS instead of retrying forever', async () => {
    const topic = `${uniqueName('shop')}.inventory.customers`;
    const { child, output } = spawnWrongPassword(topic);
    let code: number | null;
    try {
      code = await withTimeout(exitOf(child), 30_000, 'the worker stopping on WRONGPASS');
    } finally {
      await stopProcess(child, 'SIGKILL');
    }
    assert.equal(code, 1, output().slice(-2000));
    assert.match(output(), /WRONGPASS/);
    assert.doesNotMatch(output(), /not-the-password/);
  });
});

function spawnWrongPassword(topic: string): { child: ChildProcess; output: () => string } {
  const child = spawnCli(['run', '--brokers', broker.brokers.join(','), '--topics', topic, '--mappings', mappings, '--redis-timeout', '2s'], {
    CDC_INVALIDATOR_REDIS: server.url,
    CDC_INVALIDATOR_REDIS_USERNAME: 'cdc-invalidator',
    CDC_INVALIDATOR_REDIS_PASSWORD: 'not-the-password',
    CDC_INVALIDATOR_REDIS_TLS_CA: certs.ca,
    CDC_INVALIDATOR_REDIS_TLS_CERT: certs.clientCert,
    CDC_INVALIDATOR_REDIS_TLS_KEY: certs.clientKey,
  });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString('utf8')));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString('utf8')));
  return { child, output: () => out };
}
