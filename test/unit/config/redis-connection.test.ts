import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError } from '../../../src/config/errors.js';
import { describeRedisConnection, resolveRedisConnection } from '../../../src/config/redis-connection.js';
import { describeConfig, resolveRunConfig } from '../../../src/config/run-config.js';
import { hashSlot } from '../../../src/pipeline/sink/hash-slot.js';

describe('Redis connection settings', () => {
  it('one URL: host, port, database, user and password from the URL', () => {
    const c = resolveRedisConnection('redis://app:p%40ss@cache.internal:6380/3', {}, {});
    assert.deepEqual(c.topology, { kind: 'standalone', endpoint: { host: 'cache.internal', port: 6380 }, db: 3 });
    assert.equal(c.username, 'app');
    assert.equal(c.password, 'p@ss');
    assert.equal(c.tls, undefined);
    assert.equal(resolveRedisConnection('rediss://h', {}, {}).tls !== undefined, true, 'rediss:// turns TLS on');
  });

  it('credentials from env or files, never both with the URL', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cdci-redis-conn-'));
    await writeFile(join(dir, 'pw'), 's3cret\n');
    const c = resolveRedisConnection('redis://h:1', {}, { CDC_INVALIDATOR_REDIS_USERNAME: 'inval', CDC_INVALIDATOR_REDIS_PASSWORD_FILE: join(dir, 'pw') });
    assert.equal(c.username, 'inval');
    assert.equal(c.password, 's3cret');
    assert.throws(() => resolveRedisConnection('redis://:x@h:1', {}, { CDC_INVALIDATOR_REDIS_PASSWORD: 'y' }), /CDC_INVALIDATOR_REDIS_PASSWORD/);
    assert.throws(() => resolveRedisConnection('redis://h:1', {}, { CDC_INVALIDATOR_REDIS_PASSWORD: 'y', CDC_INVALIDATOR_REDIS_PASSWORD_FILE: join(dir, 'pw') }), ConfigError);
  });

  it('TLS files from flags or env; cert and key go together; unreadable files name the variable', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cdci-redis-tls-'));
    for (const f of ['ca.pem', 'cert.pem', 'key.pem']) await writeFile(join(dir, f), `---${f}---`);
    const c = resolveRedisConnection('redis://h:1', { redisTlsCa: join(dir, 'ca.pem') }, { CDC_INVALIDATOR_REDIS_TLS_CERT: join(dir, 'cert.pem'), CDC_INVALIDATOR_REDIS_TLS_KEY: join(dir, 'key.pem') });
    assert.equal(c.tls?.ca?.toString(), '---ca.pem---');
    assert.equal(c.tls?.cert?.toString(), '---cert.pem---');
    assert.equal(c.tls?.key?.toString(), '---key.pem---');
    assert.throws(() => resolveRedisConnection('redis://h:1', { redisTlsCert: join(dir, 'cert.pem') }, {}), /go together/);
    assert.throws(() => resolveRedisConnection('redis://h:1', { redisTlsCa: join(dir, 'missing.pem') }, {}), /CDC_INVALIDATOR_REDIS_TLS_CA: cannot read .*missing\.pem: ENOENT/);
  });

  it('Cluster: a list of seed URLs, one scheme, database 0 only', () => {
    const c = resolveRedisConnection('redis://a:7000, redis://b:7001', {}, { CDC_INVALIDATOR_REDIS_CLUSTER: 'true' });
    assert.deepEqual(c.topology, { kind: 'cluster', seeds: [{ host: 'a', port: 7000 }, { host: 'b', port: 7001 }] });
    assert.throws(() => resolveRedisConnection('redis://a:7000,redis://b:7001', {}, {}), /needs --redis-cluster/);
    assert.throws(() => resolveRedisConnection('redis://a:7000,rediss://b:7001', { redisCluster: true }, {}), /one scheme/);
    assert.throws(() => resolveRedisConnection('redis://a:7000/2', { redisCluster: true }, {}), /database 0/);
    assert.throws(() => resolveRedisConnection('redis://a:7000,http://b:1', { redisCluster: true }, {}), /--redis \(entry 2\): expected a redis:\/\//);
    assert.throws(() => resolveRedisConnection('redis://a', {}, { CDC_INVALIDATOR_REDIS_CLUSTER: 'maybe' }), /CDC_INVALIDATOR_REDIS_CLUSTER: expected true or false/);
  });

  it('Sentinel: sentinels and master name together, sentinel password from env', () => {
    const c = resolveRedisConnection('redis://ignored/1', { redisSentinels: '10.0.0.1:26379,[::1]:26380' }, { CDC_INVALIDATOR_REDIS_SENTINEL_MASTER: 'cache', CDC_INVALIDATOR_REDIS_SENTINEL_PASSWORD: 'sp' });
    assert.deepEqual(c.topology, {
      kind: 'sentinel',
      sentinels: [{ host: '10.0.0.1', port: 26379 }, { host: '::1', port: 26380 }],
      masterName: 'cache',
      db: 1,
      sentinelUsername: undefined,
      sentinelPassword: 'sp',
    });
    assert.throws(() => resolveRedisConnection('redis://h', { redisSentinels: 'a:1' }, {}), /needs --redis-sentinel-master/);
    assert.throws(() => resolveRedisConnection('redis://h', { redisSentinelMaster: 'm' }, {}), /needs --redis-sentinels/);
    assert.throws(() => resolveRedisConnection('redis://h', { redisSentinels: 'a', redisSentinelMaster: 'm' }, {}), /--redis-sentinels: expected host:port, got "a"/);
    assert.throws(() => resolveRedisConnection('redis://h', { redisSentinels: 'a:1', redisSentinelMaster: 'm', redisCluster: true }, {}), /exclude each other/);
  });

  it('the run config carries it, and describeConfig shows no password, sentinel password or key bytes', () => {
    const env = { CDC_INVALIDATOR_REDIS_PASSWORD: 'pw-in-env', CDC_INVALIDATOR_REDIS_SENTINELS: 's:26379', CDC_INVALIDATOR_REDIS_SENTINEL_MASTER: 'cache', CDC_INVALIDATOR_REDIS_SENTINEL_PASSWORD: 'sentinel-pw' };
    const c = resolveRunConfig({ topicPrefix: 'p', redis: 'redis://u:url-pw@h:1' }, { ...env, CDC_INVALIDATOR_REDIS_PASSWORD: '' });
    assert.equal(c.redis.password, 'url-pw');
    const text = JSON.stringify(describeConfig(c));
    assert.doesNotMatch(text, /url-pw|sentinel-pw/);
    assert.match(text, /"topology":"sentinel"/);
    const d = describeRedisConnection(resolveRedisConnection('redis://h', {}, env));
    assert.equal(d['password'], '***');
    assert.doesNotMatch(JSON.stringify(d), /pw-in-env|sentinel-pw/);
  });

  it('hash slots: the CRC16 reference value and hash tags', () => {
    assert.equal(hashSlot('123456789'), 0x31c3 & 0x3fff);
    assert.equal(hashSlot('{user1000}.following'), hashSlot('{user1000}.followers'));
    assert.notEqual(hashSlot('foo{}{bar}'), hashSlot('bar'));
    assert.equal(hashSlot('foo{{bar}}zap'), hashSlot('{bar'));
  });
});
