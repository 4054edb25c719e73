/** `schema.table`, where either part may hold `*` and `?` globs (`tenant_*.orders`). */
export interface TablePattern {
  readonly source: string;
  readonly exact: boolean;
  matches(table: string): boolean;
}

export const TABLE_PATTERN = /^[^.\s]+\.[^.\s]+$/;

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^.]*').replace(/\?/g, '[^.]');
  return new RegExp(`^${body}$`);
}

export function parseTablePattern(source: string): TablePattern {
  if (!TABLE_PATTERN.test(source)) throw new RangeError(`table "${source}" must be written schema.table (e.g. inventory.customers or tenant_*.orders)`);
  const exact = !/[*?]/.test(source);
  if (exact) return { source, exact, matches: (t) => t === source };
  const re = globToRegExp(source);
  return { source, exact, matches: (t) => re.test(t) };
}
