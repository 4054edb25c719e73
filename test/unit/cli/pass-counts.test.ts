import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { formatPassCounts, parsePassCounts } from '../../../src/cli/pass-counts.js';
import { Stats } from '../../../src/telemetry/stats.js';

describe("tap --worker-metrics: what each pass removed, from the worker's /metrics", () => {
  it('reads the counters the worker exports, summed over kind, per mapping', async () => {
    const registry = new Registry();
    const stats = new Stats(registry);
    stats.inc('first_pass_hits', { mapping: 'customers', kind: 'key' }, 40);
    stats.inc('first_pass_hits', { mapping: 'customers', kind: 'tag_member' }, 2);
    stats.inc('second_pass_removals', { mapping: 'customers', kind: 'key' }, 3);
    stats.inc('first_pass_hits', { mapping: 'orders', kind: 'key' }, 0);
    stats.inc('invalidated', { kind: 'key', pass: 'first' }, 99);
    const counts = parsePassCounts(await registry.metrics());
    assert.deepEqual(Object.fromEntries(counts), {
      customers: { firstPassHits: 42, secondPassRemovals: 3 },
      orders: { firstPassHits: 0, secondPassRemovals: 0 },
    });
    const lines = formatPassCounts(counts, new Map([['customers', { firstPassHits: 30, secondPassRemovals: 1 }]]));
    assert.deepEqual(lines, [
      'passes customers: first-pass hits +12 (total 42), second-pass removals +2 (total 3 = 7.1 % of the hits)',
      'passes orders: first-pass hits +0 (total 0), second-pass removals +0 (total 0)',
    ]);
  });
});
