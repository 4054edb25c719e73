import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readFileSync } from 'node:fs';
import { repoRoot } from '../../support/paths.js';
import { exitOf, mappingsDir, spawnCli } from '../../support/worker.js';

async function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawnCli(args, env);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const code = await exitOf(child);
  clearTimeout(timer);
  return { code, out, err };
}

const noStack = (s: string) => assert.doesNotMatch(s, /\n\s+at .+:\d+:\d+/, `a stack trace: ${s}`);

describe('exit codes: 0 clean, 1 runtime failure, 64 usage, 78 configuration', { timeout: 120_000 }, () => {
  it('usage errors exit 64: unknown command, unknown flag, no command', async () => {
    for (const args of [['frobnicate'], ['run', '--no-such-flag'], [], ['tap', '--redis', 'redis://x']]) {
      const r = await cli(args);
      assert.equal(r.code, 64, `${args.join(' ')}: ${r.err}`);
      noStack(r.err);
    }
  });

  it('--version prints the package version and exits 0', async () => {
    const r = await cli(['--version']);
    assert.equal(r.code, 0);
    assert.equal(r.out.trim(), (JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as { version: string }).version);
  });

  it('bad values exit 78 with one line naming the setting, never a stack trace', async () => {
    const mappings = await mappingsDir();
    const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
      [['run', '--topics', 't', '--mappings', mappings, '--group', ''], {}, /--group: the consumer group id must not be empty/],
      [['run', '--topics', 't', '--mappings', mappings, '--brokers', 'host:99999'], {}, /--brokers: "host:99999" is not host:port/],
      [['run', '--topics', 't', '--mappings', mappings, '--dlq-topic', 'bad topic!'], {}, /--dlq-topic: "bad topic!" is not a Kafka topic name/],
      [['run', '--topics', 't', '--mappings', mappings, '--concurrency', '99999999999'], {}, /--concurrency: 99999999999 is out of range/],
      [['run', '--topics', 't', '--mappings', mappings], { CDC_INVALIDATOR_LOG_LEVEL: 'loud' }, /CDC_INVALIDATOR_LOG_LEVEL: expected one of/],
      [['run', '--topics', 't', '--mappings', mappings, '--session-timeout', '1s'], {}, /--heartbeat-interval 3s \(the default\) must be shorter than --session-timeout 1s/],
      [['tap', '--topics', 't', '--mappings', mappings, '--limit', '1.5'], {}, /--limit: expected a whole number/],
      [['offsets', 'reset', '--topics', 't', '--shift-by', 'abc'], {}, /--shift-by: expected a whole number/],
      [['explain', '--mappings', mappings, '--output', 'yaml', 'x.json'], {}, /--output: expected json or text/],
    ];
    for (const [args, env, re] of cases) {
      const r = await cli(args, env);
      assert.equal(r.code, 78, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, re);
      noStack(r.err);
    }
  });

  it('mappings test --junit-report at a directory or under a file: 78 with the reason', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cdci-junit-'));
    const mappings = await mappingsDir();
    await writeFile(join(mappings, 'customers.test.yaml'), 'tests:\n  - name: a create\n    record:\n      value: {op: c, after: {id: 1, email: a@x}, source: {schema: inventory, table: customers}}\n    expect:\n      keys: ["customer:1", "customer:email:a@x"]\n');
    await writeFile(join(dir, 'file'), 'x');
    for (const [target, why] of [[dir, /is a directory/], [join(dir, 'file', 'r.xml'), /a parent of it is a file/]] as const) {
      const r = await cli(['mappings', 'test', mappings, '--junit-report', target]);
      assert.equal(r.code, 78, r.err);
      assert.match(r.err, why);
      noStack(r.err);
    }
  });

  it('--health-port already in use: 78 naming the flag', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const r = await cli(['run', '--topics', 't', '--mappings', await mappingsDir(), '--health-port', String(port), '--redis', 'redis://127.0.0.1:1']);
      assert.equal(r.code, 78, r.err + r.out);
      assert.match(r.err, new RegExp(`--health-port ${port}: the port is already in use`));
      noStack(r.err);
    } finally {
      server.close();
    }
  });
});
