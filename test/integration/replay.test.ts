import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import type { Kafka } from 'kafkajs';
import { customerCreate } from '../support/debezium.js';
import type { KafkaBroker } from '../support/kafka-broker.js';
import { committedOffsets, endOffsets, produce, uniqueName } from '../support/kafka.js';
import { waitFor, withTimeout } from '../support/processes.js';
import type { RedisServer } from '../support/redis-server.js';
import { startServices, type Services } from '../support/services.js';
import { exitOf, mappingsDir, spawnCli, startWorker } from '../support/worker.js';
import { repoRoot } from '../support/paths.js';

/** Whether script(1) (util-linux) is here to give the CLI a pseudo-terminal. */
function hasScript(): boolean {
  try {
    execFileSync('script', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

let services: Services;
let broker: KafkaBroker;
let redisServer: RedisServer;
let redis: Redis;
let kafka: Kafka;

before(async () => {
  services = await startServices();
  ({ broker, redisServer, redis, kafka } = services);
});
after(async () => services?.stop());

const MAPPINGS = `mappings:
  - name: by-id
    table: inventory.customers
    keys: ["customer:{id}"]
  - name: by-email
    table: inventory.customers
    keys: ["customer:email:{email}"]
`;
const FAST = ['--session-timeout', '6s', '--heartbeat-interval', '500ms', '--rebalance-timeout', '6s', '--log-level', 'warn'];
// id = partition * 100 + offset, so a key names its record's place.
const idOf = (p: number, o: number) => p * 100 + o;

async function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnCli(args);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await withTimeout(exitOf(child), 60_000, `cdc-invalidator ${args.join(' ')}`);
  return { code, stdout, stderr };
}

async function plantAll(): Promise<void> {
  const p = redis.pipeline();
  for (const part of [0, 1]) for (let o = 0; o < 10; o++) p.set(`customer:${idOf(part, o)}`, 'x').set(`customer:email:${idOf(part, o)}@x`, 'x');
  await p.exec();
}

async function present(prefix: 'customer:' | 'customer:email:'): Promise<Set<number>> {
  const out = new Set<number>();
  for (const part of [0, 1]) {
    for (let o = 0; o < 10; o++) {
      const id = idOf(part, o);
      if (await redis.exists(prefix === 'customer:' ? `customer:${id}` : `customer:email:${id}@x`)) out.add(id);
    }
  }
  return out;
}

describe('replay and offsets', { timeout: 180_000 }, () => {
  it('replays exactly a window, restricted by mapping, with a dry run, leaving the live group alone; offsets show and reset', async () => {
    const topic = `${uniqueName('shop')}.inventory.customers`;
    const group = uniqueName('live');
    const dir = await mappingsDir(MAPPINGS);
    for (const part of [0, 1]) {
      await produce(kafka, topic, Array.from({ length: 10 }, (_, o) => ({ key: { id: idOf(part, o) }, value: customerCreate(idOf(part, o), `${idOf(part, o)}@x`), partition: part })));
    }
    // The live group consumes everything once.
    const { worker } = await startWorker({ brokers: broker.brokers.join(','), redis: redisServer.url, topics: topic, group, mappings: dir, secondDeleteDelay: '50ms' });
    const end = await endOffsets(kafka, topic);
    await waitFor(async () => {
      const c = await committedOffsets(kafka, group, topic);
      return [...end].every(([p, high]) => high === 0n || c.get(p) === high);
    }, { timeoutMs: 30_000, message: 'live group committed' });
    await worker.stop(5_000);
    const liveBefore = await committedOffsets(kafka, group, topic);

    const base = ['--brokers', broker.brokers.join(','), '--topics', topic, '--mappings', dir, '--log-level', 'warn'];
    // Dry run: counts, deletes nothing.
    await plantAll();
    const dry = await cli(['replay', ...base, ...FAST, '--redis', redisServer.url, '--from', '0:3,1:3', '--to', '0:7,1:7', '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    const drySummary = JSON.parse(dry.stdout) as { events: number; keys: number; sample: { keys: string[] } };
    assert.equal(drySummary.events, 8);
    assert.equal(drySummary.keys, 16);
    assert.equal(drySummary.sample.keys.length, 10);
    assert.equal((await present('customer:')).size, 20, 'a dry run deleted something');

    // The window [3, 7) of both partitions, only the by-id mapping.
    const run = await cli(['replay', ...base, ...FAST, '--redis', redisServer.url, '--from', '0:3,1:3', '--to', '0:7,1:7', '--mapping', 'by-id', '--second-delete-delay', '100ms']);
    assert.equal(run.code, 0, run.stderr);
    const expectedGone = new Set([3, 4, 5, 6, 103, 104, 105, 106]);
    const ids = await present('customer:');
    for (const part of [0, 1]) for (let o = 0; o < 10; o++) {
      const id = idOf(part, o);
      assert.equal(ids.has(id), !expectedGone.has(id), `customer:${id}`);
    }
    assert.equal((await present('customer:email:')).size, 20, '--mapping by-id touched by-email keys');
    assert.deepEqual(await committedOffsets(kafka, group, topic), liveBefore, 'the live group offsets moved');

    // offsets show, then reset: plan only, then --execute (no member is running).
    const show = await cli(['offsets', 'show', ...base, '--group', group]);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, new RegExp(`${topic.replace(/\./g, '\\.')}\\t0\\t10\\t10\\t0`));
    const plan = await cli(['offsets', 'reset', ...base, '--group', group, '--to', 'earliest']);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /\t0\t10\t0/);
    assert.deepEqual(await committedOffsets(kafka, group, topic), liveBefore, 'a reset without --execute changed offsets');
    const shift = await cli(['offsets', 'reset', ...base, '--group', group, '--shift-by', '-4']);
    assert.match(shift.stdout, /\t1\t10\t6/);
    // --execute must first prove the group has no members (DescribeGroups). The kcat-hosted mock
    // cluster does not implement DescribeGroups, so here the reset must refuse, clearly, and change nothing.
    const exec = await cli(['offsets', 'reset', ...base, '--group', group, '--shift-by', '-4', '--execute']);
    assert.equal(exec.code, 1);
    assert.match(exec.stderr, /cannot check that group .* has no active members.*refusing to reset/);
    assert.deepEqual(await committedOffsets(kafka, group, topic), liveBefore);
  });

  it('on a terminal replay draws a progress bar (records, rate, ETA, partitions done); off a terminal it draws nothing', { skip: hasScript() ? false : 'no script(1) for a pseudo-terminal (util-linux)' }, async () => {
    const topic = `${uniqueName('shop')}.inventory.customers`;
    const dir = await mappingsDir(MAPPINGS);
    for (const part of [0, 1]) {
      await produce(kafka, topic, Array.from({ length: 10 }, (_, o) => ({ key: { id: idOf(part, o) }, value: customerCreate(idOf(part, o), `${idOf(part, o)}@x`), partition: part })));
    }
    const args = ['replay', '--brokers', broker.brokers.join(','), '--topics', topic, '--mappings', dir, ...FAST, '--redis', redisServer.url, '--second-delete-delay', '0'];
    // script(1) runs the CLI on a pseudo-terminal: stdout and stderr are a TTY.
    const command = [process.execPath, join(repoRoot(), 'dist', 'src', 'cli', 'main.js'), ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
    const child = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let tty = '';
    child.stdout.on('data', (d: Buffer) => (tty += d.toString()));
    child.stderr.on('data', (d: Buffer) => (tty += d.toString()));
    assert.equal(await withTimeout(exitOf(child), 60_000, 'replay on a pseudo-terminal'), 0, tty);
    assert.match(tty, /\r\x1b\[2K\[#+\] 100% 20\/20 records {2}[\d,]+\/s {2}in \d+s {2}partitions 2\/2\r?\n/, tty);
    assert.equal((JSON.parse(tty.slice(tty.indexOf('{'))) as { events: number }).events, 20);

    const piped = await cli(args);
    assert.equal(piped.code, 0, piped.stderr);
    assert.doesNotMatch(piped.stderr, /\x1b\[2K|\[#+-*\]/, 'a bar drawn off a terminal');
    assert.equal((JSON.parse(piped.stdout) as { events: number }).events, 20);
  });
});
