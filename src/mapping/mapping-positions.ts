import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type Scalar } from 'yaml';
import type { SourcePos } from './model.js';
import { resolveAlias } from './yaml-fields.js';

/**
 * Where each part of a mapping is written, for checks that run after parsing (the database lint):
 * the table, every template (and every `{column}` inside it) and every when.changed column.
 * The compiled Mapping keeps only the mapping's own position; this re-reads the file's YAML.
 */

export interface ColumnUse {
  readonly column: string;
  readonly pos: SourcePos;
}

export interface TemplatePositions {
  readonly field: 'keys' | 'tags' | 'versions';
  readonly onTruncate: boolean;
  readonly source: string;
  readonly pos: SourcePos;
  /** Each `{column}` placeholder, at its `{`. */
  readonly columns: readonly ColumnUse[];
}

export interface MappingPositions {
  readonly name: string;
  readonly pos: SourcePos;
  readonly table: SourcePos;
  readonly templates: readonly TemplatePositions[];
  readonly whenChanged: readonly ColumnUse[];
  /** The `replica_identity` value, when declared. */
  readonly replicaIdentity?: SourcePos;
  /** `version_column`, when the mapping names one. */
  readonly versionColumn?: ColumnUse;
}

/** The `{column}` placeholders of a template, with their index in the text (`{{`/`}}` are literal braces). */
export function placeholders(source: string): { column: string; index: number }[] {
  const out: { column: string; index: number }[] = [];
  let i = 0;
  while (i < source.length) {
    const two = source.slice(i, i + 2);
    if (two === '{{' || two === '}}') {
      i += 2;
      continue;
    }
    if (source[i] === '{') {
      const end = source.indexOf('}', i + 1);
      if (end < 0) break;
      const column = (source.slice(i + 1, end).split('|')[0] ?? '').trim();
      if (column) out.push({ column, index: i });
      i = end + 1;
      continue;
    }
    i++;
  }
  return out;
}

/** Positions of every mapping in one file's text, by mapping name (the first, if a name repeats). */
export function mappingPositions(file: string, text: string): Map<string, MappingPositions> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const out = new Map<string, MappingPositions>();
  const posAt = (offset: number): SourcePos => ({ file, ...lineCounter.linePos(offset) });
  const posOf = (n: Node | null | undefined): SourcePos => posAt(n?.range?.[0] ?? 0);
  const deref = (n: unknown): Node | undefined => resolveAlias(doc, n);
  const root = deref(doc.contents);
  if (!isMap(root)) return out;
  const list = deref(root.get('mappings', true));
  if (!isSeq(list)) return out;

  const strings = (node: unknown): Scalar<string>[] => {
    const n = deref(node);
    if (isScalar(n) && typeof n.value === 'string') return [n as Scalar<string>];
    if (!isSeq(n)) return [];
    return (n.items as Node[]).map(deref).filter((i): i is Scalar<string> => isScalar(i) && typeof i.value === 'string');
  };
  const templatesOf = (node: unknown, onTruncate: boolean): TemplatePositions[] => {
    const map = deref(node);
    if (!isMap(map)) return [];
    const out: TemplatePositions[] = [];
    for (const field of ['keys', 'tags', 'versions'] as const) {
      for (const s of strings(map.get(field, true))) {
        const quoted = s.type === 'QUOTE_DOUBLE' || s.type === 'QUOTE_SINGLE' ? 1 : 0;
        const start = (s.range?.[0] ?? 0) + quoted;
        out.push({
          field,
          onTruncate,
          source: s.value,
          pos: posOf(s),
          columns: placeholders(s.value).map((p) => ({ column: p.column, pos: posAt(start + p.index) })),
        });
      }
    }
    return out;
  };

  for (const rawItem of list.items as Node[]) {
    const item = deref(rawItem);
    if (!isMap(item)) continue;
    const nameNode = deref(item.get('name', true));
    if (!isScalar(nameNode) || typeof nameNode.value !== 'string' || out.has(nameNode.value)) continue;
    const tableNode = deref(item.get('table', true));
    const when = deref(item.get('when', true));
    const changed = isMap(when) ? when.get('changed', true) : undefined;
    const identity = deref(item.get('replica_identity', true));
    const versionNode = deref(item.get('version_column', true));
    out.set(nameNode.value, {
      ...(identity ? { replicaIdentity: posOf(identity) } : {}),
      name: nameNode.value,
      pos: posOf(item),
      table: posOf(tableNode ?? item),
      templates: [...templatesOf(item, false), ...templatesOf(item.get('on_truncate', true), true)],
      whenChanged: strings(changed).map((s) => ({ column: s.value, pos: posOf(s) })),
      ...(isScalar(versionNode) && typeof versionNode.value === 'string' ? { versionColumn: { column: versionNode.value, pos: posOf(versionNode) } } : {}),
    });
  }
  return out;
}
