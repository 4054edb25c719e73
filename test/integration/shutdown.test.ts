import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../support/ports.js';
import { waitFor, withTimeout } from '../support/processes.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';
import { exitOf, mappingsDir, spawnCli } from '../support/worker.js';

let redisServer: RedisServer;
let mappings: string;

before(async () => {
  redisServer = await startRedis();
  mappings = await mappingsDir();
});
after(async () => redisServer?.cleanup());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function sigtermDuringStartup(redisUrl: string, brokers: string): Promise<{ code: number | null; ms: number; log: string }> {
  const child = spawnCli(['run', '--brokers', brokers, '--redis', redisUrl, '--topics', 'shop.inventory.customers', '--mappings', mappings, '--shutdown-grace', '10s']);
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  // Signal once the worker is starting (its handlers are installed by then), not after a fixed wait:
  // on a loaded machine node may still be loading modules after 2 s, and SIGTERM would kill it outright.
  await waitFor(() => /"to":"starting"/.test(log), { timeoutMs: 30_000, message: () => `the worker starting (log: ${log})` });
  await sleep(1_000);
  assert.equal(child.exitCode, null, `still starting: ${log}`);
  const t0 = Date.now();
  child.kill('SIGTERM');
  try {
    const code = await withTimeout(exitOf(child), 8_000, `exit after SIGTERM during start-up (log: ${log})`);
    return { code, ms: Date.now() - t0, log };
  } finally {
    child.kill('SIGKILL');
  }
}

describe('shutdown during start-up', { timeout: 60_000 }, () => {
  it('SIGTERM while Redis is unreachable ends the process with 0, without joining the group', async () => {
    const { code, log } = await sigtermDuringStartup(`redis://127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`);
    assert.equal(code, 0, log);
    assert.doesNotMatch(log, /partitions assigned/);
    assert.match(log, /"to":"stopped"/);
  });

  it('SIGTERM while the brokers are unreachable ends the process with 0', async () => {
    const { code, log } = await sigtermDuringStartup(redisServer.url, `127.0.0.1:${await freePort()}`);
    assert.equal(code, 0, log);
    assert.match(log, /"to":"stopped"/);
  });
});
