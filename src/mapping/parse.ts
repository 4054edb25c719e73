import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type Pair, type Scalar } from 'yaml';
import { CHANGE_OPS, type ChangeOp, type ReplicaIdentityKind } from '../domain/types.js';
import { DURATION_RANGES, durationValue } from '../config/values.js';
import type { Mapping, Problem, SourcePos, Targets } from './model.js';
import { parseTablePattern, type TablePattern } from './table-pattern.js';
import { parseTemplate, TemplateSyntaxError, type Template } from './template.js';
import { fieldsOf, resolveAlias, yamlErrorMessage } from './yaml-fields.js';

/** Every field a mapping may have; the JSON Schema in schema/ mirrors this. */
export const MAPPING_FIELDS = ['name', 'table', 'keys', 'tags', 'versions', 'ops', 'when', 'second_delete_delay', 'on_truncate', 'replica_identity', 'version_column'] as const;
const REPLICA_IDENTITIES: readonly ReplicaIdentityKind[] = ['full', 'default'];
const TARGET_FIELDS = ['keys', 'tags', 'versions'] as const;
export const DEFAULT_OPS: readonly ChangeOp[] = ['c', 'u', 'd', 't'];
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const COLUMN = /^[A-Za-z_][A-Za-z0-9_$]*$/;

/** An unknown field; `<<` is YAML's merge key, which mapping files do not support. */
function unknownField(name: string, known: readonly string[]): string {
  if (name === '<<') return 'YAML merge keys ("<<: *anchor") are not supported: use an alias per field ("keys: *k")';
  return `unknown field "${name}" (known: ${known.join(', ')})`;
}

export interface ParseResult {
  readonly mappings: Mapping[];
  readonly problems: Problem[];
}


/** Parses one mapping file's text; every problem carries file:line:col. Pure: no I/O. */
export function parseMappingFile(file: string, text: string): ParseResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const problems: Problem[] = [];
  const mappings: Mapping[] = [];

  const posAt = (offset: number): SourcePos => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, col };
  };
  const posOf = (node: Node | null | undefined): SourcePos => posAt(node?.range?.[0] ?? 0);
  const error = (pos: SourcePos, message: string): void => void problems.push({ ...pos, severity: 'error', message });
  const warning = (pos: SourcePos, message: string): void => void problems.push({ ...pos, severity: 'warning', message });

  for (const e of doc.errors) error(posAt(e.pos[0]), yamlErrorMessage(e));
  if (doc.errors.length > 0) return { mappings, problems };
  /** A node with aliases (`*k`) resolved to what they name (`&k`). */
  const deref = (n: unknown): Node | undefined => resolveAlias(doc, n);

  const root = deref(doc.contents);
  if (!isMap(root)) {
    error(posOf(root), 'a mapping file must be a YAML map with a "mappings:" list');
    return { mappings, problems };
  }
  fieldsOf(root, ['mappings'], (k, name) => error(posOf(k), `unknown top-level field "${name}" (expected "mappings")`));
  const list = deref(root.get('mappings', true));
  if (!isSeq(list)) {
    error(posOf(list ?? root), '"mappings" must be a list of mappings');
    return { mappings, problems };
  }

  /** A list of strings (a lone string is accepted as a one-item list). */
  const stringList = (pair: Pair<Node, Node>, field: string): Scalar<string>[] | undefined => {
    const v = deref(pair.value);
    if (isScalar(v) && typeof v.value === 'string') return [v as Scalar<string>];
    if (!isSeq(v)) {
      error(posOf(v ?? pair.key), `"${field}" must be a list of strings`);
      return undefined;
    }
    const out: Scalar<string>[] = [];
    for (const raw of v.items as Node[]) {
      const item = deref(raw);
      if (!isScalar(item) || typeof item.value !== 'string') error(posOf(item ?? raw), `"${field}" entries must be strings`);
      else out.push(item as Scalar<string>);
    }
    return out;
  };

  const templates = (pair: Pair<Node, Node> | undefined, field: string): Template[] => {
    if (!pair) return [];
    const out: Template[] = [];
    for (const k of stringList(pair, field) ?? []) {
      try {
        out.push(parseTemplate(k.value));
      } catch (e) {
        if (!(e instanceof TemplateSyntaxError)) throw e;
        // Point at the character inside the template; quoted scalars start one column later.
        const quoted = k.type === 'QUOTE_DOUBLE' || k.type === 'QUOTE_SINGLE' ? 1 : 0;
        error(posAt((k.range?.[0] ?? 0) + quoted + e.index), `${field} template "${k.value}": ${e.message}`);
      }
    }
    return out;
  };

  const targets = (fields: Map<string, Pair<Node, Node>>): Targets => ({
    keys: templates(fields.get('keys'), 'keys'),
    tags: templates(fields.get('tags'), 'tags'),
    versions: templates(fields.get('versions'), 'versions'),
  });
  const count = (t: Targets): number => t.keys.length + t.tags.length + t.versions.length;

  for (const rawItem of list.items as Node[]) {
    const item = deref(rawItem);
    if (!isMap(item)) {
      error(posOf(item), 'each mapping must be a map with name, table and keys, tags or versions');
      continue;
    }
    const problemsBefore = problems.filter((p) => p.severity === 'error').length;
    const here = posOf(item);
    const fields = fieldsOf(item, MAPPING_FIELDS, (k, name) => error(posOf(k), unknownField(name, MAPPING_FIELDS)));
    const str = (field: string): { value: string; pos: SourcePos } | undefined => {
      const pair = fields.get(field);
      if (!pair) {
        error(here, `mapping is missing "${field}"`);
        return undefined;
      }
      const v = deref(pair.value);
      if (!isScalar(v) || typeof v.value !== 'string' || v.value === '') {
        error(posOf(v ?? pair.key), `"${field}" must be a non-empty string`);
        return undefined;
      }
      return { value: v.value, pos: posOf(v) };
    };

    const name = str('name');
    if (name && !NAME.test(name.value)) error(name.pos, `name "${name.value}" may hold only letters, digits, "_", "." and "-"`);
    const tableField = str('table');
    let table: TablePattern | undefined;
    if (tableField) {
      try {
        table = parseTablePattern(tableField.value);
      } catch (e) {
        error(tableField.pos, (e as Error).message);
      }
    }

    for (const f of TARGET_FIELDS) {
      const pair = fields.get(f);
      const v = deref(pair?.value);
      if (pair && isSeq(v) && v.items.length === 0) error(posOf(v), `"${f}" is empty`);
    }
    const own = targets(fields);

    let ops: ChangeOp[] = [...DEFAULT_OPS];
    const opsPair = fields.get('ops');
    if (opsPair) {
      const opsNode = deref(opsPair.value);
      const raw = isScalar(opsNode) && typeof opsNode.value === 'string'
        ? String(opsNode.value).split(',').map((s) => s.trim()).map((value) => ({ value, node: opsNode as Node }))
        : (stringList(opsPair, 'ops') ?? []).map((s) => ({ value: s.value, node: s as Node }));
      ops = [];
      for (const { value, node } of raw) {
        if (!(CHANGE_OPS as readonly string[]).includes(value)) error(posOf(node), `unknown op "${value}" (known: ${CHANGE_OPS.join(', ')})`);
        else if (!ops.includes(value as ChangeOp)) ops.push(value as ChangeOp);
      }
      if (raw.length === 0) error(posOf(opsPair.value ?? opsPair.key), '"ops" is empty: the mapping would never fire');
    }

    let whenChanged: string[] | undefined;
    const whenPair = fields.get('when');
    if (whenPair) {
      const whenNode = deref(whenPair.value);
      if (!isMap(whenNode)) {
        error(posOf(whenNode ?? whenPair.key), '"when" must be a map (when: {changed: [column, ...]})');
      } else {
        const when = fieldsOf(whenNode, ['changed'], (k, n) => error(posOf(k), `unknown field "when.${n}" (known: changed)`));
        const changed = when.get('changed');
        if (changed) {
          whenChanged = [];
          const columns = stringList(changed, 'when.changed');
          for (const c of columns ?? []) {
            if (!COLUMN.test(c.value)) error(posOf(c), `"${c.value}" is not a column name`);
            else whenChanged.push(c.value);
          }
          if (columns?.length === 0) error(posOf(deref(changed.value) ?? changed.key), '"when.changed" is empty');
          if (!ops.includes('u')) warning(posOf(changed.key), '"when.changed" only filters updates, and this mapping does not fire on "u"');
        }
      }
    }

    let secondDeleteDelayMs: number | undefined;
    const delayPair = fields.get('second_delete_delay');
    if (delayPair) {
      const v = deref(delayPair.value);
      // The text as written (a YAML number such as 1e9 is read the way a flag is: digits, or a number with a unit).
      const raw = isScalar(v) && typeof v.value === 'string' ? v.value : isScalar(v) && typeof v.value === 'number' && v.range ? text.slice(v.range[0], v.range[1]) : undefined;
      try {
        if (raw === undefined) throw new RangeError('expected milliseconds or a duration such as 1500ms or 2s');
        const [min, max] = DURATION_RANGES['second-delete-delay'];
        secondDeleteDelayMs = durationValue(raw, 'second_delete_delay', min, max);
      } catch (e) {
        error(posOf(v ?? delayPair.key), `second_delete_delay: ${(e as Error).message.replace(/^second_delete_delay: /, '')}`);
      }
      if (own.keys.length + own.tags.length === 0) warning(posOf(delayPair.key), 'second_delete_delay has no effect: the mapping has no keys or tags');
    }

    let replicaIdentity: ReplicaIdentityKind | undefined;
    const identityPair = fields.get('replica_identity');
    if (identityPair) {
      const v = deref(identityPair.value);
      if (isScalar(v) && typeof v.value === 'string' && (REPLICA_IDENTITIES as readonly string[]).includes(v.value.toLowerCase())) {
        replicaIdentity = v.value.toLowerCase() as ReplicaIdentityKind;
      } else {
        error(posOf(v ?? identityPair.key), `replica_identity must be full or default (the table's REPLICA IDENTITY: DEFAULT, and NOTHING or USING INDEX, are "default")`);
      }
    }

    // The column (or Postgres' system column xmin) that identifies the row version a cached value was
    // read at; the cache client records it in its envelope. The worker itself does not use it.
    let versionColumn: string | undefined;
    const versionPair = fields.get('version_column');
    if (versionPair) {
      const v = deref(versionPair.value);
      if (!isScalar(v) || typeof v.value !== 'string' || !COLUMN.test(v.value)) {
        error(posOf(v ?? versionPair.key), '"version_column" must be a column name (or xmin)');
      } else {
        versionColumn = v.value;
      }
    }

    let onTruncate: Targets | undefined;
    const truncPair = fields.get('on_truncate');
    if (truncPair) {
      const truncNode = deref(truncPair.value);
      if (!isMap(truncNode)) {
        error(posOf(truncNode ?? truncPair.key), '"on_truncate" must be a map with keys, tags or versions');
      } else {
        const tf = fieldsOf(truncNode, TARGET_FIELDS, (k, n) => error(posOf(k), `unknown field "on_truncate.${n}" (known: ${TARGET_FIELDS.join(', ')})`));
        onTruncate = targets(tf);
        for (const f of TARGET_FIELDS) {
          for (const t of onTruncate[f]) {
            if (t.columns.length > 0) error(posOf(deref(tf.get(f)?.value)), `on_truncate.${f} template "${t.source}" uses a column, but a truncate has no row`);
          }
        }
        if (!ops.includes('t')) warning(posOf(truncPair.key), '"on_truncate" never applies: the mapping does not fire on "t"');
      }
    }

    if (TARGET_FIELDS.every((f) => !fields.has(f)) && !truncPair) error(here, 'mapping invalidates nothing: give keys, tags or versions');
    if (ops.includes('t') && table) {
      const columnFree = [...own.keys, ...own.tags, ...own.versions].some((t) => t.columns.length === 0);
      if (!columnFree && (!onTruncate || count(onTruncate) === 0)) {
        warning(here, `a truncate of ${table.source} invalidates nothing: every template uses a column (add on_truncate, or drop "t" from ops)`);
      }
    }

    const errorsNow = problems.filter((p) => p.severity === 'error').length;
    if (name && table && errorsNow === problemsBefore) {
      mappings.push({
        name: name.value,
        table,
        ...own,
        ops: new Set(ops),
        whenChanged,
        secondDeleteDelayMs,
        onTruncate,
        replicaIdentity,
        ...(versionColumn !== undefined ? { versionColumn } : {}),
        pos: here,
      });
    }
  }
  return { mappings, problems };
}
