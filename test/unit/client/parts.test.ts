import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { L1Cache } from '../../../src/client/l1.js';
import { coverPrefixes, literalPrefix } from '../../../src/client/prefixes.js';
import { jitteredTtl, shouldRefreshEarly, withDeadline } from '../../../src/client/timing.js';
import { KeyWakeups } from '../../../src/client/wakeups.js';
import { parseTemplate } from '../../../src/mapping/template.js';

describe('client parts', () => {
  it('tracking prefixes: the literal start of a template, overlaps folded into the shorter', () => {
    assert.equal(literalPrefix(parseTemplate('customer:email:{email|lower}')), 'customer:email:');
    assert.equal(literalPrefix(parseTemplate('{{user:{id}}}:profile')), '{user:');
    assert.equal(literalPrefix(parseTemplate('{tenant}:orders')), '');
    assert.deepEqual(coverPrefixes(['customer:email:', 'customer:', 'product:', 'customer:', 'productx']), ['customer:', 'product:', 'productx']);
    assert.deepEqual(coverPrefixes(['a:', '']), ['']);
  });

  it('TTL jitter stays in [ttl × (1 − jitter), ttl]', () => {
    assert.equal(jitteredTtl(1000, 0.1, () => 0), 1000);
    assert.equal(jitteredTtl(1000, 0.1, () => 0.999999), 900);
    assert.equal(jitteredTtl(1000, 0, () => 0.5), 1000);
    assert.equal(jitteredTtl(1, 0.5, () => 0.99), 1);
  });

  it('early refresh: never far from expiry, always at expiry, more likely the closer and the slower the fill', () => {
    const u = (x: number) => () => x;
    assert.equal(shouldRefreshEarly(0, 100_000, 10, 1, u(0.5)), false);
    assert.equal(shouldRefreshEarly(100_000, 100_000, 10, 1, u(0.5)), true);
    const share = (now: number, fillMs: number) => {
      let n = 0;
      for (let i = 0; i < 1000; i++) if (shouldRefreshEarly(now, 10_000, fillMs, 1, u(i / 1000))) n++;
      return n / 1000;
    };
    assert.ok(share(9_990, 20) > share(9_950, 20), 'rises as expiry nears');
    assert.ok(share(9_950, 100) > share(9_950, 20), 'rises with the fill duration');
    assert.equal(shouldRefreshEarly(9_999, 10_000, 1_000, 0, u(0.01)), false, 'beta 0 is off');
  });

  it('withDeadline rejects in time and swallows a late rejection', async () => {
    const late = new Promise((_, reject) => setTimeout(() => reject(new Error('late')), 30));
    await assert.rejects(withDeadline(late, 5, () => new Error('deadline')), /deadline/);
    await new Promise((r) => setTimeout(r, 40)); // the late rejection must not surface as unhandled
    assert.equal(await withDeadline(Promise.resolve(7), 5, () => new Error('x')), 7);
  });

  it('L1: LRU bound, max age, and a read invalidated in flight is not kept', () => {
    let now = 0;
    const l1 = new L1Cache<string>(2, 100, () => now);
    for (const k of ['a', 'b']) {
      const t = l1.ticket(k);
      assert.ok(l1.set(t, k.toUpperCase(), 1_000));
      l1.release(t);
    }
    assert.equal(l1.get('a'), 'A'); // a is now the most recent
    const tc = l1.ticket('c');
    l1.set(tc, 'C', 1_000);
    l1.release(tc);
    assert.deepEqual([l1.has('a'), l1.has('b'), l1.has('c')], [true, false, true], 'b was least recently used');
    now = 100;
    assert.equal(l1.get('a'), undefined, 'max age bounds a value');

    const t1 = l1.ticket('k');
    l1.invalidate(['k']); // the invalidation arrives before the read's reply
    assert.equal(l1.set(t1, 'stale', 1_000), false);
    l1.release(t1);
    const t2 = l1.ticket('k');
    l1.clear(); // a flush (tracking reconnected)
    assert.equal(l1.set(t2, 'stale', 1_000), false);
    l1.release(t2);
    const t3 = l1.ticket('k');
    l1.invalidate(['other']);
    assert.equal(l1.set(t3, 'fresh', 1_000), true);
    l1.release(t3);
    assert.equal(l1.invalidate(['k']), 1);
    assert.equal(l1.size, 0);
  });

  it('wake-ups: a notification ends the wait early, a timer ends it otherwise', async () => {
    const w = new KeyWakeups();
    const t0 = performance.now();
    const p = w.wait('k', 5_000);
    setTimeout(() => w.notify(['k']), 10);
    await p;
    assert.ok(performance.now() - t0 < 1_000);
    await w.wait('k', 5);
    assert.equal(w.size, 0);
  });
});
