import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import {
  chaosSeed,
  chaosStream,
  committedRecords,
  plant,
  seededRandom,
  startSlowReader,
  streamRecords,
  survivors,
  uncommitted,
} from '../support/chaos.js';
import { committedOffsets, endOffsets, totalCommitted, uniqueName, waitCommittedTo } from '../support/kafka.js';
import { stopProcess, waitFor, withTimeout } from '../support/processes.js';
import { startServices, type Services } from '../support/services.js';
import { exitOf, mappingsDir, spawnCli, runArgs } from '../support/worker.js';

let services: Services;
let mappings: string;

before(async () => {
  services = await startServices();
  mappings = await mappingsDir();
});
after(async () => services?.stop());

const PARTITIONS = 4;
const PER_PARTITION = 5_000;
const KILLS = 6;

function workerArgs(topic: string, group: string): string[] {
  return runArgs({ brokers: services.broker.brokers, redis: services.redisServer.url, topic, group, mappings });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('chaos: a worker SIGKILLed again and again while the stream flows', { timeout: 300_000 }, () => {
  it('loses no invalidation: every sentinel is gone and no commit passed an undeleted key', async (t) => {
    const seed = chaosSeed();
    const random = seededRandom(seed);
    const { kafka, redis } = services;
    const topic = `${uniqueName('chaos')}.inventory.customers`;
    const group = uniqueName('g');
    const stream = chaosStream(PARTITIONS, PER_PARTITION, random);
    const all = stream.flat();
    const planted = await plant(redis, all);
    t.diagnostic(`seed ${seed} (CHAOS_SEED=${seed} replays it): ${all.length} events, ${planted} sentinels planted`);

    // About a minute of traffic, so the kills (each restart waits out a rebalance) land mid-stream.
    const streamer = streamRecords(kafka, topic, stream, all.length / 60);
    const reader = startSlowReader(redis, stream, streamer.produced, 1_000);
    let streamDone = false;
    void streamer.done.then(() => (streamDone = true));
    let kills = 0;
    let replanted = 0;
    let stderr = '';
    let worker: ChildProcess | undefined;
    const start = (): ChildProcess => {
      const child = spawnCli(workerArgs(topic, group));
      child.stdout!.resume();
      child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4_000)));
      return child;
    };

    try {
      for (let round = 0; round < KILLS * 3 && kills < KILLS; round++) {
        const before = totalCommitted(await committedOffsets(kafka, group, topic));
        worker = start();
        // Kill at a random moment once this incarnation has made progress (else it never got
        // past the rebalance), sometimes before it did.
        const early = random() < 0.2;
        if (!early) {
          await waitFor(async () => totalCommitted(await committedOffsets(kafka, group, topic)) > before, {
            timeoutMs: 40_000,
            intervalMs: 100,
            message: `worker incarnation ${round + 1} committing (stderr: ${stderr})`,
          });
        }
        await sleep(Math.floor(random() * (early ? 4_000 : 1_500)));
        if (worker.exitCode !== null) assert.fail(`the worker exited by itself with ${worker.exitCode}: ${stderr}`);
        await stopProcess(worker, 'SIGKILL');
        kills++;

        const committed = await committedOffsets(kafka, group, topic);
        // No commit ever passed a record whose keys were not deleted, the second time included.
        await reader.hold();
        const done = committedRecords(stream, committed);
        assert.equal(await survivors(redis, done), 0, `after kill ${kills}: a committed record kept a key`);
        reader.release();
        // Every record past the commit may have lost its second delete with the process: a slow
        // reader's write-back would survive. Write them back; the next incarnation must replay them.
        const open = uncommitted(stream, streamer.produced, committed);
        replanted += await plant(redis, open);
        await sleep(Math.floor(random() * 500));
        if (streamDone && totalCommitted(committed) === BigInt(all.length)) break;
      }
      assert.ok(kills >= 5, `at least 5 kills happened (${kills})`);

      await withTimeout(streamer.done, 120_000, 'the producer finishing');
      worker = start();
      const end = await endOffsets(kafka, topic);
      assert.deepEqual([...end.values()].map(Number), streamer.produced, 'one record per offset (no duplicate produce)');
      await waitCommittedTo(kafka, group, topic, end, { timeoutMs: 90_000, message: `the last worker committing to the end (stderr: ${stderr})` });
      const { writtenBackInWindow, lateRemoved } = await reader.stop();
      // The last write-backs may still be inside their window: wait for their second delete.
      await sleep(1_500);
      const left = await survivors(redis, all);
      t.diagnostic(
        `events ${all.length}, kills ${kills}, sentinels planted ${planted}, written back after kills ${replanted}, ` +
          `written back by the slow reader inside the second-delete window ${writtenBackInWindow} (late, not counted ${lateRemoved}), sentinels left ${left}`,
      );
      assert.equal(left, 0, 'sentinels left');
      worker.kill('SIGTERM');
      assert.equal(await withTimeout(exitOf(worker), 20_000, 'a clean exit on SIGTERM'), 0);
    } finally {
      await reader.stop();
      if (worker) await stopProcess(worker, 'SIGKILL');
    }
  });
});
