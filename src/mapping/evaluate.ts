import type { ChangeEvent, RowImage } from '../pipeline/types.js';
import type { MappingSet } from './mapping-set.js';
import type { Mapping, Targets } from './model.js';
import { renderTemplate, TOAST_PLACEHOLDER, type MissingReason, type Template } from './template.js';

/** Why a template produced no name for one row image. */
export type SkipCause = MissingReason | 'no_before_image' | 'truncate';

export type TargetKind = 'key' | 'tag' | 'version';

export interface SkippedTemplate {
  readonly mapping: string;
  readonly kind: TargetKind;
  readonly template: string;
  readonly image: 'before' | 'after' | 'none';
  readonly reason: SkipCause;
  readonly column: string | undefined;
}

/** One matched mapping's outcome. `fired` false: the op is not in `ops`, or `when.changed` saw no change. */
export interface MappingResult {
  readonly mapping: string;
  readonly fired: boolean;
  readonly why?: 'op_not_selected' | 'unchanged';
  readonly keys: readonly string[];
  readonly tags: readonly string[];
  readonly versions: readonly string[];
  /** The mapping's own second-delete delay; undefined = the worker's. */
  readonly secondDeleteDelayMs: number | undefined;
}

/** What one change event invalidates. Pure data; the unions are de-duplicated. */
export interface Plan {
  readonly table: string;
  /** Names of the mappings that matched the table (fired or not). */
  readonly mappings: readonly string[];
  readonly results: readonly MappingResult[];
  readonly keys: readonly string[];
  readonly tags: readonly string[];
  readonly versions: readonly string[];
  readonly skipped: readonly SkippedTemplate[];
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) return JSON.stringify(a) === JSON.stringify(b);
  return false;
}

/** when.changed: fires when a listed column differs; when `before` is unknown it fires. */
function changed(m: Mapping, e: ChangeEvent): boolean {
  if (e.op !== 'u' || !m.whenChanged) return true;
  if (!e.before || !e.after || e.beforeKeyOnly) return true;
  return m.whenChanged.some((c) => e.after![c] !== TOAST_PLACEHOLDER && !sameValue(e.before![c], e.after![c]));
}

/**
 * Maps one change event to what it invalidates (pure: no I/O).
 * - create / snapshot read: names from `after`;
 * - update: from `after` and `before`, so a changed key column invalidates the old and the new name;
 * - delete: from `before`;
 * - truncate: no row, so only templates without columns, plus `on_truncate`.
 * Throws TemplateRenderError when a column holds a value no name can be made of.
 */
export function evaluate(event: ChangeEvent, mappings: MappingSet): Plan {
  const matched = mappings.forTable(event.table);
  const keyColumns = event.keyColumns ? new Set(event.keyColumns) : null;
  const beforeUnavailable = event.beforeKeyOnly && keyColumns ? (c: string) => !keyColumns.has(c) : undefined;
  const skipped: SkippedTemplate[] = [];
  const results: MappingResult[] = [];
  const all = { key: new Set<string>(), tag: new Set<string>(), version: new Set<string>() };

  for (const m of matched) {
    const out = { key: new Set<string>(), tag: new Set<string>(), version: new Set<string>() };
    const base = { mapping: m.name, secondDeleteDelayMs: m.secondDeleteDelayMs };
    if (!m.ops.has(event.op) || !changed(m, event)) {
      results.push({ ...base, fired: false, why: m.ops.has(event.op) ? 'unchanged' : 'op_not_selected', keys: [], tags: [], versions: [] });
      continue;
    }
    const render = (kind: TargetKind, t: Template, image: RowImage, which: 'before' | 'after', unavailable?: (c: string) => boolean): void => {
      const r = renderTemplate(t, image, unavailable);
      if (r.ok) out[kind].add(r.key);
      else skipped.push({ mapping: m.name, kind, template: t.source, image: which, reason: r.reason, column: r.column });
    };
    const apply = (kind: TargetKind, templates: readonly Template[]): void => {
      for (const t of templates) {
        if (event.op === 't') {
          if (t.columns.length === 0) render(kind, t, {}, 'after');
          else skipped.push({ mapping: m.name, kind, template: t.source, image: 'none', reason: 'truncate', column: t.columns[0] });
          continue;
        }
        if (event.after && event.op !== 'd') render(kind, t, event.after, 'after');
        if (event.op === 'u' || event.op === 'd') {
          if (event.before) {
            render(kind, t, event.before, 'before', beforeUnavailable);
          } else if (event.op === 'u') {
            // REPLICA IDENTITY DEFAULT: no old image. Templates over key columns only are covered by
            // `after` (a key change arrives as delete + create); others may miss the old name.
            const nonKey = t.columns.find((c) => !keyColumns?.has(c));
            if (nonKey !== undefined) skipped.push({ mapping: m.name, kind, template: t.source, image: 'before', reason: 'no_before_image', column: nonKey });
          }
        }
      }
    };
    const targets: Targets[] = event.op === 't' && m.onTruncate ? [m, m.onTruncate] : [m];
    for (const t of targets) {
      apply('key', t.keys);
      apply('tag', t.tags);
      apply('version', t.versions);
    }
    for (const kind of ['key', 'tag', 'version'] as const) for (const n of out[kind]) all[kind].add(n);
    results.push({ ...base, fired: true, keys: [...out.key], tags: [...out.tag], versions: [...out.version] });
  }
  return {
    table: event.table,
    mappings: matched.map((m) => m.name),
    results,
    keys: [...all.key],
    tags: [...all.tag],
    versions: [...all.version],
    skipped,
  };
}
