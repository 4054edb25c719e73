import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { onShutdownSignals } from '../../../src/cli/signals.js';

describe('shutdown signals', () => {
  it('the first SIGTERM/SIGINT drains, a second one forces; removing the handlers stops both', () => {
    const proc = new EventEmitter();
    const seen: string[] = [];
    const off = onShutdownSignals(proc, { drain: (s) => seen.push(`drain ${s}`), force: (s) => seen.push(`force ${s}`) });
    proc.emit('SIGTERM', 'SIGTERM');
    assert.deepEqual(seen, ['drain SIGTERM']);
    proc.emit('SIGINT', 'SIGINT');
    proc.emit('SIGTERM', 'SIGTERM');
    assert.deepEqual(seen, ['drain SIGTERM', 'force SIGINT', 'force SIGTERM']);
    off();
    proc.emit('SIGTERM', 'SIGTERM');
    assert.equal(seen.length, 3);
    assert.equal(proc.listenerCount('SIGTERM'), 0);
  });
});
