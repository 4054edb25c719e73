import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseTemplate, renderTemplate, TemplateRenderError, TemplateSyntaxError, TOAST_PLACEHOLDER } from '../../../src/mapping/template.js';

describe('key templates', () => {
  it('renders columns, composite keys and filters', () => {
    const t = parseTemplate('order:{tenant_id}:{id}');
    assert.deepEqual(t.columns, ['tenant_id', 'id']);
    assert.deepEqual(renderTemplate(t, { tenant_id: 't1', id: 7 }), { ok: true, key: 'order:t1:7' });
    const e = parseTemplate('customer:email:{ email | lower | trim }');
    assert.deepEqual(renderTemplate(e, { email: '  Ann@X.org ' }), { ok: true, key: 'customer:email:ann@x.org' });
  });

  it('writes literal braces as {{ and }} (Redis Cluster hash tags)', () => {
    const t = parseTemplate('{{user:{id}}}:profile');
    assert.deepEqual(renderTemplate(t, { id: 42 }), { ok: true, key: '{user:42}:profile' });
  });

  it('renders int64 beyond 2^53 exactly, booleans and zero', () => {
    const t = parseTemplate('k:{id}:{flag}:{n}');
    assert.deepEqual(renderTemplate(t, { id: 9007199254740993n, flag: false, n: 0 }), { ok: true, key: 'k:9007199254740993:false:0' });
  });

  it('gives no key for null, absent, TOAST placeholder and unavailable columns', () => {
    const t = parseTemplate('customer:email:{email}');
    assert.deepEqual(renderTemplate(t, { email: null }), { ok: false, reason: 'null', column: 'email' });
    assert.deepEqual(renderTemplate(t, {}), { ok: false, reason: 'absent', column: 'email' });
    assert.deepEqual(renderTemplate(t, { email: TOAST_PLACEHOLDER }), { ok: false, reason: 'toast', column: 'email' });
    assert.deepEqual(renderTemplate(t, { email: '' }, (c) => c === 'email'), { ok: false, reason: 'key_only_image', column: 'email' });
  });

  it('refuses values that have no key rendering', () => {
    const t = parseTemplate('x:{doc}');
    assert.throws(() => renderTemplate(t, { doc: { a: 1 } }), TemplateRenderError);
    assert.throws(() => renderTemplate(t, { doc: [1] }), TemplateRenderError);
  });

  it('reports syntax errors with the index of the offending character', () => {
    const cases: Array<[string, number]> = [
      ['a:{id', 2],
      ['a:}', 2],
      ['a:{}', 2],
      ['a:{1x}', 2],
      ['a:{id|shout}', 2],
      ['', 0],
    ];
    for (const [src, index] of cases) {
      assert.throws(
        () => parseTemplate(src),
        (e: unknown) => e instanceof TemplateSyntaxError && e.index === index,
        src,
      );
    }
  });
});
