import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ENVELOPE_PREFIX,
  LEASE_PREFIX,
  MAX_HEADER_BYTES,
  encodeEnvelope,
  leaseMarker,
  readEnvelopeHeader,
  readStored,
} from '../../../src/client/envelope.js';

describe('client envelope', () => {
  it('writes the documented format: prefix, header JSON in t,e,d,v,c,n order, newline, payload', () => {
    const text = encodeEnvelope({ filledAt: 1_000, expiresAt: 301_000, fillMs: 3.4, rowVersion: '17', counters: [4, 0], notFound: false }, '{"id":1}');
    assert.equal(text, 'cdc1:{"t":1000,"e":301000,"d":3,"v":"17","c":[4,0]}\n{"id":1}');
    assert.equal(encodeEnvelope({ filledAt: 5, expiresAt: 6, fillMs: 0, notFound: true }, undefined), 'cdc1:{"t":5,"e":6,"d":0,"n":1}\n');
    assert.equal(leaseMarker('abc'), 'cdc1-lease:abc');
    assert.ok(text.startsWith(ENVELOPE_PREFIX) && leaseMarker('x').startsWith(LEASE_PREFIX));
  });

  it('reads back values, "not found" and leases', () => {
    const text = encodeEnvelope({ filledAt: 1, expiresAt: 2, fillMs: 3, rowVersion: 'x\ny', notFound: false }, 'payload\nwith lines');
    const v = readStored(text);
    assert.equal(v.kind, 'value');
    if (v.kind !== 'value') return;
    assert.deepEqual(v.header, { filledAt: 1, expiresAt: 2, fillMs: 3, rowVersion: 'x\ny', notFound: false });
    assert.equal(v.payload, 'payload\nwith lines');
    const n = readStored(encodeEnvelope({ filledAt: 1, expiresAt: 2, fillMs: 0, notFound: true }, undefined));
    assert.ok(n.kind === 'value' && n.header.notFound && n.payload === '');
    assert.deepEqual(readStored('cdc1-lease:tok'), { kind: 'lease', token: 'tok' });
  });

  it('calls everything else corrupt, with a reason', () => {
    for (const [raw, reason] of [
      ['{"id":1}', 'not an envelope'],
      ['cdc1:{"t":1,"e":2,"d":3}', 'header not terminated'],
      ['cdc1:{"t":1,"e":2}\n{}', 'header lacks t, e or d'],
      ['cdc1:not json\n{}', 'header is not JSON'],
      ['cdc1:[1]\n{}', 'header is not an object'],
      ['cdc1:{"t":1,"e":2,"d":3,"v":5}\n{}', 'header v is not text'],
      ['cdc1:{"t":1,"e":2,"d":3,"c":[-1]}\n{}', 'header c is not a list of counters'],
      ['cdc1:{"t":1,"e":2,"d":3,"n":1}\nleftover', 'a "not found" with a payload'],
      ['cdc1-lease:', 'lease marker without a token'],
    ] as const) {
      assert.deepEqual(readStored(raw), { kind: 'corrupt', reason }, raw);
    }
  });

  it('gives the header from the first bytes alone (what GETRANGE key 0 1023 returns)', () => {
    const text = encodeEnvelope({ filledAt: 10, expiresAt: 20, fillMs: 1, rowVersion: 'v'.repeat(256), counters: Array(16).fill(2 ** 52), notFound: false }, 'x'.repeat(100_000));
    const head = Buffer.from(text).subarray(0, MAX_HEADER_BYTES);
    assert.ok(text.indexOf('\n') < MAX_HEADER_BYTES, 'the largest header fits in MAX_HEADER_BYTES');
    assert.deepEqual(readEnvelopeHeader(head)?.rowVersion, 'v'.repeat(256));
    assert.equal(readEnvelopeHeader(head.subarray(0, 20)), undefined, 'a cut header is not a header');
    assert.equal(readEnvelopeHeader('cdc1-lease:x'), undefined);
    assert.equal(readEnvelopeHeader('plain'), undefined);
  });

  it('refuses headers beyond the bounds instead of writing them', () => {
    assert.throws(() => encodeEnvelope({ filledAt: 1, expiresAt: 2, fillMs: 0, rowVersion: 'v'.repeat(257), notFound: false }, ''), RangeError);
    assert.throws(() => encodeEnvelope({ filledAt: 1, expiresAt: 2, fillMs: 0, counters: Array(17).fill(1), notFound: false }, ''), RangeError);
  });
});
