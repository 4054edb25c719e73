import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SecondDeleteScheduler } from '../../../src/pipeline/invalidate/second-delete.js';
import type { NameGroup } from '../../../src/pipeline/map/batch-plan.js';
import { sleep } from '../../../src/util/backoff.js';


/** Names of one mapping, as the batch plan hands them over. */
const g = (names: string[], mapping = 'm'): NameGroup[] => [{ mapping, names }];

function make(delayMs: number, unlink: (keys: string[]) => Promise<void> = async () => undefined) {
  const calls: { at: number; keys: string[]; groups: NameGroup[] }[] = [];
  const errors: unknown[] = [];
  const s = new SecondDeleteScheduler({
    delayMs,
    unlink: async (groups) => {
      const keys = groups.flatMap((x) => x.names);
      calls.push({ at: Date.now(), keys: [...keys].sort(), groups });
      await unlink(keys);
    },
    onError: (e) => errors.push(e),
  });
  return { s, calls, errors };
}

describe('second delete scheduler', () => {
  it('keeps names grouped by mapping: one group per mapping in a pass, the calls of a tick merged', async () => {
    const { s, calls } = make(40);
    s.schedule([{ mapping: 'a', names: ['k1', 'k2'] }, { mapping: 'b', names: ['k3'] }], () => undefined);
    s.schedule([{ mapping: 'b', names: ['k4'] }], () => undefined);
    await s.drain();
    assert.equal(calls.length, 1);
    assert.deepEqual(calls[0]!.groups.map((x) => [x.mapping, [...x.names]]), [['a', ['k1', 'k2']], ['b', ['k3', 'k4']]]);
    assert.equal(s.pendingKeys, 0);
  });

  it('deletes the keys again after the delay and only then reports done', async () => {
    const { s, calls } = make(80);
    const t0 = Date.now();
    let doneAt = 0;
    s.schedule(g(['a', 'b']), () => (doneAt = Date.now()));
    assert.equal(s.pendingKeys, 2);
    await sleep(40);
    assert.equal(doneAt, 0);
    await s.drain();
    assert.equal(calls.length, 1);
    assert.deepEqual(calls[0]!.keys, ['a', 'b']);
    assert.ok(calls[0]!.at - t0 >= 80, `fired after ${calls[0]!.at - t0} ms`);
    assert.ok(doneAt >= calls[0]!.at);
    assert.equal(s.pendingKeys, 0);
  });

  it('each schedule fires at its own time, never before its delay, and its done waits for its own pass', async () => {
    const { s, calls } = make(300);
    const t0 = Date.now();
    const done: { id: number; at: number }[] = [];
    s.schedule(g(['k']), () => done.push({ id: 1, at: Date.now() }));
    await sleep(120);
    const t1 = Date.now();
    s.schedule(g(['k', 'j']), () => done.push({ id: 2, at: Date.now() }));
    await s.drain();
    assert.equal(calls.length, 2, JSON.stringify(calls));
    assert.deepEqual(calls[0]!.keys, ['k']);
    assert.deepEqual(calls[1]!.keys, ['j', 'k']);
    assert.ok(calls[0]!.at - t0 >= 300, `first pass after ${calls[0]!.at - t0} ms`);
    assert.ok(calls[1]!.at - t1 >= 300, `second pass after ${calls[1]!.at - t1} ms`);
    assert.deepEqual(done.map((d) => d.id), [1, 2]);
    assert.ok(done[0]!.at < calls[1]!.at, 'the first waiter was not held back by the later schedule');
  });

  it('calls within one tick share one pass; a hot key is never held back', async () => {
    const { s, calls } = make(60);
    const t0 = Date.now();
    let firstDone = 0;
    s.schedule(g(['hot']), () => (firstDone = Date.now()));
    s.schedule(g(['hot', 'x']), () => undefined); // same tick: the same pass
    for (let i = 0; i < 10; i++) {
      await sleep(20);
      s.schedule(g(['hot']), () => undefined);
    }
    await s.drain();
    assert.deepEqual(calls[0]!.keys, ['hot', 'hot', 'x']);
    assert.ok(firstDone > 0);
    assert.ok(firstDone - t0 < 60 + 250, `first waiter done after ${firstDone - t0} ms`);
    assert.equal(s.pendingKeys, 0);
  });

  it('with delay 0 reports done at once and deletes nothing', () => {
    const { s, calls } = make(0);
    let done = false;
    s.schedule(g(['a']), () => (done = true));
    assert.equal(done, true);
    assert.equal(calls.length, 0);
  });

  it('a failed delete reports the error and never reports done', async () => {
    const { s, errors } = make(20, async () => {
      throw new Error('boom');
    });
    let done = false;
    s.schedule(g(['a']), () => (done = true));
    await s.drain();
    assert.equal(done, false);
    assert.equal(errors.length, 1);
  });

  it('abandoned work never reports done', async () => {
    const { s, calls } = make(30);
    let done = false;
    s.schedule(g(['a']), () => (done = true));
    assert.equal(s.abandon(), 1);
    await sleep(60);
    assert.equal(done, false);
    assert.equal(calls.length, 0);
  });
});
