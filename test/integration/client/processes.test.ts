import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { CLIENT_MAPPINGS } from '../../support/client.js';
import { repoRoot } from '../../support/paths.js';
import { stopProcess, waitFor } from '../../support/processes.js';
import { startRedis, type RedisServer } from '../../support/redis-server.js';
import { mappingsDir } from '../../support/worker.js';

/** Two Node processes, each with its own cache client (via `cdc-invalidator/client`) and 100 concurrent callers. */

interface CallerResult {
  readonly pid: number;
  readonly results: readonly { id: number; filledBy: number }[];
  readonly stats: Readonly<Record<string, number>>;
}

let server: RedisServer;
let admin: Redis;
let dir: string;
const children: ChildProcess[] = [];

before(async () => {
  server = await startRedis();
  admin = server.client();
  dir = await mappingsDir(CLIENT_MAPPINGS);
});
after(async () => {
  await Promise.all(children.map((c) => stopProcess(c, 'SIGKILL')));
  await server?.cleanup();
});

function caller(callers: number, keys: number, loaderMs: number): { child: ChildProcess; ready: Promise<void>; result: Promise<CallerResult>; output: () => string } {
  const child = spawn(process.execPath, [join(repoRoot(), 'dist', 'test', 'support', 'client-caller.js'), String(server.port), dir, String(callers), String(keys), String(loaderMs)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const ready = waitFor(() => out.startsWith('ready\n') || child.exitCode !== null, { timeoutMs: 20_000, message: () => `caller ready\n${err}` }).then(() => {
    if (child.exitCode !== null) throw new Error(`caller exited ${child.exitCode}: ${err}`);
  });
  const result = new Promise<CallerResult>((resolve, reject) => {
    child.once('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (code === 0 && line) resolve(JSON.parse(line) as CallerResult);
      else reject(new Error(`caller exited ${code}: ${err}${out}`));
    });
  });
  return { child, ready, result, output: () => err + out };
}

describe('cache client in two processes (the package export, in plain Node)', { timeout: 60_000 }, () => {
  it('100 concurrent callers in each of two processes on one cold key: the loader runs once', async () => {
    const a = caller(100, 1, 200);
    const b = caller(100, 1, 200);
    await Promise.all([a.ready, b.ready]);
    a.child.stdin!.write('go\n');
    b.child.stdin!.write('go\n');
    const [ra, rb] = await Promise.all([a.result, b.result]);
    assert.equal(await admin.get('loads:1'), '1', 'one loader call over both processes');
    const all = [...ra.results, ...rb.results];
    assert.equal(all.length, 200);
    const filledBy = new Set(all.map((r) => r.filledBy));
    assert.equal(filledBy.size, 1, 'every caller got the one fill');
    const waiter = filledBy.has(ra.pid) ? rb : ra;
    assert.equal(waiter.stats['lease_waits_value'], 1, "the other process waited on the lease for the filler's value");
    assert.equal(waiter.stats['coalesced'], 99);
  });

  it('100 concurrent callers per process over 10 cold keys: the loader runs once per key', async () => {
    await admin.del(...Array.from({ length: 10 }, (_, i) => [`customer:${i + 1}`, `loads:${i + 1}`]).flat());
    const a = caller(100, 10, 150);
    const b = caller(100, 10, 150);
    await Promise.all([a.ready, b.ready]);
    a.child.stdin!.write('go\n');
    b.child.stdin!.write('go\n');
    const [ra, rb] = await Promise.all([a.result, b.result]);
    for (let id = 1; id <= 10; id++) assert.equal(await admin.get(`loads:${id}`), '1', `loader calls for key ${id}`);
    for (const r of [...ra.results, ...rb.results]) assert.ok(r.id >= 1 && r.id <= 10);
  });
});
