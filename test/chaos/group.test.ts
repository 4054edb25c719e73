import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it, type TestContext } from 'node:test';
import {
  chaosSeed,
  chaosStream,
  committedRecords,
  plant,
  seededRandom,
  startSlowReader,
  streamRecords,
  survivors,
  type ChaosRecord,
} from '../support/chaos.js';
import { committedOffsets, endOffsets, uniqueName, waitCommittedTo } from '../support/kafka.js';
import { stopProcess, waitFor, withTimeout } from '../support/processes.js';
import { startServices, type Services } from '../support/services.js';
import { exitOf, mappingsDir, spawnCli, runArgs } from '../support/worker.js';

/**
 * Workers sharing a consumer group on the real Kafka broker (the mock's coordinator rejects a second
 * member's JoinGroup at random, so group behaviour is proved here): members join, leave cleanly and
 * are SIGKILLed while a stream flows and a slow reader writes keys back inside the second-delete
 * window. After every kill, no record below the committed offsets may have a key left (no commit
 * passed an unacknowledged delete, second pass included); at the end no sentinel is left.
 */

let services: Services;
let mappings: string;

before(async () => {
  services = await startServices('real');
  mappings = await mappingsDir();
});
after(async () => services?.stop());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const PARTITIONS = 4;

interface Member {
  readonly name: string;
  readonly child: ChildProcess;
  /** Partitions this member was last assigned (from its `partitions assigned` log line). */
  assigned: number;
  log: string;
}

function startMember(name: string, topic: string, group: string): Member {
  const child = spawnCli(runArgs({ brokers: services.broker.brokers, redis: services.redisServer.url, topic, group, mappings, logLevel: 'info' }));
  const m: Member = { name, child, assigned: -1, log: '' };
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.includes('partitions assigned')) m.assigned = (JSON.parse(line) as { partitions: number }).partitions;
      if (/"level":(40|50|60)|partitions|worker /.test(line)) m.log = (m.log + line.slice(0, 300) + '\n').slice(-4_000);
    }
  });
  child.stderr!.on('data', (d: Buffer) => (m.log = (m.log + d.toString()).slice(-4_000)));
  return m;
}

/** Waits until the live members' assignments add up to every partition, each live member holding some. */
async function balanced(live: readonly Member[], timeoutMs = 40_000): Promise<void> {
  await waitFor(
    () => {
      for (const m of live) if (m.child.exitCode !== null) throw new Error(`member ${m.name} exited with ${m.child.exitCode}:\n${m.log}`);
      return live.every((m) => m.assigned > 0) && live.reduce((n, m) => n + m.assigned, 0) === PARTITIONS;
    },
    { timeoutMs, intervalMs: 100, message: () => `a balanced assignment over ${live.map((m) => `${m.name}=${m.assigned}`).join(', ')}\n${live.map((m) => `--- ${m.name}:\n${m.log}`).join('\n')}` },
  );
}

interface Run {
  readonly topic: string;
  readonly group: string;
  readonly stream: ChaosRecord[][];
  readonly all: ChaosRecord[];
  readonly planted: number;
}

async function prepare(t: TestContext, perPartition: number): Promise<Run> {
  const seed = chaosSeed();
  const random = seededRandom(seed);
  const topic = `${uniqueName('chaos')}.inventory.customers`;
  const group = uniqueName('g');
  const admin = services.kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
  const stream = chaosStream(PARTITIONS, perPartition, random);
  const all = stream.flat();
  const planted = await plant(services.redis, all);
  t.diagnostic(`seed ${seed} (CHAOS_SEED=${seed} replays it): ${all.length} events, ${planted} sentinels planted`);
  return { topic, group, stream, all, planted };
}

/** After a kill: every record below the committed offsets has no key left. */
async function checkCommitted(run: Run, hold: () => Promise<void>, release: () => void, what: string): Promise<void> {
  await hold();
  try {
    const committed = await committedOffsets(services.kafka, run.group, run.topic);
    const done = committedRecords(run.stream, committed);
    const left = await survivors(services.redis, done);
    assert.equal(left, 0, `${what}: ${left} keys of ${done.length} committed records are still cached (a commit passed an unacknowledged delete)`);
  } finally {
    release();
  }
}

describe('chaos: workers sharing a group on the real broker', { timeout: 300_000 }, () => {
  it('two workers share the partitions; one SIGKILLed mid-stream; the survivor takes over, zero sentinels', async (t) => {
    const run = await prepare(t, 2_500);
    const members: Member[] = [];
    try {
      const a = startMember('a', run.topic, run.group);
      members.push(a);
      await balanced([a]);
      const b = startMember('b', run.topic, run.group);
      members.push(b);
      await balanced([a, b]);
      t.diagnostic(`partitions a ${a.assigned}, b ${b.assigned}`);
      const streamer = streamRecords(services.kafka, run.topic, run.stream, run.all.length / 20);
      const reader = startSlowReader(services.redis, run.stream, streamer.produced, 1_000);
      await sleep(3_000 + Math.floor(Math.random() * 8_000));
      const sent = streamer.produced.reduce((x, y) => x + y, 0);
      await stopProcess(b.child, 'SIGKILL');
      t.diagnostic(`killed b after ${sent} of ${run.all.length} events were produced`);
      await checkCommitted(run, () => reader.hold(), () => reader.release(), 'after the kill of b');
      await withTimeout(streamer.done, 90_000, 'the producer finishing');
      await waitCommittedTo(services.kafka, run.group, run.topic, await endOffsets(services.kafka, run.topic), {
        timeoutMs: 90_000,
        message: `the survivor committing every partition to the end (${a.log})`,
      });
      const { writtenBackInWindow } = await reader.stop();
      assert.equal(a.assigned, PARTITIONS, 'the survivor owns every partition');
      const left = await survivors(services.redis, run.all);
      t.diagnostic(`events ${run.all.length}, sentinels planted ${run.planted}, in-window write-backs ${writtenBackInWindow}, killed members 1, sentinels left ${left}`);
      assert.equal(left, 0, 'sentinels left');
      a.child.kill('SIGTERM');
      assert.equal(await withTimeout(exitOf(a.child), 20_000, 'a clean exit on SIGTERM'), 0);
    } finally {
      for (const m of members) await stopProcess(m.child, 'SIGKILL');
    }
  });

  it('three workers: one joins mid-stream, one leaves cleanly, one is SIGKILLed; zero sentinels', async (t) => {
    const run = await prepare(t, 3_000);
    const members: Member[] = [];
    try {
      const a = startMember('a', run.topic, run.group);
      members.push(a);
      await balanced([a]);
      const b = startMember('b', run.topic, run.group);
      members.push(b);
      await balanced([a, b]);
      const streamer = streamRecords(services.kafka, run.topic, run.stream, run.all.length / 30);
      const reader = startSlowReader(services.redis, run.stream, streamer.produced, 1_000);

      await sleep(4_000);
      const c = startMember('c', run.topic, run.group);
      members.push(c);
      await balanced([a, b, c]);
      t.diagnostic(`c joined after ${streamer.produced.reduce((x, y) => x + y, 0)} events: a ${a.assigned}, b ${b.assigned}, c ${c.assigned}`);

      await sleep(3_000);
      b.child.kill('SIGTERM');
      assert.equal(await withTimeout(exitOf(b.child), 30_000, 'b leaving cleanly on SIGTERM'), 0, `b exits 0 after its drain:\n${b.log}`);
      await balanced([a, c]);
      await checkCommitted(run, () => reader.hold(), () => reader.release(), 'after b left');
      t.diagnostic(`b left after ${streamer.produced.reduce((x, y) => x + y, 0)} events: a ${a.assigned}, c ${c.assigned}`);

      await sleep(2_000 + Math.floor(Math.random() * 4_000));
      await stopProcess(a.child, 'SIGKILL');
      t.diagnostic(`killed a after ${streamer.produced.reduce((x, y) => x + y, 0)} events`);
      await checkCommitted(run, () => reader.hold(), () => reader.release(), 'after the kill of a');
      await withTimeout(streamer.done, 120_000, 'the producer finishing');
      await waitCommittedTo(services.kafka, run.group, run.topic, await endOffsets(services.kafka, run.topic), {
        timeoutMs: 90_000,
        message: `c committing every partition to the end (${c.log})`,
      });
      const { writtenBackInWindow } = await reader.stop();
      assert.equal(c.assigned, PARTITIONS, 'the last member owns every partition');
      const left = await survivors(services.redis, run.all);
      t.diagnostic(`events ${run.all.length}, sentinels planted ${run.planted}, in-window write-backs ${writtenBackInWindow}, joined 1, left 1, killed 1, sentinels left ${left}`);
      assert.equal(left, 0, 'sentinels left');
      c.child.kill('SIGTERM');
      assert.equal(await withTimeout(exitOf(c.child), 20_000, 'a clean exit on SIGTERM'), 0);
    } finally {
      for (const m of members) await stopProcess(m.child, 'SIGKILL');
    }
  });
});
