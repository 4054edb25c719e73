/**
 * Key templates: literal text with `{column}` placeholders, optionally piped through pure
 * filters (`{email|lower}`). `{{` and `}}` stand for literal braces, so a Redis Cluster hash tag
 * is written `{{user:{id}}}:profile` → `{user:42}:profile`.
 */

export type FilterName = 'lower' | 'upper' | 'trim';
const FILTERS: Readonly<Record<FilterName, (s: string) => string>> = {
  lower: (s) => s.toLowerCase(),
  upper: (s) => s.toUpperCase(),
  trim: (s) => s.trim(),
};

export interface Placeholder {
  readonly column: string;
  readonly filters: readonly FilterName[];
}

export interface Template {
  readonly source: string;
  readonly parts: readonly (string | Placeholder)[];
  /** Distinct columns referenced, in order of appearance. */
  readonly columns: readonly string[];
}

export class TemplateSyntaxError extends Error {
  override readonly name = 'TemplateSyntaxError';
  /** 0-based index into the template text. */
  constructor(message: string, readonly index: number) {
    super(message);
  }
}

const COLUMN = /^[A-Za-z_][A-Za-z0-9_$]*$/;

export function parseTemplate(source: string): Template {
  const parts: (string | Placeholder)[] = [];
  const columns: string[] = [];
  let literal = '';
  let i = 0;
  while (i < source.length) {
    const ch = source[i]!;
    if (ch === '{' && source[i + 1] === '{') {
      literal += '{';
      i += 2;
    } else if (ch === '}' && source[i + 1] === '}') {
      literal += '}';
      i += 2;
    } else if (ch === '}') {
      throw new TemplateSyntaxError('unmatched "}" (write "}}" for a literal brace)', i);
    } else if (ch === '{') {
      const end = source.indexOf('}', i + 1);
      if (end < 0) throw new TemplateSyntaxError('unclosed "{" (write "{{" for a literal brace)', i);
      const body = source.slice(i + 1, end);
      const [rawColumn = '', ...rawFilters] = body.split('|').map((s) => s.trim());
      if (!COLUMN.test(rawColumn)) {
        throw new TemplateSyntaxError(`"{${body}}" does not name a column (letters, digits, _ and $, not starting with a digit)`, i);
      }
      const filters: FilterName[] = [];
      for (const f of rawFilters) {
        if (!(f in FILTERS)) throw new TemplateSyntaxError(`unknown filter "${f}" (known: ${Object.keys(FILTERS).join(', ')})`, i);
        filters.push(f as FilterName);
      }
      if (literal) parts.push(literal);
      literal = '';
      parts.push({ column: rawColumn, filters });
      if (!columns.includes(rawColumn)) columns.push(rawColumn);
      i = end + 1;
    } else {
      literal += ch;
      i++;
    }
  }
  if (literal) parts.push(literal);
  if (source.length === 0) throw new TemplateSyntaxError('empty template', 0);
  return { source, parts, columns };
}

/** Debezium's default placeholder for an unchanged TOASTed column it could not read. */
export const TOAST_PLACEHOLDER = '__debezium_unavailable_value';

export type MissingReason = 'null' | 'absent' | 'toast' | 'key_only_image';

export type RenderResult =
  | { readonly ok: true; readonly key: string }
  | { readonly ok: false; readonly reason: MissingReason; readonly column: string };

/** A column value of a type that has no key rendering (object, array): a poison event. */
export class TemplateRenderError extends Error {
  override readonly name = 'TemplateRenderError';
  constructor(message: string, readonly column: string) {
    super(message);
  }
}

function scalarText(value: unknown, column: string): string {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw new TemplateRenderError(`column "${column}" is not a finite number`, column);
      return String(value);
    case 'bigint':
    case 'boolean':
      return String(value);
    default:
      throw new TemplateRenderError(`column "${column}" holds ${Array.isArray(value) ? 'an array' : `a value of type ${typeof value}`}, which cannot be rendered into a key`, column);
  }
}

/**
 * Renders a template from one row image. `unavailable(column)` marks columns the image does not
 * really carry (a key-only image's non-key columns). Never renders a key from a missing value.
 */
export function renderTemplate(
  t: Template,
  image: Readonly<Record<string, unknown>>,
  unavailable?: (column: string) => boolean,
): RenderResult {
  let key = '';
  for (const part of t.parts) {
    if (typeof part === 'string') {
      key += part;
      continue;
    }
    const { column } = part;
    if (unavailable?.(column)) return { ok: false, reason: 'key_only_image', column };
    if (!Object.prototype.hasOwnProperty.call(image, column)) return { ok: false, reason: 'absent', column };
    const value = image[column];
    if (value === null || value === undefined) return { ok: false, reason: 'null', column };
    if (value === TOAST_PLACEHOLDER) return { ok: false, reason: 'toast', column };
    let text = scalarText(value, column);
    for (const f of part.filters) text = FILTERS[f](text);
    key += text;
  }
  return { ok: true, key };
}
