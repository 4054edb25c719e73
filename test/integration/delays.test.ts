import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { resolveRunConfig } from '../../src/config/run-config.js';
import { parseMappingFile } from '../../src/mapping/parse.js';
import { delaysBeyondGrace } from '../../src/mapping/delays.js';
import { freePort } from '../support/ports.js';
import { withTimeout } from '../support/processes.js';
import { exitOf, spawnCli } from '../support/worker.js';

/** Runs the CLI to its exit (bounded); stdout and stderr as text. */
async function cli(args: string[], untilStdout?: RegExp): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnCli(args, { CDC_INVALIDATOR_MAPPINGS: '' });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => {
    stdout += c.toString();
    if (untilStdout?.test(stdout) && child.exitCode === null) child.kill('SIGTERM');
  });
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await withTimeout(exitOf(child), 30_000, `cdc-invalidator ${args.join(' ')}`);
  return { code, stdout, stderr };
}

async function mappingDir(delay: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cdci-delays-'));
  await writeFile(join(dir, 'm.yaml'), `mappings:\n  - name: slow\n    table: inventory.customers\n    ops: [c, u, d]\n    keys: ["customer:{id}"]\n    second_delete_delay: ${delay}\n  - name: plain\n    table: inventory.orders\n    ops: [c, u, d]\n    keys: ["order:{id}"]\n`);
  return dir;
}

describe('delays are bounded', { timeout: 90_000 }, () => {
  it('mappings validate refuses second_delete_delay 1e9 and 9999999999999999999999 (exit 78), naming file:line:col', async () => {
    for (const [delay, why] of [['1e9', /expected milliseconds/], ['9999999999999999999999', /out of range \(0ms–10m\)/], ['11m', /out of range \(0ms–10m\)/]] as const) {
      const dir = await mappingDir(delay);
      const r = await cli(['mappings', 'validate', dir]);
      assert.equal(r.code, 78, `${delay}: ${r.stdout}${r.stderr}`);
      assert.match(r.stdout + r.stderr, new RegExp(`m\\.yaml:6:26 second_delete_delay: .*${why.source}`));
    }
  });

  it('run warns at start when the second_delete_delay of a mapping (or the flag) exceeds the shutdown grace', async () => {
    const dir = await mappingDir('30s');
    const redisPort = await freePort(); // nothing listens: the worker waits for Redis, and the test stops it
    const r = await cli(
      ['run', '--brokers', '127.0.0.1:1', '--redis', `redis://127.0.0.1:${redisPort}`, '--topics', 't', '--mappings', dir, '--shutdown-grace', '10s', '--second-delete-delay', '20s', '--log-level', 'warn'],
      /"msg":"starting"|redis connection error/,
    );
    const lines = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    const slow = lines.find((l) => l['mapping'] === 'slow');
    assert.ok(slow, r.stdout);
    assert.equal(slow['level'], 40);
    assert.match(String(slow['msg']), /^mapping "slow": second_delete_delay 30s exceeds --shutdown-grace 10s: a drain .* gives up second deletes still pending/);
    assert.match(String(slow['at']), /m\.yaml:2$/);
    assert.ok(lines.some((l) => /^--second-delete-delay 20s exceeds --shutdown-grace 10s/.test(String(l['msg']))), 'the flag, which "plain" uses');
  });

  it('no warning when every delay fits in the grace; a mapping without keys or tags has no second delete', () => {
    const { mappings } = parseMappingFile('m.yaml', 'mappings:\n  - name: a\n    table: s.a\n    keys: ["a:{id}"]\n    second_delete_delay: 5s\n  - name: v\n    table: s.v\n    versions: ["v"]\n    second_delete_delay: 1m\n');
    assert.deepEqual(delaysBeyondGrace(mappings, 1_000, 10_000), []);
    assert.deepEqual(delaysBeyondGrace(mappings, 1_000, 4_000).map((w) => w.mapping), ['a']);
  });

  it('--max-pending-second-deletes is a setting with a range (it was a constant 200,000)', () => {
    const base = { topics: 't' };
    assert.equal(resolveRunConfig(base, {}).maxPendingSecondDeletes, 200_000);
    assert.equal(resolveRunConfig({ ...base, maxPendingSecondDeletes: '5000' }, {}).maxPendingSecondDeletes, 5_000);
    assert.equal(resolveRunConfig(base, { CDC_INVALIDATOR_MAX_PENDING_SECOND_DELETES: '7' }).maxPendingSecondDeletes, 7);
    assert.throws(() => resolveRunConfig({ ...base, maxPendingSecondDeletes: '0' }, {}), /^ConfigError: --max-pending-second-deletes: 0 is out of range \(1–10000000\)|--max-pending-second-deletes: 0 is out of range/);
    assert.throws(() => resolveRunConfig({ ...base, maxPendingSecondDeletes: '2e5' }, {}), /--max-pending-second-deletes: expected a whole number/);
  });
});
