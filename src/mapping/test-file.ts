import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type Pair, type YAMLMap } from 'yaml';
import { CHANGE_OPS, type ChangeOp, type ReplicaIdentityKind } from '../domain/types.js';
import type { Problem, SourcePos } from './model.js';
import { TABLE_PATTERN } from './table-pattern.js';
import { fieldsOf } from './yaml-fields.js';
import { yamlErrorMessage } from './yaml-fields.js';

/**
 * Mapping test files (`users.test.yaml` beside `users.yaml`): cases of an input event and what it must
 * invalidate. Parsing is pure (no I/O); event files are read by the runner. See docs/mapping-tests.md.
 */

export const TEST_FILE_FIELDS = ['tests'] as const;
export const CASE_FIELDS = ['name', 'event', 'expect'] as const;
export const EVENT_FIELDS = ['file', 'value', 'table', 'op', 'before', 'after', 'key', 'topic', 'replica_identity'] as const;
export const EXPECT_FIELDS = ['keys', 'tags', 'versions', 'nothing', 'error'] as const;
export const TARGET_FIELDS = ['keys', 'tags', 'versions'] as const;
export type TargetField = (typeof TARGET_FIELDS)[number];

/** Topic a bare value or a shorthand event is read from when the case names none. */
export const DEFAULT_TOPIC = 'mappings-test';

export type CaseInput = (
  /** A file (relative to the test file): one Kafka record `{topic, key, value, headers}` or a bare value. */
  | { readonly kind: 'file'; readonly path: string; readonly pos: SourcePos; readonly topic: string; readonly key: unknown }
  /** A record value given inline: a JSON value (YAML map), `null` (a tombstone), or a string of raw text. */
  | { readonly kind: 'value'; readonly value: unknown; readonly topic: string; readonly key: unknown }
  /** `{table, op, before, after}`: turned into a Debezium envelope and decoded like any other. */
  | { readonly kind: 'row'; readonly table: string; readonly op: ChangeOp; readonly value: unknown; readonly topic: string; readonly key: unknown }
) & {
  /** The table's replica identity as the worker would have learned it from an earlier update (`event.replica_identity`). */
  readonly identity?: ReplicaIdentityKind;
};

export interface ListExpectation {
  readonly mode: 'exact' | 'contains';
  readonly items: readonly string[];
  readonly pos: SourcePos;
}

export interface Expectation {
  readonly keys?: ListExpectation;
  readonly tags?: ListExpectation;
  readonly versions?: ListExpectation;
  /** No key, tag or version at all (also: the record was skipped, or nothing matched). */
  readonly nothing?: SourcePos;
  /** The record must fail to decode or map, with a message (or code) containing this text. */
  readonly error?: { readonly text: string; readonly pos: SourcePos };
}

export interface TestCase {
  readonly file: string;
  readonly name: string;
  readonly pos: SourcePos;
  readonly input: CaseInput;
  readonly expect: Expectation;
}

export interface TestFileParse {
  readonly cases: TestCase[];
  readonly problems: Problem[];
}


/** `{op, before, after, source}` as Debezium's Postgres connector writes it (JSON converter, no schemas). */
function envelope(table: string, op: ChangeOp, before: unknown, after: unknown): unknown {
  const dot = table.indexOf('.');
  return {
    before: op === 't' ? null : (before ?? null),
    after: op === 't' || op === 'd' ? null : (after ?? null),
    source: { connector: 'postgresql', name: 'test', db: 'test', schema: table.slice(0, dot), table: table.slice(dot + 1) },
    op,
  };
}

/**
 * Parses one test file. `file` is the name used in problems and reports. Integers are read as bigint
 * where needed, so ids beyond 2^53 reach the decoder exactly as Debezium would write them.
 */
export function parseTestFile(file: string, text: string): TestFileParse {
  const lineCounter = new LineCounter();
  const doc: Document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, intAsBigInt: true });
  const problems: Problem[] = [];
  const cases: TestCase[] = [];
  const posAt = (offset: number): SourcePos => ({ file, ...lineCounter.linePos(offset) });
  const posOf = (node: Node | null | undefined): SourcePos => posAt(node?.range?.[0] ?? 0);
  const error = (pos: SourcePos, message: string): void => void problems.push({ ...pos, severity: 'error', message });
  /** Plain JS of a node: bigint only where a number would lose precision. */
  const toJS = (node: Node | null | undefined): unknown => narrow(node === null || node === undefined ? null : node.toJS(doc));

  for (const e of doc.errors) error(posAt(e.pos[0]), yamlErrorMessage(e));
  if (doc.errors.length > 0) return { cases, problems };

  const root = doc.contents;
  if (!isMap(root)) {
    error(posOf(root), 'a mapping test file must be a YAML map with a "tests:" list');
    return { cases, problems };
  }
  fieldsOf(root, TEST_FILE_FIELDS, (k, n) => error(posOf(k), `unknown top-level field "${n}" (expected "tests")`));
  const list = root.get('tests', true) as Node | undefined;
  if (!isSeq(list)) {
    error(posOf(list ?? root), '"tests" must be a list of test cases');
    return { cases, problems };
  }
  if (list.items.length === 0) error(posOf(list), '"tests" is empty');

  const names = new Map<string, SourcePos>();
  for (const item of list.items as Node[]) {
    if (!isMap(item)) {
      error(posOf(item), 'each test case must be a map with name, event and expect');
      continue;
    }
    const before = problems.length;
    const here = posOf(item);
    const fields = fieldsOf(item, CASE_FIELDS, (k, n) => error(posOf(k), `unknown field "${n}" (known: ${CASE_FIELDS.join(', ')})`));

    let name: string | undefined;
    const namePair = fields.get('name');
    if (!namePair) error(here, 'test case is missing "name"');
    else if (!isScalar(namePair.value) || typeof namePair.value.value !== 'string' || namePair.value.value.trim() === '') {
      error(posOf(namePair.value ?? namePair.key), '"name" must be a non-empty string');
    } else {
      name = namePair.value.value;
      const first = names.get(name);
      if (first) error(posOf(namePair.value), `duplicate test name "${name}" (first at line ${first.line})`);
      else names.set(name, posOf(namePair.value));
    }

    const input = parseInput(fields.get('event'), here);
    const expect = parseExpect(fields.get('expect'), here);
    if (name !== undefined && input && expect && problems.length === before) cases.push({ file, name, pos: here, input, expect });
  }
  problems.sort((a, b) => a.line - b.line || a.col - b.col);
  return { cases, problems };

  function parseInput(pair: Pair<Node, Node> | undefined, here: SourcePos): CaseInput | undefined {
    const input = parseInputOnly(pair, here);
    const identityPair = pair && isMap(pair.value) ? (pair.value as YAMLMap<Node, Node>).items.find((p) => isScalar(p.key) && p.key.value === 'replica_identity') : undefined;
    if (!input || !identityPair) return input;
    const v = identityPair.value;
    if (!isScalar(v) || (v.value !== 'full' && v.value !== 'default')) {
      error(posOf(v ?? identityPair.key), '"event.replica_identity" must be full or default: the table\'s identity as the worker learned it from an earlier update');
      return undefined;
    }
    return { ...input, identity: v.value };
  }

  function parseInputOnly(pair: Pair<Node, Node> | undefined, here: SourcePos): CaseInput | undefined {
    if (!pair) {
      error(here, 'test case is missing "event" (give file, value, or table and op)');
      return undefined;
    }
    if (!isMap(pair.value)) {
      error(posOf(pair.value ?? pair.key), '"event" must be a map: {file: …}, {value: …} or {table: …, op: …, before: …, after: …}');
      return undefined;
    }
    const at = posOf(pair.value);
    const f = fieldsOf(pair.value, EVENT_FIELDS, (k, n) => error(posOf(k), `unknown field "event.${n}" (known: ${EVENT_FIELDS.join(', ')})`));
    const modes = (['file', 'value', 'table'] as const).filter((m) => f.has(m));
    if (modes.length !== 1) {
      error(at, modes.length === 0
        ? '"event" needs one of: file (a record or value JSON file), value (the record value inline), or table + op (a row change)'
        : `"event" takes only one of ${modes.join(', ')}`);
      return undefined;
    }
    const topicPair = f.get('topic');
    let topic: string | undefined;
    if (topicPair) {
      if (!isScalar(topicPair.value) || typeof topicPair.value.value !== 'string' || topicPair.value.value === '') error(posOf(topicPair.value ?? topicPair.key), '"event.topic" must be a non-empty string');
      else topic = topicPair.value.value;
    }
    const keyPair = f.get('key');
    let key: unknown = keyPair ? toJS(keyPair.value) : undefined;

    if (modes[0] === 'file') {
      const v = f.get('file')!.value;
      if (!isScalar(v) || typeof v.value !== 'string' || v.value === '') {
        error(posOf(v ?? f.get('file')!.key), '"event.file" must be a path (relative to this test file)');
        return undefined;
      }
      for (const g of ['op', 'before', 'after'] as const) if (f.has(g)) error(posOf(f.get(g)!.key), `"event.${g}" belongs to the table + op form, not to event.file`);
      if (Array.isArray(key)) error(posOf(keyPair!.value), '"event.key" as a list of key columns belongs to the table + op form; give the record key as a map');
      return { kind: 'file', path: v.value, pos: posOf(v), topic: topic ?? DEFAULT_TOPIC, key };
    }

    if (modes[0] === 'value') {
      for (const g of ['op', 'before', 'after'] as const) if (f.has(g)) error(posOf(f.get(g)!.key), `"event.${g}" belongs to the table + op form; inside event.value write the whole envelope`);
      const v = f.get('value')!.value;
      if (isSeq(v) || (isScalar(v) && v.value !== null && typeof v.value !== 'string')) {
        error(posOf(v), '"event.value" must be the record value: a map (the JSON object), null (a tombstone) or a string (raw text)');
        return undefined;
      }
      if (Array.isArray(key)) error(posOf(keyPair!.value), '"event.key" as a list of key columns belongs to the table + op form; give the record key as a map');
      return { kind: 'value', value: toJS(v), topic: topic ?? DEFAULT_TOPIC, key };
    }

    // table + op shorthand
    const tableNode = f.get('table')!.value;
    let table: string | undefined;
    if (!isScalar(tableNode) || typeof tableNode.value !== 'string' || !TABLE_PATTERN.test(tableNode.value) || /[*?]/.test(tableNode.value)) {
      error(posOf(tableNode ?? f.get('table')!.key), '"event.table" must be a table written schema.table (no globs: an event comes from one table)');
    } else {
      table = tableNode.value;
    }
    const opPair = f.get('op');
    let op: ChangeOp | undefined;
    if (!opPair) error(at, '"event" with "table" needs "op" (c, u, d, r or t)');
    else if (!isScalar(opPair.value) || !(CHANGE_OPS as readonly unknown[]).includes(opPair.value.value)) {
      error(posOf(opPair.value ?? opPair.key), `"event.op" must be one of ${CHANGE_OPS.join(', ')}`);
    } else {
      op = opPair.value.value as ChangeOp;
    }
    const image = (which: 'before' | 'after'): Record<string, unknown> | null | undefined => {
      const p = f.get(which);
      if (!p) return undefined;
      if (isScalar(p.value) && p.value.value === null) return null;
      if (!isMap(p.value)) {
        error(posOf(p.value ?? p.key), `"event.${which}" must be a map of column: value (or null)`);
        return undefined;
      }
      return toJS(p.value) as Record<string, unknown>;
    };
    const b = image('before');
    const a = image('after');
    if (table === undefined || op === undefined) return undefined;
    const need = (which: 'before' | 'after', img: unknown, why: string): void => {
      if (img === undefined || img === null) error(at, `op "${op}" needs "event.${which}" (${why})`);
    };
    if (op === 'c' || op === 'r' || op === 'u') need('after', a, 'the new row');
    if (op === 'd') need('before', b, 'the old row; under REPLICA IDENTITY DEFAULT only the key columns are real');
    if (op === 'd' && f.has('after')) error(posOf(f.get('after')!.key), 'a delete has no "after" image');
    if ((op === 'c' || op === 'r') && f.has('before')) error(posOf(f.get('before')!.key), `op "${op}" has no "before" image`);
    if (op === 't' && (f.has('before') || f.has('after'))) error(at, 'a truncate has no row: drop before and after');

    if (Array.isArray(key)) {
      // key: [id] — the record key built from the row, as Debezium keys a table by its primary key
      const row = (op === 'd' ? b : (a ?? b)) ?? {};
      const built: Record<string, unknown> = {};
      for (const c of key) {
        if (typeof c !== 'string') error(posOf(keyPair!.value), '"event.key" as a list must name key columns');
        else if (!(c in row)) error(posOf(keyPair!.value), `key column "${c}" is not in the ${op === 'd' ? 'before' : 'after'} image`);
        else built[c] = row[c];
      }
      key = built;
    } else if (key !== undefined && key !== null && (typeof key !== 'object')) {
      error(posOf(keyPair!.value), '"event.key" must be the record key as a map ({id: 42}), a list of key columns ([id]) or null');
    }
    return { kind: 'row', table, op, value: envelope(table, op, b, a), topic: topic ?? `test.${table}`, key };
  }

  function parseExpect(pair: Pair<Node, Node> | undefined, here: SourcePos): Expectation | undefined {
    if (!pair) {
      error(here, 'test case is missing "expect" (keys, tags, versions, nothing or error)');
      return undefined;
    }
    if (!isMap(pair.value)) {
      error(posOf(pair.value ?? pair.key), '"expect" must be a map with keys, tags, versions, nothing or error');
      return undefined;
    }
    const f = fieldsOf(pair.value, EXPECT_FIELDS, (k, n) => error(posOf(k), `unknown field "expect.${n}" (known: ${EXPECT_FIELDS.join(', ')})`));
    const out: { -readonly [K in keyof Expectation]: Expectation[K] } = {};
    for (const field of TARGET_FIELDS) {
      const p = f.get(field);
      if (p) out[field] = listExpectation(p, field);
    }
    const nothing = f.get('nothing');
    if (nothing) {
      if (!isScalar(nothing.value) || nothing.value.value !== true) error(posOf(nothing.value ?? nothing.key), '"expect.nothing" can only be true (leave it out otherwise)');
      else out.nothing = posOf(nothing.key);
      const also = TARGET_FIELDS.filter((t) => f.has(t));
      if (also.length > 0) error(posOf(nothing.key), `"expect.nothing" excludes ${also.join(', ')}`);
    }
    const err = f.get('error');
    if (err) {
      if (!isScalar(err.value) || typeof err.value.value !== 'string' || err.value.value === '') error(posOf(err.value ?? err.key), '"expect.error" must be a non-empty string (part of the error message or its code)');
      else out.error = { text: err.value.value, pos: posOf(err.key) };
      if (f.size > 1) error(posOf(err.key), '"expect.error" stands alone: a failing record invalidates nothing');
    }
    if (f.size === 0) error(posOf(pair.value), '"expect" is empty: give keys, tags, versions, nothing: true, or error');
    return out;
  }

  function listExpectation(pair: Pair<Node, Node>, field: TargetField): ListExpectation | undefined {
    let node = pair.value;
    let mode: 'exact' | 'contains' = 'exact';
    if (isMap(node)) {
      const inner = fieldsOf(node, ['contains'], (k, n) => error(posOf(k), `unknown field "expect.${field}.${n}" (write a list for the exact names, or {contains: [...]})`));
      const c = inner.get('contains');
      if (!c) {
        error(posOf(node), `"expect.${field}" as a map needs "contains: [...]"`);
        return undefined;
      }
      node = c.value;
      mode = 'contains';
    }
    if (isScalar(node) && typeof node.value === 'string') {
      return { mode, items: [node.value], pos: posOf(pair.key) };
    }
    if (!isSeq(node)) {
      error(posOf(node ?? pair.key), `"expect.${field}" must be a list of names (exact, in any order) or {contains: [names]}`);
      return undefined;
    }
    const items: string[] = [];
    for (const it of node.items as Node[]) {
      const v: unknown = isScalar(it) ? it.value : undefined;
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'bigint') {
        error(posOf(it), `"expect.${field}" entries must be names (strings)`);
        continue;
      }
      const s = String(v);
      if (items.includes(s)) error(posOf(it), `"${s}" is listed twice`);
      else items.push(s);
    }
    if (mode === 'contains' && items.length === 0) error(posOf(node), `"expect.${field}.contains" is empty (write ${field}: [] for "none")`);
    return { mode, items, pos: posOf(pair.key) };
  }
}

/** bigint → number where exact, so only int64 values beyond 2^53 stay bigint. */
function narrow(v: unknown): unknown {
  if (typeof v === 'bigint') {
    const n = Number(v);
    return Number.isSafeInteger(n) ? n : v;
  }
  if (Array.isArray(v)) return v.map(narrow);
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = narrow(x);
    return out;
  }
  return v;
}
