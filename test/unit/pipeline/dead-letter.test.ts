import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import kafkajs, { type Kafka } from 'kafkajs';
import { chunkBySize, DLQ_HEADERS, deadLetterMessage, KafkaDeadLetter } from '../../../src/pipeline/poison/dead-letter.js';
import { classifyProduceError } from '../../../src/pipeline/poison/produce-errors.js';
import { createKafka } from '../../../src/pipeline/source/kafka-client.js';
import { headerMap } from '../../../src/pipeline/source/kafkajs-batch.js';
import { memoryLogger } from '../../support/fakes.js';

const { KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } = kafkajs;

/** A broker error as kafkajs builds it from an error code. */
const protocolError = (type: string, retriable: boolean) => new KafkaJSProtocolError({ type, code: 1, retriable, message: `${type} (broker)` } as unknown as Error);

describe('dead-letter produce errors', () => {
  it('non-retriable broker answers are fatal, also wrapped in kafkajs retry errors; connection trouble is retriable', () => {
    for (const type of ['TOPIC_AUTHORIZATION_FAILED', 'MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']) {
      const c = classifyProduceError(protocolError(type, false));
      assert.equal(c.fatal, true, type);
      assert.equal(c.type, type);
      assert.ok(c.hint && c.hint.length > 10);
    }
    // kafkajs retries UNKNOWN_TOPIC_OR_PARTITION itself, then gives up with a wrapper marked non-retriable
    const unknown = new KafkaJSNumberOfRetriesExceeded(protocolError('UNKNOWN_TOPIC_OR_PARTITION', true), { retryCount: 3, retryTime: 100 });
    assert.deepEqual({ fatal: classifyProduceError(unknown).fatal, type: classifyProduceError(unknown).type }, { fatal: true, type: 'UNKNOWN_TOPIC_OR_PARTITION' });
    const down = new KafkaJSNumberOfRetriesExceeded(new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092'), { retryCount: 3, retryTime: 100 });
    assert.equal(classifyProduceError(down).fatal, false, 'a broker that is down is retried');
    assert.equal(classifyProduceError(protocolError('NOT_ENOUGH_REPLICAS', true)).fatal, false);
    assert.equal(classifyProduceError(protocolError('REQUEST_TIMED_OUT', true)).fatal, false);
    assert.equal(classifyProduceError(new Error('socket hang up')).fatal, false);
  });
});

describe('dead-letter messages', () => {
  const binary = Buffer.from([0x00, 0xff, 0xfe, 0x80]);

  it('keep every header value as bytes (all values of a repeated header) and the original timestamp', () => {
    // headerMap is what the source makes of kafkajs' headers: a repeated header arrives as an array.
    const headers = headerMap({ bin: binary, 'x-repeated': [Buffer.from('one'), Buffer.from([0xc3, 0x28])], text: Buffer.from('plain') });
    const m = deadLetterMessage({
      record: { topic: 't', partition: 2, offset: '41', key: Buffer.from('k'), value: Buffer.from('v'), headers, timestamp: '1700000000123' },
      why: { code: 'invalid_json', message: 'bad' },
    });
    assert.deepEqual(m.headers!['bin'], binary, 'a binary header was decoded');
    assert.deepEqual(m.headers!['x-repeated'], [Buffer.from('one'), Buffer.from([0xc3, 0x28])], 'only the first value of a repeated header was kept');
    assert.deepEqual(m.headers!['text'], Buffer.from('plain'));
    assert.equal(m.timestamp, '1700000000123');
    assert.equal(m.headers![DLQ_HEADERS.offset], '41');
    assert.equal(m.headers![DLQ_HEADERS.code], 'invalid_json');
  });

  it('are sent in as few produces as max.message.bytes of the topic allows', () => {
    const msg = (n: number) => ({ key: null, value: Buffer.alloc(n) });
    assert.equal(chunkBySize([msg(100), msg(100), msg(100)], 1_048_588).length, 1, 'a small batch is one produce');
    const chunks = chunkBySize([msg(400_000), msg(400_000), msg(400_000)], 1_000_000);
    assert.deepEqual(chunks.map((c) => c.length), [2, 1]);
    assert.deepEqual(chunkBySize([msg(2_000_000)], 1_000_000).map((c) => c.length), [1], 'an oversized record goes alone (and the broker refuses it)');
  });

  it('the producer sets its partitioner: no kafkajs partitioner notice', () => {
    const { logger, lines } = memoryLogger('debug');
    const kafka = createKafka({ brokers: ['127.0.0.1:1'], clientId: 't' }, logger);
    new KafkaDeadLetter(kafka, { topic: 'x.dlq' }, logger);
    assert.deepEqual(lines.filter((l) => /partitioner/i.test(String(l['msg']))), []);
    // The check can fail: a producer without a partitioner makes kafkajs print the notice (once per process).
    kafka.producer();
    assert.equal(lines.filter((l) => /partitioner/i.test(String(l['msg']))).length, 1);
  });

  it('a created topic whose metadata lags (UNKNOWN_TOPIC_OR_PARTITION for a moment, as on KRaft) is waited for, not a start-up error', async () => {
    const { logger } = memoryLogger('debug');
    const unknown = () => new kafkajs.KafkaJSProtocolError({ message: 'This server does not host this topic-partition', type: 'UNKNOWN_TOPIC_OR_PARTITION', code: 3, retriable: true } as unknown as Error);
    let created = false;
    let lagging = 3; // metadata requests after the creation that do not know the topic yet
    const calls: string[] = [];
    const admin = {
      connect: () => Promise.resolve(),
      disconnect: () => Promise.resolve(),
      fetchTopicMetadata: () => {
        calls.push('metadata');
        if (!created || lagging-- > 0) return Promise.reject(unknown());
        return Promise.resolve({ topics: [{ name: 'x.dlq', partitions: [{ partitionId: 0, leader: 1, replicas: [1], isr: [1], partitionErrorCode: 0 }] }] });
      },
      // As kafkajs: with waitForLeaders it reads the metadata once more and retries only LEADER_NOT_AVAILABLE.
      async createTopics(o: { waitForLeaders?: boolean }) {
        calls.push('create');
        created = true;
        if (o.waitForLeaders) await admin.fetchTopicMetadata();
        return true;
      },
      describeConfigs: () => Promise.resolve({ resources: [{ configEntries: [{ configName: 'max.message.bytes', configValue: '2000000' }] }] }),
    };
    const kafka = { admin: () => admin, producer: () => ({}) } as unknown as Kafka;
    const dlq = new KafkaDeadLetter(kafka, { topic: 'x.dlq', create: { partitions: 1, replicationFactor: 1 } }, logger);
    await dlq.prepare();
    assert.deepEqual(calls, ['metadata', 'create', 'metadata', 'metadata', 'metadata', 'metadata']);
  });
});
