import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { chaosSeed, chaosStream, plant, rssOf, seededRandom, streamRecords, survivors } from '../support/chaos.js';
import { committedOffsets, endOffsets, uniqueName, waitCommittedTo } from '../support/kafka.js';
import { freePort } from '../support/ports.js';
import { stopProcess, waitFor, withTimeout } from '../support/processes.js';
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
const MiB = 1024 * 1024;

async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

describe('chaos: memory while Redis is unreachable', { timeout: 180_000 }, () => {
  it('stops consuming, stays flat in memory, and applies everything once Redis is back', async (t) => {
    const seed = chaosSeed();
    const { kafka, redis, broker } = services;
    const topic = `${uniqueName('chaos')}.inventory.customers`;
    const group = uniqueName('g');
    // Big rows (2 kB of text) so a backlog buffered in memory would show in RSS: 4 × 2,000 records ≈ 17 MB.
    const stream = chaosStream(4, 2_000, seededRandom(seed)).map((records) =>
      records.map((r) => {
        const value = r.value as { before: Record<string, unknown> | null; after: Record<string, unknown> | null };
        const pad = 'x'.repeat(2_000);
        return { ...r, value: { ...value, ...(value.after ? { after: { ...value.after, bio: pad } } : {}), ...(value.before ? { before: { ...value.before, bio: pad } } : {}) } };
      }),
    );
    const all = stream.flat();
    await plant(redis, all);
    const firstPart = stream.map((records) => records.slice(0, 250));
    const rest = stream.map((records) => records.slice(250));

    const healthPort = await freePort();
    let log = '';
    const worker: ChildProcess = spawnCli(
      runArgs({
        brokers: broker.brokers, redis: `redis://127.0.0.1:${proxy.port}`, topic, group, mappings,
        extra: ['--redis-timeout', '1s', '--health-port', String(healthPort)],
      }),
    );
    worker.stdout!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-6_000)));
    worker.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-6_000)));
    try {
      await streamRecords(kafka, topic, firstPart, 10_000).done;
      await waitFor(async () => [...(await committedOffsets(kafka, group, topic)).values()].every((o) => o === 250n), {
        timeoutMs: 40_000,
        intervalMs: 200,
        message: `the first 1,000 records committed (log: ${log})`,
      });
      await sleep(1_000);
      const baseline = await rssOf(worker.pid!);
      const consumedBefore = await metric(healthPort, 'cdc_invalidator_records_consumed_total');

      proxy.setDown(true);
      const outageStart = Date.now();
      await streamRecords(kafka, topic, rest, 20_000).done;
      const samples: number[] = [];
      let paused = 0;
      while (Date.now() - outageStart < 12_000) {
        samples.push(await rssOf(worker.pid!));
        paused = Math.max(paused, await metric(healthPort, 'cdc_invalidator_paused'));
        await sleep(200);
      }
      const consumedDuring = (await metric(healthPort, 'cdc_invalidator_records_consumed_total')) - consumedBefore;
      const committedDuring = await committedOffsets(kafka, group, topic);
      proxy.setDown(false);

      const end = await endOffsets(kafka, topic);
      await waitCommittedTo(kafka, group, topic, end, { timeoutMs: 90_000, message: `the worker committing to the end after the outage (log: ${log})` });
      const left = await survivors(redis, all);
      const peak = Math.max(...samples);
      const produced = rest.flat().length;
      t.diagnostic(
        `seed ${seed}: outage 12 s with ${produced} records (${(produced * 2.2) / 1024 | 0} MB) produced meanwhile; ` +
          `records read during the outage ${consumedDuring}; RSS before ${(baseline / MiB).toFixed(1)} MiB, peak during ` +
          `${(peak / MiB).toFixed(1)} MiB (+${((peak - baseline) / MiB).toFixed(1)}); paused gauge ${paused}; sentinels left ${left}`,
      );
      assert.equal(paused, 1, 'the paused gauge showed the outage');
      assert.deepEqual([...committedDuring.values()], [250n, 250n, 250n, 250n], 'nothing committed while Redis was unreachable');
      assert.ok(consumedDuring < produced / 2, `consumption stopped (${consumedDuring} of ${produced} records read during the outage)`);
      assert.ok(peak - baseline < 48 * MiB, `memory stayed bounded (+${((peak - baseline) / MiB).toFixed(1)} MiB)`);
      assert.equal(left, 0, 'sentinels left');
      worker.kill('SIGTERM');
      assert.equal(await withTimeout(exitOf(worker), 20_000, 'a clean exit on SIGTERM'), 0);
    } finally {
      proxy.setDown(false);
      await stopProcess(worker, 'SIGKILL');
    }
  });
});
