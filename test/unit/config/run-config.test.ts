import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../../src/config/errors.js';
import { describeConfig, resolveRunConfig } from '../../../src/config/run-config.js';
import { parseDuration } from '../../../src/util/duration.js';

describe('run configuration', () => {
  it('uses defaults, then env, and flags win over env', () => {
    const c = resolveRunConfig({ topicPrefix: 'shop' }, {});
    assert.deepEqual(c.brokers, ['localhost:9092']);
    assert.equal(c.group, 'cdc-invalidator');
    assert.equal(c.redisUrl, 'redis://localhost:6379');
    assert.equal(c.mappingsDir, './mappings');
    assert.equal(c.secondDeleteDelayMs, 1000);
    assert.equal(c.fromBeginning, false);
    const env = { KAFKA_BROKERS: 'a:1,b:2', KAFKA_GROUP_ID: 'g-env', REDIS_URL: 'redis://r:1', SECOND_DELETE_DELAY: '2s', KAFKA_TOPICS: 't1' };
    const e = resolveRunConfig({}, env);
    assert.deepEqual(e.brokers, ['a:1', 'b:2']);
    assert.equal(e.group, 'g-env');
    assert.equal(e.secondDeleteDelayMs, 2000);
    assert.deepEqual(e.topics, { kind: 'list', topics: ['t1'] });
    const f = resolveRunConfig({ group: 'g-flag', secondDeleteDelay: '0', topics: '/^shop\\..*/' }, env);
    assert.equal(f.group, 'g-flag');
    assert.equal(f.secondDeleteDelayMs, 0);
    assert.equal(f.topics.kind, 'regex');
    assert.ok(Object.isFrozen(f));
  });

  it('rejects bad values with ConfigError', () => {
    assert.throws(() => resolveRunConfig({}, {}), ConfigError);
    assert.throws(() => resolveRunConfig({ topics: 'a', topicPrefix: 'p' }, {}), ConfigError);
    assert.throws(() => resolveRunConfig({ topicPrefix: 'p', secondDeleteDelay: 'soon' }, {}), ConfigError);
    assert.throws(() => resolveRunConfig({ topicPrefix: 'p', redis: 'http://x' }, {}), ConfigError);
    assert.throws(() => resolveRunConfig({ topicPrefix: 'p', concurrency: '0' }, {}), ConfigError);
  });

  it('never shows the Redis password', () => {
    const c = resolveRunConfig({ topicPrefix: 'p', redis: 'redis://user:s3cret@h:6379/0' }, {});
    assert.doesNotMatch(JSON.stringify(describeConfig(c)), /s3cret/);
  });

  it('parses durations', () => {
    assert.equal(parseDuration('1500ms'), 1500);
    assert.equal(parseDuration('2s'), 2000);
    assert.equal(parseDuration('250'), 250);
    assert.equal(parseDuration('1.5s'), 1500);
    assert.throws(() => parseDuration('-1'));
    assert.throws(() => parseDuration('2 days'));
  });
});

describe('--redis-wait-replicas and --fetch-max-wait', () => {
  it('default to 0 (no WAIT) and 500 ms; take flags and env; refuse nonsense', () => {
    const d = resolveRunConfig({ topicPrefix: 'shop' }, {});
    assert.equal(d.redisWaitReplicas, 0);
    assert.equal(d.fetchMaxWaitMs, 500);
    const e = resolveRunConfig({ topicPrefix: 'shop' }, { REDIS_WAIT_REPLICAS: '2', KAFKA_FETCH_MAX_WAIT: '2s' });
    assert.equal(e.redisWaitReplicas, 2);
    assert.equal(e.fetchMaxWaitMs, 2000);
    assert.equal(resolveRunConfig({ topicPrefix: 'shop', redisWaitReplicas: '1' }, { REDIS_WAIT_REPLICAS: '2' }).redisWaitReplicas, 1);
    assert.throws(() => resolveRunConfig({ topicPrefix: 'shop', redisWaitReplicas: '-1' }, {}), (err: unknown) => err instanceof ConfigError && /--redis-wait-replicas/.test(err.message));
    assert.throws(() => resolveRunConfig({ topicPrefix: 'shop', fetchMaxWait: 'soon' }, {}), ConfigError);
  });
});
