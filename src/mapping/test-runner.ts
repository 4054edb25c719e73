import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import type { ChangeEvent, RecordDecoder, SourceRecord } from '../domain/types.js';
import { evaluate } from './evaluate.js';
import { explainEvent, explanationLines, type MappingExplanation } from './explain-plan.js';
import type { MappingSet } from './mapping-set.js';
import type { Problem, SourcePos } from './model.js';
import { jsonBuffer } from '../util/json.js';
import { recordFromText } from './record-input.js';
import { parseTestFile, TARGET_FIELDS, type ListExpectation, type TargetField, type TestCase } from './test-file.js';
import { decodeUtf8 } from './utf8.js';

/**
 * `mappings test`: runs each case of the `*.test.yaml` files through the production decoder
 * (the CLI passes decodeDebeziumJson) and evaluate, and compares what it would invalidate with the expectation.
 */

export const TEST_FILE = /\.test\.ya?ml$/;

export interface LoadedTestFile {
  /** As shown in messages (relative to the working directory when below it). */
  readonly file: string;
  /** The path on disk. */
  readonly path: string;
  readonly cases: readonly TestCase[];
}

export interface LoadedTests {
  /** Files without errors, in name order. */
  readonly files: readonly LoadedTestFile[];
  /** Every test file found (with or without errors). */
  readonly found: readonly string[];
  readonly problems: readonly Problem[];
}

export type CaseStatus = 'pass' | 'fail' | 'error';

export interface Actual {
  readonly keys: readonly string[];
  readonly tags: readonly string[];
  readonly versions: readonly string[];
}

export interface Mismatch {
  readonly field: TargetField | 'nothing' | 'error';
  readonly pos: SourcePos;
  /** One line: what differs. */
  readonly summary: string;
  /** The readable diff, one line each (no trailing newline). */
  readonly lines: readonly string[];
}

export interface CaseResult {
  readonly file: string;
  readonly name: string;
  readonly pos: SourcePos;
  readonly status: CaseStatus;
  readonly durationMs: number;
  readonly mismatches: readonly Mismatch[];
  /** What the event invalidated (empty when it failed to decode or map). */
  readonly actual: Actual;
  /** Decode skipped the record (tombstone, heartbeat, …). */
  readonly skipped?: string;
  /** An unexpected decode or mapping error (status "error"). */
  readonly error?: string;
  /** Per mapping and template, for the failure report. */
  readonly explanation?: readonly MappingExplanation[];
  readonly table?: string;
  readonly op?: string;
  /** Names of the mappings the event fired. */
  readonly fired: readonly string[];
}

function shown(path: string): string {
  const r = relative(process.cwd(), path);
  return r === '' || r.startsWith('..') ? path : r;
}

async function listTestFiles(dir: string, depth = 0): Promise<string[]> {
  if (depth > 32) return [];
  const out: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => a.name.localeCompare(b.name));
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listTestFiles(path, depth + 1)));
    else if (TEST_FILE.test(e.name)) out.push(path);
  }
  return out;
}

/** Finds and parses every `*.test.yaml` / `*.test.yml` below dir; checks that referenced event files exist. */
export async function loadMappingTests(dir: string): Promise<LoadedTests> {
  const problems: Problem[] = [];
  let paths: string[];
  try {
    paths = await listTestFiles(dir);
  } catch (e) {
    return { files: [], found: [], problems: [{ file: dir, line: 1, col: 1, severity: 'error', message: `cannot read mappings directory: ${(e as Error).message}` }] };
  }
  const files: LoadedTestFile[] = [];
  for (const path of paths) {
    const file = shown(path);
    const decoded = decodeUtf8(file, await readFile(path));
    if (!('text' in decoded)) {
      problems.push({ ...decoded.pos, severity: 'error', message: decoded.message });
      continue;
    }
    const parsed = parseTestFile(file, decoded.text);
    const fileProblems = [...parsed.problems];
    for (const c of parsed.cases) {
      if (c.input.kind !== 'file') continue;
      const target = resolve(dirname(path), c.input.path);
      try {
        if (!(await stat(target)).isFile()) throw new Error('not a file');
      } catch (e) {
        fileProblems.push({ ...c.input.pos, severity: 'error', message: `event file "${c.input.path}" cannot be read (${shown(target)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` });
      }
    }
    problems.push(...fileProblems);
    if (!fileProblems.some((p) => p.severity === 'error')) files.push({ file, path, cases: parsed.cases });
  }
  problems.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col);
  return { files, found: paths.map(shown), problems };
}

async function recordOf(c: TestCase, testPath: string): Promise<SourceRecord> {
  const input = c.input;
  switch (input.kind) {
    case 'file': {
      const text = await readFile(resolve(dirname(testPath), input.path), 'utf8');
      return recordFromText(text, { topic: input.topic, key: input.key });
    }
    case 'value':
    case 'row':
      return { topic: input.topic, partition: 0, offset: '0', key: jsonBuffer(input.key), value: jsonBuffer(input.value), headers: {} };
  }
}

const sortNames = (a: readonly string[]): string[] => [...a].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
const list = (a: readonly string[]): string => (a.length === 0 ? '(none)' : `[${a.join(', ')}]`);

/** Compares one target list; undefined when it matches. */
export function compareList(field: TargetField, exp: ListExpectation, actual: readonly string[]): Mismatch | undefined {
  const have = new Set(actual);
  const want = new Set(exp.items);
  const missing = exp.items.filter((i) => !have.has(i));
  const unexpected = exp.mode === 'exact' ? actual.filter((a) => !want.has(a)) : [];
  if (missing.length === 0 && unexpected.length === 0) return undefined;
  const counts = [missing.length > 0 ? `${missing.length} missing` : '', unexpected.length > 0 ? `${unexpected.length} unexpected` : ''].filter(Boolean).join(', ');
  const lines: string[] = [];
  if (exp.mode === 'exact') {
    lines.push(`${field} (exact list, any order): ${counts}`);
    const width = Math.max(...[...want, ...have].map((s) => s.length));
    for (const name of sortNames([...new Set([...exp.items, ...actual])])) {
      if (!have.has(name)) lines.push(`  - ${name.padEnd(width)}   missing: expected, not invalidated`);
      else if (!want.has(name)) lines.push(`  + ${name.padEnd(width)}   unexpected: invalidated, not expected`);
      else lines.push(`    ${name}`);
    }
    lines.push(`  expected: ${list(sortNames(exp.items))}`, `  actual:   ${list(sortNames(actual))}`);
  } else {
    lines.push(`${field} (contains): ${counts}`);
    for (const name of missing) lines.push(`  - ${name}   missing: expected, not invalidated`);
    lines.push(`  actual ${field}: ${list(sortNames(actual))}`);
  }
  return { field, pos: exp.pos, summary: `${field}: ${counts}`, lines };
}

interface Outcome {
  readonly skipped?: string;
  readonly actual: Actual;
  readonly fired: string[];
}

/** Runs one case: decode → evaluate → compare. Never throws. */
export async function runCase(c: TestCase, testPath: string, set: MappingSet, decode: RecordDecoder): Promise<CaseResult> {
  const started = process.hrtime.bigint();
  const base = { file: c.file, name: c.name, pos: c.pos };
  const elapsed = (): number => Number(process.hrtime.bigint() - started) / 1e6;
  const empty: Actual = { keys: [], tags: [], versions: [] };
  let event: ChangeEvent | undefined;
  let outcome: Outcome;
  try {
    const decoded = await decode(await recordOf(c, testPath));
    if (decoded.kind === 'skip') {
      outcome = { skipped: decoded.reason, actual: empty, fired: [] };
    } else {
      // What the worker would know from an earlier update of the table (event.replica_identity).
      event = c.input.identity ? { ...decoded.event, learnedIdentity: c.input.identity } : decoded.event;
      const plan = evaluate(event, set);
      outcome = { actual: { keys: plan.keys, tags: plan.tags, versions: plan.versions }, fired: plan.results.filter((m) => m.fired).map((m) => m.mapping) };
    }
  } catch (e) {
    const err = e as Error & { code?: string };
    const message = `${err.code ? `${err.code}: ` : ''}${err.message}`;
    // A mapping error (a value no name can be made of): show which template met it.
    const extra = event ? { table: event.table, op: event.op, explanation: explainEvent(event, set) } : {};
    if (c.expect.error) {
      const ok = message.toLowerCase().includes(c.expect.error.text.toLowerCase());
      const mismatches: Mismatch[] = ok ? [] : [{ field: 'error', pos: c.expect.error.pos, summary: 'a different error', lines: [`error: expected a message containing "${c.expect.error.text}"`, `  actual error: ${message}`] }];
      return { ...base, status: ok ? 'pass' : 'fail', durationMs: elapsed(), mismatches, actual: empty, error: message, fired: [], ...(ok ? {} : extra) };
    }
    return { ...base, status: 'error', durationMs: elapsed(), mismatches: [], actual: empty, error: message, fired: [], ...extra };
  }

  const { actual, skipped, fired } = outcome;
  const mismatches: Mismatch[] = [];
  if (c.expect.error) {
    mismatches.push({
      field: 'error',
      pos: c.expect.error.pos,
      summary: 'no error',
      lines: [`error: expected a message containing "${c.expect.error.text}", but the record ${skipped ? `was skipped (${skipped})` : 'decoded and mapped'}`,
        `  actual: keys ${list(actual.keys)}, tags ${list(actual.tags)}, versions ${list(actual.versions)}`],
    });
  }
  if (c.expect.nothing) {
    const all = TARGET_FIELDS.flatMap((f) => actual[f].map((n) => `${f.slice(0, -1)} ${n}`));
    if (all.length > 0) {
      mismatches.push({ field: 'nothing', pos: c.expect.nothing, summary: `${all.length} unexpected`, lines: ['nothing: expected no key, tag or version, but got', ...all.map((a) => `  + ${a}`)] });
    }
  }
  for (const f of TARGET_FIELDS) {
    const exp = c.expect[f];
    if (!exp) continue;
    const m = compareList(f, exp, actual[f]);
    if (m) mismatches.push(m);
  }
  const explanation = mismatches.length > 0 && event ? explainEvent(event, set) : undefined;
  return {
    ...base,
    status: mismatches.length === 0 ? 'pass' : 'fail',
    durationMs: elapsed(),
    mismatches,
    actual,
    fired,
    ...(skipped ? { skipped } : {}),
    ...(explanation ? { explanation } : {}),
    ...(event ? { table: event.table, op: event.op } : {}),
  };
}

export interface RunSummary {
  readonly results: readonly CaseResult[];
  readonly passed: number;
  readonly failed: number;
  readonly errors: number;
  /** Mappings that no case fired (declared order). */
  readonly unexercised: readonly { readonly name: string; readonly pos: SourcePos }[];
}

/** Runs every case of the loaded files against the mapping set, in file order. */
export async function runMappingTests(tests: LoadedTests, set: MappingSet, decode: RecordDecoder): Promise<RunSummary> {
  const results: CaseResult[] = [];
  const fired = new Set<string>();
  for (const f of tests.files) {
    for (const c of f.cases) {
      const r = await runCase(c, f.path, set, decode);
      results.push(r);
      for (const m of r.fired) fired.add(m);
    }
  }
  return {
    results,
    passed: results.filter((r) => r.status === 'pass').length,
    failed: results.filter((r) => r.status === 'fail').length,
    errors: results.filter((r) => r.status === 'error').length,
    unexercised: set.mappings.filter((m) => !fired.has(m.name)).map((m) => ({ name: m.name, pos: m.pos })),
  };
}

/** The report lines of one result: `ok` one line; a failure with its diff and how the event was mapped. */
export function formatCaseResult(r: CaseResult): string[] {
  const where = `${r.file}:${r.pos.line}:${r.pos.col}`;
  if (r.status === 'pass') return [`ok    ${where}  ${r.name}`];
  const lines = [`${r.status === 'fail' ? 'FAIL' : 'ERROR'}  ${where}  ${r.name}`];
  if (r.status === 'error') {
    lines.push(`  the record could not be decoded or mapped: ${r.error ?? ''}`);
    lines.push('  (if that is what this case is about, expect it: `expect: {error: "<part of the message>"}`)');
    if (r.explanation) lines.push('  how the event was mapped:', ...explanationLines(r.explanation, '    '));
    return lines;
  }
  if (r.table) lines.push(`  event: op ${r.op} on ${r.table}`);
  if (r.skipped) lines.push(`  event: the decoder skipped the record (${r.skipped}): it invalidates nothing`);
  for (const m of r.mismatches) {
    lines.push(`  ${m.pos.file}:${m.pos.line}:${m.pos.col}`);
    for (const l of m.lines) lines.push(`    ${l}`);
  }
  if (r.explanation) {
    if (r.explanation.length === 0) lines.push(`  no mapping matches table ${r.table ?? '?'}`);
    else lines.push('  how the event was mapped:', ...explanationLines(r.explanation, '    '));
  }
  return lines;
}
