import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { parseMappingFile } from '../../../src/mapping/parse.js';
import { MappingSet } from '../../../src/mapping/mapping-set.js';
import { ReplicaIdentityMemory } from '../../../src/mapping/replica-identity.js';
import { decodeDebeziumJson } from '../../../src/pipeline/decode/debezium-json.js';
import { Worker } from '../../../src/pipeline/worker.js';
import { Stats } from '../../../src/telemetry/stats.js';
import { FakeBatch, FakeSink, FakeSource, memoryLogger, record } from '../../support/fakes.js';

const TOPIC = 'shop.inventory.accounts';
const source = { schema: 'inventory', table: 'accounts' };
const mapping = (extra = '') => new MappingSet(parseMappingFile('m.yaml', `mappings:\n  - name: accounts\n    table: inventory.accounts\n    keys: ["account:{id}", "account:email:{email}", "account:active:{active}"]\n${extra}`).mappings);

/** What Debezium writes for a delete of accounts (id BIGINT PK, email TEXT NOT NULL, active BOOLEAN NOT NULL) under DEFAULT, and under FULL for a row ('', false). */
const del = (id: number) => ({ before: { id, email: '', active: false }, after: null, source, op: 'd' });
const update = (id: number, before: unknown) => ({ before, after: { id, email: `${id}@x`, active: true }, source, op: 'u' });

async function flush(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

async function run(mappings: MappingSet, values: unknown[]) {
  const src = new FakeSource();
  const sink = new FakeSink();
  const { logger, lines } = memoryLogger();
  const stats = new Stats();
  const worker = new Worker(
    { secondDeleteDelayMs: 0, commitIntervalMs: 10, maxPendingSecondDeletes: 1_000, backoff: { initialMs: 10, maxMs: 10, jitter: 0 }, onError: 'skip', maxRecordBytes: 1_000_000, progressIntervalMs: 0 },
    { source: src, sink, mappings, decode: decodeDebeziumJson, logger, stats },
  );
  const starting = worker.start();
  await flush();
  await starting;
  src.assign(TOPIC, [0]);
  // One batch per record, in stream order.
  for (const [i, v] of values.entries()) await src.deliver(new FakeBatch(TOPIC, 0, [record(TOPIC, 0, i, v, { id: (v as { after?: { id: number }; before: { id: number } }).after?.id ?? (v as { before: { id: number } }).before.id })]));
  const stopping = worker.stop(1_000);
  mock.timers.tick(1_000);
  await flush();
  await stopping;
  return { sink, lines, stats };
}

describe('a delete image that may be key-only: the table identity decides (worker, real decoder)', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] }));
  afterEach(() => mock.timers.reset());

  it('REPLICA IDENTITY FULL, a row whose non-key columns are "" and false: every key goes, as the stream showed FULL', async () => {
    const { sink } = await run(mapping(), [update(1, { id: 1, email: 'old@x', active: false }), del(1)]);
    assert.deepEqual(sink.unlinked().slice(-3), ['account:1', 'account:email:', 'account:active:false']);
  });

  it('identity unknown: the image is read as the full row (a key nobody wrote may go), counted and warned about once', async () => {
    const { sink, lines, stats } = await run(mapping(), [del(1), del(2)]);
    assert.deepEqual(sink.unlinked(), ['account:1', 'account:email:', 'account:active:false', 'account:2', 'account:email:', 'account:active:false']);
    assert.equal(stats.get('ambiguous_before_images', { table: 'inventory.accounts' }), 2);
    const warned = lines.filter((l) => /may hold only the key/.test(String(l['msg'])));
    assert.equal(warned.length, 1, 'rate-limited');
    assert.equal(warned[0]!['table'], 'inventory.accounts');
    assert.equal(warned[0]!['mapping'], 'accounts');
  });

  it('REPLICA IDENTITY DEFAULT learned from an earlier update (no before image): the delete is key-only, no placeholder key', async () => {
    const { sink, stats } = await run(mapping(), [update(1, null), del(2)]);
    assert.deepEqual(sink.unlinked(), ['account:1', 'account:email:1@x', 'account:active:true', 'account:2']);
    assert.equal(stats.get('templates_skipped', { mapping: 'accounts', reason: 'key_only_image' }), 2);
    assert.equal(stats.get('ambiguous_before_images'), 0);
  });

  it('REPLICA IDENTITY DEFAULT declared (replica_identity: default) before any update: key-only', async () => {
    const { sink } = await run(mapping('    replica_identity: default\n'), [del(2)]);
    assert.deepEqual(sink.unlinked(), ['account:2']);
  });

  it('the stream wins over a stale declaration, and the contradiction is warned about', async () => {
    const { sink, lines } = await run(mapping('    replica_identity: default\n'), [update(1, { id: 1, email: 'old@x', active: true }), del(1)]);
    assert.deepEqual(sink.unlinked().slice(-3), ['account:1', 'account:email:', 'account:active:false']);
    assert.ok(lines.some((l) => /declares replica_identity default, but an update of inventory\.accounts carries a before image: the table's identity is FULL/.test(String(l['msg']))));
  });
});

describe('ReplicaIdentityMemory', () => {
  it('remembers the latest identity of each table, bounded', () => {
    const memory = new ReplicaIdentityMemory(2);
    const ev = (table: string, identityHint?: 'full' | 'default') => ({ op: 'u' as const, table, before: null, after: {}, keyColumns: ['id'], beforeLooksKeyOnly: false, beforeSchemaKnown: false, ...(identityHint ? { identityHint } : {}) });
    assert.equal(memory.apply(ev('a', 'default')).learnedIdentity, undefined, 'an event carries what was known before it');
    assert.equal(memory.apply(ev('a')).learnedIdentity, 'default');
    memory.apply(ev('a', 'full'));
    assert.equal(memory.identityOf('a'), 'full');
    memory.apply(ev('b', 'full'));
    memory.apply(ev('c', 'full'));
    assert.equal(memory.identityOf('a'), undefined, 'the oldest table forgotten past the bound');
    assert.equal(memory.identityOf('c'), 'full');
  });
});
