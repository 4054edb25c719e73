import type { ChangeEvent, RowImage } from '../pipeline/types.js';
import type { MappingSet } from './mapping-set.js';
import type { Mapping } from './model.js';
import { renderTemplate, type MissingReason, type Template } from './template.js';

/** Why a template produced no key for one row image. */
export type SkipCause = MissingReason | 'no_before_image' | 'truncate';

export interface SkippedTemplate {
  readonly mapping: string;
  readonly template: string;
  readonly image: 'before' | 'after' | 'none';
  readonly reason: SkipCause;
  readonly column: string | undefined;
}

/** What one change event invalidates. Pure data; `keys` is de-duplicated. */
export interface Plan {
  readonly table: string;
  readonly mappings: readonly string[];
  readonly keys: readonly string[];
  readonly skipped: readonly SkippedTemplate[];
}

/**
 * Maps one change event to the keys it invalidates (pure: no I/O).
 * - create / snapshot read: keys from `after`;
 * - update: from `after` and `before`, so a changed key column deletes the old and the new key;
 * - delete: from `before`;
 * - truncate: no row, so only templates without columns.
 * Throws TemplateRenderError when a column holds a value no key can be made of.
 */
export function evaluate(event: ChangeEvent, mappings: MappingSet): Plan {
  const matched = mappings.forTable(event.table);
  const keys = new Set<string>();
  const skipped: SkippedTemplate[] = [];
  const keyColumns = event.keyColumns ? new Set(event.keyColumns) : null;
  const beforeUnavailable = event.beforeKeyOnly && keyColumns ? (c: string) => !keyColumns.has(c) : undefined;

  const render = (m: Mapping, t: Template, image: RowImage, which: 'before' | 'after', unavailable?: (c: string) => boolean): void => {
    const r = renderTemplate(t, image, unavailable);
    if (r.ok) keys.add(r.key);
    else skipped.push({ mapping: m.name, template: t.source, image: which, reason: r.reason, column: r.column });
  };

  for (const m of matched) {
    for (const t of m.keys) {
      if (event.op === 't') {
        if (t.columns.length === 0) render(m, t, {}, 'after');
        else skipped.push({ mapping: m.name, template: t.source, image: 'none', reason: 'truncate', column: t.columns[0] });
        continue;
      }
      if (event.after && event.op !== 'd') render(m, t, event.after, 'after');
      if (event.op === 'u' || event.op === 'd') {
        if (event.before) {
          render(m, t, event.before, 'before', beforeUnavailable);
        } else if (event.op === 'u') {
          // REPLICA IDENTITY DEFAULT: no old image. Templates over key columns only are covered by
          // `after` (a key change arrives as delete + create); others may miss the old key.
          const nonKey = t.columns.find((c) => !keyColumns?.has(c));
          if (nonKey !== undefined) {
            skipped.push({ mapping: m.name, template: t.source, image: 'before', reason: 'no_before_image', column: nonKey });
          }
        }
      }
    }
  }
  return { table: event.table, mappings: matched.map((m) => m.name), keys: [...keys], skipped };
}
