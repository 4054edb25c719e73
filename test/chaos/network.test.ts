import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { chaosSeed, chaosStream, plant, seededRandom, startSlowReader, streamRecords, survivors } from '../support/chaos.js';
import { committedOffsets, endOffsets, uniqueName, waitCommittedTo } from '../support/kafka.js';
import { stopProcess, withTimeout } from '../support/processes.js';
import { startServices, type Services } from '../support/services.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { exitOf, mappingsDir, spawnCli, runArgs } from '../support/worker.js';

let services: Services;
let mappings: string;
let proxy: TcpProxy;

before(async () => {
  services = await startServices();
  mappings = await mappingsDir();
  proxy = await startTcpProxy(services.redisServer.port);
});
after(async () => {
  await proxy?.close();
  await services?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('chaos: connections cut under the worker', { timeout: 240_000 }, () => {
  it('Redis connections cut again and again mid-batch, and the broker frozen for 8 s: nothing lost, no commit moves back', async (t) => {
    const seed = chaosSeed();
    const random = seededRandom(seed);
    const { kafka, redis, broker } = services;
    const topic = `${uniqueName('chaos')}.inventory.customers`;
    const group = uniqueName('g');
    const stream = chaosStream(4, 3_000, random);
    const all = stream.flat();
    const planted = await plant(redis, all);

    let log = '';
    const worker: ChildProcess = spawnCli(
      runArgs({ brokers: broker.brokers, redis: `redis://127.0.0.1:${proxy.port}`, topic, group, mappings, extra: ['--redis-timeout', '1s'] }),
    );
    worker.stdout!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-6_000)));
    worker.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-6_000)));

    // Committed offsets sampled throughout: they may only move forward.
    let sampling = true;
    let frozen = false;
    const rewinds: string[] = [];
    const sampler = (async () => {
      const last = new Map<number, bigint>();
      while (sampling) {
        if (!frozen) {
          const c = await withTimeout(committedOffsets(kafka, group, topic), 20_000, 'fetching committed offsets').catch(() => undefined);
          for (const [p, o] of c ?? []) {
            const prev = last.get(p) ?? -1n;
            if (o < prev) rewinds.push(`partition ${p}: ${prev} → ${o}`);
            if (o > prev) last.set(p, o);
          }
        }
        await sleep(300);
      }
    })();

    const streamer = streamRecords(kafka, topic, stream, all.length / 25);
    const reader = startSlowReader(redis, stream, streamer.produced, 1_000);
    let cuts = 0;
    let connectionsCut = 0;
    try {
      let streamDone = false;
      void streamer.done.then(() => (streamDone = true));
      const freezeAt = Date.now() + 6_000 + Math.floor(random() * 8_000);
      let froze = false;
      for (let i = 0; i < 400 && !streamDone; i++) {
        await sleep(150 + Math.floor(random() * 600));
        if (!froze && Date.now() >= freezeAt) {
          froze = true;
          frozen = true;
          broker.freeze();
          await sleep(8_000);
          broker.thaw();
          frozen = false;
          continue;
        }
        connectionsCut += proxy.cutAll();
        cuts++;
      }
      assert.ok(froze, 'the broker was frozen while the stream flowed');
      await withTimeout(streamer.done, 90_000, 'the producer finishing');
      const end = await endOffsets(kafka, topic);
      await waitCommittedTo(kafka, group, topic, end, { timeoutMs: 90_000, message: `the worker committing to the end (log: ${log})` });
      const wb = await reader.stop();
      await sleep(1_500);
      const left = await survivors(redis, all);
      t.diagnostic(
        `seed ${seed}: events ${all.length}, Redis cut ${cuts} times (${connectionsCut} connections), broker frozen 8 s, ` +
          `write-backs in window ${wb.writtenBackInWindow}, sentinels planted ${planted}, sentinels left ${left}`,
      );
      assert.equal(left, 0, 'sentinels left');
      assert.deepEqual(rewinds, [], 'a committed offset moved back');
      assert.equal(worker.exitCode, null, `the worker kept running (log: ${log})`);
      worker.kill('SIGTERM');
      assert.equal(await withTimeout(exitOf(worker), 20_000, 'a clean exit on SIGTERM'), 0);
    } finally {
      sampling = false;
      await sampler;
      await reader.stop();
      broker.thaw();
      await stopProcess(worker, 'SIGKILL');
    }
  });
});
