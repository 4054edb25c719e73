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
    const env = { CDC_INVALIDATOR_BROKERS: 'a:1,b:2', CDC_INVALIDATOR_GROUP: 'g-env', CDC_INVALIDATOR_REDIS: 'redis://r:1', CDC_INVALIDATOR_SECOND_DELETE_DELAY: '2s', CDC_INVALIDATOR_TOPICS: 't1' };
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
    const e = resolveRunConfig({ topicPrefix: 'shop' }, { CDC_INVALIDATOR_REDIS_WAIT_REPLICAS: '2', CDC_INVALIDATOR_FETCH_MAX_WAIT: '2s' });
    assert.equal(e.redisWaitReplicas, 2);
    assert.equal(e.fetchMaxWaitMs, 2000);
    assert.equal(resolveRunConfig({ topicPrefix: 'shop', redisWaitReplicas: '1' }, { CDC_INVALIDATOR_REDIS_WAIT_REPLICAS: '2' }).redisWaitReplicas, 1);
    assert.throws(() => resolveRunConfig({ topicPrefix: 'shop', redisWaitReplicas: '-1' }, {}), (err: unknown) => err instanceof ConfigError && /--redis-wait-replicas/.test(err.message));
    assert.throws(() => resolveRunConfig({ topicPrefix: 'shop', fetchMaxWait: 'soon' }, {}), ConfigError);
  });
});

describe('settings are checked at start, the same way everywhere', () => {
  const base = { topicPrefix: 'shop' };
  const refuses = (flags: Record<string, unknown>, env: Record<string, string>, re: RegExp) =>
    assert.throws(() => resolveRunConfig({ ...base, ...flags }, env), (e: unknown) => e instanceof ConfigError && re.test(e.message), `${JSON.stringify({ flags, env })} → ${re}`);

  it('broker lists, topic names and numeric ranges, naming the flag or variable at fault', () => {
    refuses({ brokers: 'host:99999' }, {}, /^--brokers: "host:99999" is not host:port/);
    refuses({}, { CDC_INVALIDATOR_BROKERS: 'a:1,b' }, /^CDC_INVALIDATOR_BROKERS: "b" is not host:port/);
    refuses({}, { KAFKA_BROKERS: 'nohost' }, /^KAFKA_BROKERS: "nohost"/);
    refuses({ dlqTopic: 'bad topic!' }, {}, /^--dlq-topic: "bad topic!" is not a Kafka topic name/);
    refuses({ topicPrefix: undefined, topics: 'ok,no way' }, {}, /^--topics: "no way" is not a Kafka topic name/);
    refuses({ concurrency: '99999999999' }, {}, /^--concurrency: 99999999999 is out of range \(1–1000\)/);
    refuses({ concurrency: '1e3' }, {}, /^--concurrency: expected a whole number/);
    refuses({ group: '' }, {}, /consumer group id must not be empty/);
    refuses({}, { LOG_LEVEL: 'loud' }, /^LOG_LEVEL: expected one of/);
    refuses({ logLevel: 'loud' }, {}, /^--log-level: expected one of/);
  });

  it('every duration has a range: overflowing timers and nonsense are refused', () => {
    refuses({ secondDeleteDelay: '3000000000' }, {}, /^--second-delete-delay: 3000000000 is out of range \(0ms–10m\)/);
    refuses({ shutdownGrace: '999999h' }, {}, /^--shutdown-grace: 999999h is out of range \(0ms–1h\)/);
    refuses({ secondDeleteDelay: '1e9' }, {}, /^--second-delete-delay: expected milliseconds/);
    refuses({ sessionTimeout: '1ms' }, {}, /^--session-timeout: 1ms is out of range/);
    refuses({ sessionTimeout: '2s' }, {}, /^--heartbeat-interval 3s \(the default\) must be shorter than --session-timeout 2s/);
    refuses({ commitInterval: '2m' }, {}, /^--commit-interval: 2m is out of range \(0ms–1m\)/);
    assert.equal(resolveRunConfig({ ...base, secondDeleteDelay: '10m', shutdownGrace: '1h' }, {}).secondDeleteDelayMs, 600_000);
  });

  it('a mapping file reads second_delete_delay like the flag: 1e9 and huge numbers are refused', async () => {
    const { parseMappingFile } = await import('../../../src/mapping/parse.js');
    const problems = (delay: string) => parseMappingFile("m.yaml", `mappings:\n  - name: a\n    table: s.t\n    ops: [c, u, d]\n    keys: ["k:{id}"]\n    second_delete_delay: ${delay}\n`).problems.map((p) => p.message);
    assert.deepEqual(problems('1500'), []);
    assert.deepEqual(problems('2s'), []);
    assert.match(problems('1e9')[0] ?? '', /second_delete_delay: expected milliseconds/);
    assert.match(problems('9999999999999999999999')[0] ?? '', /second_delete_delay: .*out of range \(0ms–10m\)/);
  });
});
