import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { Readiness } from '../../../src/pipeline/control/readiness.js';
import { AbortedError, retry } from '../../../src/pipeline/control/retry.js';
import { memoryLogger } from '../../support/fakes.js';

describe('readiness', () => {
  it('a reason held twice stays until both let go; releasing twice is harmless; paused only for waits', () => {
    const changes: string[][] = [];
    const r = new Readiness((x) => changes.push(x.reasons));
    const a = r.hold('redis');
    const b = r.hold('redis');
    r.set('consumer', true);
    assert.deepEqual(r.reasons, ['consumer', 'redis']);
    assert.equal(r.paused, true);
    a();
    a();
    assert.deepEqual(r.reasons, ['consumer', 'redis']);
    b();
    assert.deepEqual(r.reasons, ['consumer']);
    assert.equal(r.paused, false);
    r.set('consumer', false);
    assert.equal(r.ready, true);
    assert.deepEqual(changes.at(-1), []);
  });
});

describe('retry', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(() => mock.timers.reset());
  const flush = async () => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  };

  it('retries until success with backoff, holds the failing state meanwhile, rethrows fatal errors at once', async () => {
    const { logger, lines } = memoryLogger();
    let calls = 0;
    let failing = 0;
    const abort = new AbortController();
    const result = retry(
      async () => {
        if (++calls < 3) throw new Error('refused');
        return 'ok';
      },
      { what: 'first delete', message: 'redis call failed; retrying', backoff: { initialMs: 100, maxMs: 1_000, jitter: 0 }, signal: abort.signal, logger, isFatal: () => false, onFailing: () => (failing++, () => failing--) },
    );
    await flush();
    assert.equal(calls, 1);
    assert.equal(failing, 1);
    mock.timers.tick(100);
    await flush();
    assert.equal(calls, 2);
    mock.timers.tick(200);
    await flush();
    assert.equal(await result, 'ok');
    assert.equal(failing, 0);
    assert.equal(lines.filter((l) => l['msg'] === 'redis call failed; retrying').length, 1);

    const fatal = new Error('NOPERM');
    await assert.rejects(retry(async () => { throw fatal; }, { what: 'x', message: 'm', backoff: { initialMs: 1, maxMs: 1, jitter: 0 }, signal: abort.signal, logger, isFatal: (e) => e === fatal }), /NOPERM/);
    abort.abort();
    await assert.rejects(retry(async () => 1, { what: 'x', message: 'm', backoff: { initialMs: 1, maxMs: 1, jitter: 0 }, signal: abort.signal, logger, isFatal: () => false }), AbortedError);
  });
});
