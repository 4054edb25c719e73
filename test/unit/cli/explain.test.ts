import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { explainFiles, explainText, type ExplainLine } from '../../../src/cli/explain.js';
import type { MappingExplanation } from '../../../src/mapping/explain-plan.js';
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
  - name: customer-names
    table: inventory.customers
    tags: ["customers:last-name:{last_name|lower}"]
    when:
      changed: [first_name, last_name]
    on_truncate:
      versions: ["ns:customers"]
  - name: customer-snapshots
    table: inventory.customers
    keys: ["snapshot:customer:{id}"]
    ops: [r]
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
      assert.deepEqual(c['mappings'], ['customers', 'customer-names', 'customer-snapshots']);
      assert.ok((c['keys'] as string[]).includes('customer:1005'));
      const u = await explain(`update-full-${variant}.json`);
      assert.equal((u['keys'] as string[]).filter((k) => k.startsWith('customer:email:')).length, 2, 'old and new email key');
      const d = await explain(`delete-full-${variant}.json`);
      assert.equal(d['op'], 'd');
      assert.equal((d['keys'] as string[]).length, 3);
      const r = await explain(`read-snapshot-${variant}.json`);
      assert.equal(r['op'], 'r');
    });

    it(`a delete image of empty values, identity unknown: read as the full row, and says it was ambiguous (${variant})`, async () => {
      const d = await explain(`delete-default-${variant}.json`);
      assert.deepEqual(sorted(d['keys']), ['customer:1003', 'customer:email:', 'customers:count']);
      assert.deepEqual(d['tags'], ['customers:last-name:']);
      assert.deepEqual(d['skipped'], []);
      const m = byName(d, 'customers');
      assert.equal(m.beforeImage?.read, 'full');
      assert.match(m.beforeImage?.because ?? '', /nothing tells the table's identity: read as the full old row \(declare replica_identity/);
    });

    it(`REPLICA IDENTITY DEFAULT declared (replica_identity: default): the delete renders no key from placeholder columns (${variant})`, async () => {
      const declared = new MappingSet(parseMappingFile('m.yaml', MAPPINGS.replaceAll('    table: inventory.customers\n', '    table: inventory.customers\n    replica_identity: default\n')).mappings);
      const [d] = await explainFiles([fixturePath('debezium', `delete-default-${variant}.json`)], declared);
      assert.deepEqual(sorted(d!['keys']), ['customer:1003', 'customers:count']);
      assert.deepEqual((d!['skipped'] as { reason: string }[]).map((s) => s.reason), ['key_only_image', 'key_only_image']);
      assert.equal(byName(d!, 'customers').beforeImage?.read, 'key-only');
    });
  }

  it('update under REPLICA IDENTITY DEFAULT reports the old keys it cannot know', async () => {
    const u = await explain('update-default-no-schema.json');
    assert.deepEqual((u['skipped'] as { reason: string; template: string }[]).map((s) => [s.template, s.reason]), [
      ['customer:email:{email|lower}', 'no_before_image'],
      ['customers:last-name:{last_name|lower}', 'no_before_image'], // when.changed cannot tell without before: fires
    ]);
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
    assert.deepEqual(t['versions'], ['ns:customers']);
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

  it('a record file whose JSON names a key twice says so, with its line, instead of "value has no op field"', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'explain-dup-'));
    await writeFile(join(dir, 'dup.json'), '{"topic": "shop.inventory.customers",\n "key": {"id": 1},\n "value": {"op": "c", "after": {"id": 1, "email": "a@x"}, "source": {"schema": "inventory", "table": "customers"},\n   "op": "u"}}\n');
    const [line] = await explainFiles([join(dir, 'dup.json')], set);
    assert.equal(line!.result, 'error');
    assert.equal(line!['code'], 'duplicate_key');
    assert.match(String(line!['error']), /^line 4, column 4: duplicate key "op"/);
    assert.doesNotMatch(String(line!['error']), /has no "op" field/);
  });

  it('reports an undecodable file as an error line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cdci-explain-'));
    await writeFile(join(dir, 'bad.json'), '{"op":"c","after":');
    const [line] = await explainFiles([join(dir, 'bad.json')], set);
    assert.equal(line!.result, 'error');
    assert.equal(line!['code'], 'invalid_json');
  });
});

const matched = (line: ExplainLine): MappingExplanation[] => line['matched'] as MappingExplanation[];
const byName = (line: ExplainLine, name: string): MappingExplanation => {
  const m = matched(line).find((x) => x.mapping === name);
  assert.ok(m, `mapping ${name} in ${JSON.stringify(matched(line).map((x) => x.mapping))}`);
  return m;
};

describe('explain: each matched mapping and each template', () => {
  it('says which mappings fired and why the others did not', async () => {
    const u = await explain('update-full-no-schema.json'); // email changed, names did not
    assert.deepEqual(matched(u).map((m) => [m.mapping, m.fired, m.why]), [
      ['customers', true, undefined],
      ['customer-names', false, 'unchanged'],
      ['customer-snapshots', false, 'op_not_selected'],
    ]);
    assert.match(byName(u, 'customer-names').because!, /changed none of when\.changed \[first_name, last_name\]/);
    assert.match(byName(u, 'customer-snapshots').because!, /op "u" \(update\) is not in its ops \[r\]/);
    assert.equal(byName(u, 'customer-names').at, 'm.yaml:13:5');
    assert.deepEqual(byName(u, 'customer-names').templates, []);
  });

  it("gives each template's names, or the reason it gave none", async () => {
    const u = await explain('update-default-no-schema.json');
    const t = byName(u, 'customers').templates;
    assert.deepEqual(t.map((x) => [x.kind, x.template, x.names]), [
      ['key', 'customer:{id}', ['customer:1002']],
      ['key', 'customer:email:{email|lower}', ['customer:email:grace@navy.example.mil']],
      ['key', 'customers:count', ['customers:count']],
    ]);
    assert.deepEqual(t[1]!.skipped.map((s) => [s.image, s.reason, s.column]), [['before', 'no_before_image', 'email']]);
    assert.match(t[1]!.skipped[0]!.text, /no before image \(REPLICA IDENTITY DEFAULT\)/);
    assert.deepEqual(t[0]!.skipped, []);
  });

  it('a key-only delete: the email template gives no name, and says why', async () => {
    const declared = new MappingSet(parseMappingFile('m.yaml', MAPPINGS.replaceAll('    table: inventory.customers\n', '    table: inventory.customers\n    replica_identity: default\n')).mappings);
    const [d] = (await explainFiles([fixturePath('debezium', 'delete-default-no-schema.json')], declared)) as [ExplainLine];
    const email = byName(d, 'customers').templates.find((x) => x.template.startsWith('customer:email:'))!;
    assert.deepEqual(email.names, []);
    assert.deepEqual(email.skipped.map((s) => s.reason), ['key_only_image']);
  });

  it('truncate: column templates give no name, on_truncate templates are listed as such', async () => {
    const t = await explain('truncate-with-schema.json');
    const names = byName(t, 'customer-names').templates;
    assert.deepEqual(names.map((x) => [x.kind, x.template, x.onTruncate ?? false, x.names, x.skipped.map((s) => s.reason)]), [
      ['tag', 'customers:last-name:{last_name|lower}', false, [], ['truncate']],
      ['version', 'ns:customers', true, ['ns:customers'], []],
    ]);
  });

  it('a value no name can be made of: an error line that still says which template', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cdci-explain-'));
    await writeFile(join(dir, 'poison.json'), JSON.stringify({ op: 'c', source: { schema: 'inventory', table: 'customers' }, after: { id: { nested: 1 }, email: 'a@b' } }));
    const [line] = await explainFiles([join(dir, 'poison.json')], set);
    assert.equal(line!.result, 'error');
    const id = byName(line!, 'customers').templates.find((x) => x.template === 'customer:{id}')!;
    assert.match(id.error!, /cannot be rendered/);
    assert.match(explainText(line!).join('\n'), /key "customer:\{id\}": error: .*cannot be rendered/);
  });

  it('text format: the event, each mapping, each template, the union', async () => {
    const text = explainText(await explain('update-full-no-schema.json')).join('\n');
    assert.match(text, /update \(op u\) on inventory\.customers/);
    assert.match(text, /customers \(m\.yaml:2:5\): fired/);
    assert.match(text, /key "customer:\{id\}" → customer:1002/);
    assert.match(text, /customer-names \(m\.yaml:13:5\): not fired: the update changed none of when\.changed/);
    assert.match(text, /invalidates: keys .*customer:1002/);
    const unmapped = explainText({ file: 'x.json', result: 'event', table: 'a.b', op: 'c', matched: [], keys: [], tags: [], versions: [] });
    assert.match(unmapped.join('\n'), /no mapping matches table a\.b/);
  });
});
