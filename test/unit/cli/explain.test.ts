import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { explainFiles, type ExplainLine } from '../../../src/cli/explain.js';
import { MappingSet } from '../../../src/mapping/mapping-set.js';
import { parseMappingFile } from '../../../src/mapping/parse.js';
import { fixturePath } from '../../support/paths.js';

const MAPPINGS = `mappings:
  - name: customers
    table: inventory.customers
    keys:
      - "customer:{id}"
      - "customer:email:{email|lower}"
      - "customers:count"
  - name: orders
    table: inventory.orders
    keys:
      - "order:{id}"
      - "customer:{customer_id}:orders"
`;
const set = new MappingSet(parseMappingFile('m.yaml', MAPPINGS).mappings);

async function explain(name: string): Promise<ExplainLine> {
  const [line] = await explainFiles([fixturePath('debezium', name)], set);
  return line!;
}

const sorted = (v: unknown) => [...(v as string[])].sort();

describe('explain over Debezium fixtures (decode → map, no Kafka or Redis)', () => {
  for (const variant of ['no-schema', 'with-schema']) {
    it(`create, update, delete, snapshot read (${variant})`, async () => {
      const c = await explain(`create-${variant}.json`);
      assert.equal(c.result, 'event');
      assert.equal(c['op'], 'c');
      assert.deepEqual(c['mappings'], ['customers']);
      assert.ok((c['keys'] as string[]).includes('customer:1005'));
      const u = await explain(`update-full-${variant}.json`);
      assert.equal((u['keys'] as string[]).filter((k) => k.startsWith('customer:email:')).length, 2, 'old and new email key');
      const d = await explain(`delete-full-${variant}.json`);
      assert.equal(d['op'], 'd');
      assert.equal((d['keys'] as string[]).length, 3);
      const r = await explain(`read-snapshot-${variant}.json`);
      assert.equal(r['op'], 'r');
    });

    it(`REPLICA IDENTITY DEFAULT delete renders no key from placeholder columns (${variant})`, async () => {
      const d = await explain(`delete-default-${variant}.json`);
      assert.deepEqual(sorted(d['keys']), ['customer:1003', 'customers:count']);
      assert.deepEqual((d['skipped'] as { reason: string }[]).map((s) => s.reason), ['key_only_image']);
    });
  }

  it('update under REPLICA IDENTITY DEFAULT reports the old keys it cannot know', async () => {
    const u = await explain('update-default-no-schema.json');
    assert.deepEqual((u['skipped'] as { reason: string; template: string }[]).map((s) => [s.template, s.reason]), [['customer:email:{email|lower}', 'no_before_image']]);
  });

  it('TOAST placeholder gives no key for that template', async () => {
    const u = await explain('update-toast-no-schema.json');
    assert.ok(!(u['keys'] as string[]).some((k) => k.includes('__debezium_unavailable_value')));
    assert.ok((u['skipped'] as { reason: string }[]).some((s) => s.reason === 'toast'));
  });

  it('primary-key update: the delete takes the old key, the create the new one', async () => {
    assert.ok(((await explain('pk-update-delete-no-schema.json'))['keys'] as string[]).includes('customer:1004'));
    assert.ok(((await explain('pk-update-create-no-schema.json'))['keys'] as string[]).includes('customer:1040'));
  });

  it('truncate invalidates only templates without columns', async () => {
    const t = await explain('truncate-with-schema.json');
    assert.deepEqual(t['keys'], ['customers:count']);
  });

  it('keeps int64 ids beyond 2^53 exact, with and without schema', async () => {
    for (const v of ['no-schema', 'with-schema']) {
      const o = await explain(`orders-create-${v}.json`);
      assert.deepEqual(sorted(o['keys']), ['customer:1006:orders', 'order:9007199254740993']);
    }
  });

  it('skips tombstones, heartbeats, transaction metadata and logical messages', async () => {
    assert.deepEqual(await explain('tombstone.json'), { file: fixturePath('debezium', 'tombstone.json'), result: 'skip', reason: 'tombstone' });
    assert.equal((await explain('heartbeat-with-schema.json'))['reason'], 'heartbeat');
    assert.equal((await explain('transaction-begin-with-schema.json'))['reason'], 'transaction');
    assert.equal((await explain('transaction-end-with-schema.json'))['reason'], 'transaction');
    assert.equal((await explain('logical-message-no-schema.json'))['reason'], 'message');
    assert.equal((await explain('create-in-transaction-no-schema.json'))['result'], 'event');
  });

  it('reports an undecodable file as an error line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cdci-explain-'));
    await writeFile(join(dir, 'bad.json'), '{"op":"c","after":');
    const [line] = await explainFiles([join(dir, 'bad.json')], set);
    assert.equal(line!.result, 'error');
    assert.equal(line!['code'], 'invalid_json');
  });
});
