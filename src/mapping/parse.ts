import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type Pair } from 'yaml';
import type { Mapping, Problem, SourcePos } from './model.js';
import { parseTemplate, TemplateSyntaxError, type Template } from './template.js';

const MAPPING_FIELDS = new Set(['name', 'table', 'keys']);
const TABLE = /^[^.\s*?]+\.[^.\s*?]+$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

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
  const error = (pos: SourcePos, message: string): void => {
    problems.push({ ...pos, severity: 'error', message });
  };

  for (const e of doc.errors) error(posAt(e.pos[0]), e.message.split('\n')[0] ?? e.message);
  if (doc.errors.length > 0) return { mappings, problems };

  const root = doc.contents;
  if (!isMap(root)) {
    error(posOf(root as Node | null), 'a mapping file must be a YAML map with a "mappings:" list');
    return { mappings, problems };
  }
  for (const pair of root.items as Pair<Node, Node>[]) {
    const k = isScalar(pair.key) ? String(pair.key.value) : '';
    if (k !== 'mappings') error(posOf(pair.key), `unknown top-level field "${k}" (expected "mappings")`);
  }
  const list = root.get('mappings', true) as Node | undefined;
  if (!isSeq(list)) {
    error(posOf(list ?? root), '"mappings" must be a list of mappings');
    return { mappings, problems };
  }

  for (const item of list.items as Node[]) {
    if (!isMap(item)) {
      error(posOf(item), 'each mapping must be a map with name, table and keys');
      continue;
    }
    const problemsBefore = problems.length;
    const fields = new Map<string, Pair<Node, Node>>();
    for (const pair of item.items as Pair<Node, Node>[]) {
      const k = isScalar(pair.key) ? String(pair.key.value) : '';
      if (!MAPPING_FIELDS.has(k)) error(posOf(pair.key), `unknown field "${k}" (known: ${[...MAPPING_FIELDS].join(', ')})`);
      else fields.set(k, pair);
    }
    const here = posOf(item);
    const str = (field: string): { value: string; pos: SourcePos } | undefined => {
      const pair = fields.get(field);
      if (!pair) {
        error(here, `mapping is missing "${field}"`);
        return undefined;
      }
      const v = pair.value;
      if (!isScalar(v) || typeof v.value !== 'string' || v.value === '') {
        error(posOf(v ?? pair.key), `"${field}" must be a non-empty string`);
        return undefined;
      }
      return { value: v.value, pos: posOf(v) };
    };

    const name = str('name');
    if (name && !NAME.test(name.value)) error(name.pos, `name "${name.value}" may hold only letters, digits, "_", "." and "-"`);
    const table = str('table');
    if (table && !TABLE.test(table.value)) error(table.pos, `table "${table.value}" must be written schema.table (e.g. inventory.customers)`);

    const keys: Template[] = [];
    const keysPair = fields.get('keys');
    if (!keysPair) {
      error(here, 'mapping is missing "keys"');
    } else if (!isSeq(keysPair.value) || keysPair.value.items.length === 0) {
      error(posOf(keysPair.value ?? keysPair.key), '"keys" must be a non-empty list of key templates');
    } else {
      for (const k of keysPair.value.items as Node[]) {
        if (!isScalar(k) || typeof k.value !== 'string') {
          error(posOf(k), 'a key template must be a string');
          continue;
        }
        try {
          keys.push(parseTemplate(k.value));
        } catch (e) {
          if (!(e instanceof TemplateSyntaxError)) throw e;
          // Point at the character inside the template; quoted scalars start one column later.
          const quoted = k.type === 'QUOTE_DOUBLE' || k.type === 'QUOTE_SINGLE' ? 1 : 0;
          error(posAt((k.range?.[0] ?? 0) + quoted + e.index), `key template "${k.value}": ${e.message}`);
        }
      }
    }
    if (name && table && keys.length > 0 && problems.length === problemsBefore) {
      mappings.push({ name: name.value, table: table.value, keys, pos: here });
    }
  }
  return { mappings, problems };
}
