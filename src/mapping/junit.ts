import type { Problem } from './model.js';
import { formatProblem } from './model.js';
import { formatCaseResult, type CaseResult } from './test-runner.js';

/**
 * JUnit XML for `mappings test --junit-report FILE`: one <testsuite> per test file, one <testcase> per
 * case (a <failure> for a mismatch, an <error> for a record that failed to decode or map), and invalid
 * mapping or test files as a suite of <error> cases, so CI shows them too.
 */

// XML 1.0 allows tab, LF, CR and most of the BMP; anything else (other control characters, lone surrogates) goes.
const INVALID_XML = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

export function xmlEscape(s: string): string {
  return s.replace(INVALID_XML, '\uFFFD').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

function attrs(a: Record<string, string | number>): string {
  return Object.entries(a).map(([k, v]) => ` ${k}="${xmlEscape(String(v))}"`).join('');
}

const seconds = (ms: number): string => (ms / 1000).toFixed(3);

export interface JUnitInput {
  readonly results: readonly CaseResult[];
  /** Problems that made mapping or test files invalid (errors only are reported). */
  readonly problems?: readonly Problem[];
  readonly timestamp?: Date;
  readonly name?: string;
}

export function junitXml(input: JUnitInput): string {
  const timestamp = (input.timestamp ?? new Date()).toISOString().replace(/\.\d{3}Z$/, '');
  const byFile = new Map<string, CaseResult[]>();
  for (const r of input.results) {
    const list = byFile.get(r.file) ?? [];
    list.push(r);
    byFile.set(r.file, list);
  }
  const suites: string[] = [];
  let tests = 0;
  let failures = 0;
  let errors = 0;
  let totalMs = 0;
  for (const [file, results] of byFile) {
    const f = results.filter((r) => r.status === 'fail').length;
    const e = results.filter((r) => r.status === 'error').length;
    const ms = results.reduce((s, r) => s + r.durationMs, 0);
    tests += results.length;
    failures += f;
    errors += e;
    totalMs += ms;
    const cases = results.map((r) => {
      const head = `    <testcase${attrs({ name: r.name, classname: file, file, line: r.pos.line, time: seconds(r.durationMs) })}`;
      if (r.status === 'pass') return `${head}/>`;
      const body = xmlEscape(formatCaseResult(r).join('\n'));
      const message = r.status === 'fail' ? r.mismatches.map((m) => m.summary).join('; ') : (r.error ?? 'error');
      const tag = r.status === 'fail' ? 'failure' : 'error';
      return `${head}>\n      <${tag}${attrs({ message, type: r.status === 'fail' ? 'MappingTestFailure' : 'MappingTestError' })}>${body}</${tag}>\n    </testcase>`;
    });
    suites.push(`  <testsuite${attrs({ name: file, tests: results.length, failures: f, errors: e, skipped: 0, time: seconds(ms), timestamp })}>\n${cases.join('\n')}\n  </testsuite>`);
  }
  const invalid = (input.problems ?? []).filter((p) => p.severity === 'error');
  if (invalid.length > 0) {
    tests += invalid.length;
    errors += invalid.length;
    const cases = invalid.map((p) => `    <testcase${attrs({ name: `${p.file}:${p.line}:${p.col}`, classname: 'invalid files', file: p.file, line: p.line, time: '0.000' })}>\n      <error${attrs({ message: p.message, type: 'InvalidFile' })}>${xmlEscape(formatProblem(p))}</error>\n    </testcase>`);
    suites.push(`  <testsuite${attrs({ name: 'invalid mapping or test files', tests: invalid.length, failures: 0, errors: invalid.length, skipped: 0, time: '0.000', timestamp })}>\n${cases.join('\n')}\n  </testsuite>`);
  }
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites${attrs({ name: input.name ?? 'cdc-invalidator mappings test', tests, failures, errors, time: seconds(totalMs) })}>`,
    ...suites,
    '</testsuites>',
    '',
  ].join('\n');
}
