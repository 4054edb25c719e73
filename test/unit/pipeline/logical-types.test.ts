import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decimalFromBase64 } from '../../../src/pipeline/decode/logical-types.js';

const b64 = (hex: string) => Buffer.from(hex, 'hex').toString('base64');

describe('Connect Decimal', () => {
  it('decodes two’s-complement big-endian bytes with a scale', () => {
    assert.equal(decimalFromBase64(b64('01e23a'), 2), '1234.50');
    assert.equal(decimalFromBase64(b64('ff'), 2), '-0.01');
    assert.equal(decimalFromBase64(b64('00'), 0), '0');
    assert.equal(decimalFromBase64(b64('7f'), 0), '127');
    assert.equal(decimalFromBase64(b64('80'), 0), '-128');
    assert.equal(decimalFromBase64(b64('05'), 3), '0.005');
    assert.equal(decimalFromBase64(b64('0a'), -2), '1000');
    assert.equal(decimalFromBase64(b64('00ffffffffffffffffff'), 0), '4722366482869645213695', '2^72 - 1');
  });
});
