import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { mappingPositions, type ColumnUse, type MappingPositions } from './mapping-positions.js';
import type { MappingSet } from './mapping-set.js';
import type { Problem, SourcePos } from './model.js';

/**
 * `mappings validate --database URL`: checks the mappings against a live Postgres catalog.
 * - every exact table exists, every glob matches a table (expanded against information_schema);
 * - every column a template, when.changed or version_column names exists in each table;
 * - a mapping that fires on updates or deletes and renders names from non-key columns needs
 *   REPLICA IDENTITY FULL: otherwise a delete's before image carries only the key and an update has
 *   none, so the old names cannot be invalidated ('i' = USING INDEX: the index columns are the key);
 * - when.changed cannot filter without FULL (no before image on updates);
 * - a declared `replica_identity` must match the table's.
 * Everything is a warning; the CLI decides the exit code (--strict).
 */

export type ReplicaIdentity = 'd' | 'f' | 'n' | 'i';

export interface TableInfo {
  readonly schema: string;
  readonly name: string;
  /** Column names in ordinal order. */
  readonly columns: readonly string[];
  /** pg_class.relreplident; undefined when the catalog row is not visible. */
  readonly replicaIdentity: ReplicaIdentity | undefined;
  /** The columns an update/delete's before image really carries under this identity ([] for none; all for FULL). */
  readonly identityColumns: readonly string[];
  /** Primary-key columns ([] without a primary key). */
  readonly primaryKey: readonly string[];
}

/** The tables of the database by `schema.table`. */
export type Catalog = ReadonlyMap<string, TableInfo>;

/** The subset of pg's Client that reading the catalog needs (a fake in unit tests). */
export interface Queryable {
  query<R extends Record<string, unknown>>(sql: string): Promise<{ rows: R[] }>;
}

const TABLES_SQL = `
SELECT table_schema::text AS schema, table_name::text AS name
FROM information_schema.tables
WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')`;

const COLUMNS_SQL = `
SELECT table_schema::text AS schema, table_name::text AS name, column_name::text AS column
FROM information_schema.columns
WHERE table_schema NOT IN ('pg_catalog', 'information_schema')
ORDER BY table_schema, table_name, ordinal_position`;

const IDENTITY_SQL = `
SELECT n.nspname::text AS schema, c.relname::text AS name, c.relreplident::text AS ident,
  COALESCE((SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_index i
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
            WHERE i.indrelid = c.oid AND i.indisprimary), '{}'::text[]) AS pk,
  COALESCE((SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_index i
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
            WHERE i.indrelid = c.oid AND i.indisreplident), '{}'::text[]) AS ri
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'`;

function asList(v: unknown): string[] {
  if (Array.isArray(v)) return v.map(String);
  if (typeof v === 'string' && v.startsWith('{') && v.endsWith('}')) return v.slice(1, -1).split(',').filter(Boolean);
  return [];
}

/** Reads tables, columns, replica identities and key columns (three catalog queries). */
export async function readCatalog(db: Queryable): Promise<Catalog> {
  const tables = await db.query<{ schema: string; name: string }>(TABLES_SQL);
  const columns = await db.query<{ schema: string; name: string; column: string }>(COLUMNS_SQL);
  const idents = await db.query<{ schema: string; name: string; ident: string; pk: unknown; ri: unknown }>(IDENTITY_SQL);
  const cols = new Map<string, string[]>();
  for (const r of columns.rows) {
    const k = `${r.schema}.${r.name}`;
    const list = cols.get(k) ?? [];
    list.push(r.column);
    cols.set(k, list);
  }
  const ident = new Map(idents.rows.map((r) => [`${r.schema}.${r.name}`, r]));
  const out = new Map<string, TableInfo>();
  for (const t of tables.rows) {
    const k = `${t.schema}.${t.name}`;
    const columns = cols.get(k) ?? [];
    const i = ident.get(k);
    const replicaIdentity = i && ['d', 'f', 'n', 'i'].includes(i.ident) ? (i.ident as ReplicaIdentity) : undefined;
    const primaryKey = asList(i?.pk);
    const identityColumns = replicaIdentity === 'f' ? columns : replicaIdentity === 'd' ? primaryKey : replicaIdentity === 'i' ? asList(i?.ri) : [];
    out.set(k, { schema: t.schema, name: t.name, columns, replicaIdentity, identityColumns, primaryKey });
  }
  return out;
}

const IDENTITY_NAMES: Readonly<Record<ReplicaIdentity, string>> = { d: 'DEFAULT', f: 'FULL', n: 'NOTHING', i: 'USING INDEX' };

function quoteIdent(s: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(s) ? s : `"${s.replace(/"/g, '""')}"`;
}

function qualified(t: TableInfo): string {
  return `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;
}

function identityText(t: TableInfo): string {
  const name = IDENTITY_NAMES[t.replicaIdentity ?? 'd'];
  if (t.replicaIdentity === 'd') return t.primaryKey.length > 0 ? `REPLICA IDENTITY DEFAULT (key: ${t.primaryKey.join(', ')})` : 'REPLICA IDENTITY DEFAULT and no primary key';
  if (t.replicaIdentity === 'i') return `REPLICA IDENTITY USING INDEX (key: ${t.identityColumns.join(', ')})`;
  return `REPLICA IDENTITY ${name}`;
}

/** Positions of each mapping, read from the mapping files (by file, then name). */
export async function readPositions(set: MappingSet): Promise<Map<string, Map<string, MappingPositions>>> {
  const out = new Map<string, Map<string, MappingPositions>>();
  for (const file of new Set(set.mappings.map((m) => m.pos.file))) {
    try {
      out.set(file, mappingPositions(file, await readFile(file, 'utf8')));
    } catch {
      out.set(file, new Map()); // positions fall back to the mapping's own
    }
  }
  return out;
}

/** The lint over a catalog: pure, so the rules are unit-testable without a database. */
export function lintAgainstCatalog(set: MappingSet, catalog: Catalog, positions: ReadonlyMap<string, ReadonlyMap<string, MappingPositions>> = new Map()): Problem[] {
  const problems: Problem[] = [];
  const warn = (pos: SourcePos, message: string): void => void problems.push({ file: pos.file, line: pos.line, col: pos.col, severity: 'warning', message });
  const tableNames = [...catalog.keys()].sort();

  for (const m of set.mappings) {
    const p = positions.get(m.pos.file)?.get(m.name);
    const tablePos = p?.table ?? m.pos;
    const tables = m.table.exact ? (catalog.has(m.table.source) ? [catalog.get(m.table.source)!] : []) : tableNames.filter((n) => m.table.matches(n)).map((n) => catalog.get(n)!);
    if (tables.length === 0) {
      warn(tablePos, m.table.exact
        ? `mapping "${m.name}": table ${m.table.source} does not exist in the database (or this user cannot see it)`
        : `mapping "${m.name}": table pattern ${m.table.source} matches no table in the database`);
      continue;
    }

    // Column uses: from the file when its positions could be read, else from the compiled templates.
    const templateUses: (ColumnUse & { template: string; onTruncate: boolean })[] = p
      ? p.templates.flatMap((t) => t.columns.map((c) => ({ ...c, template: t.source, onTruncate: t.onTruncate })))
      : (['keys', 'tags', 'versions'] as const).flatMap((f) => m[f].flatMap((t) => t.columns.map((column) => ({ column, pos: m.pos, template: t.source, onTruncate: false }))));
    const whenUses: ColumnUse[] = p ? [...p.whenChanged] : (m.whenChanged ?? []).map((column) => ({ column, pos: m.pos }));

    // Unknown columns: one warning per use, naming every table (of a glob) that lacks it.
    for (const use of templateUses) {
      const lacking = tables.filter((t) => !t.columns.includes(use.column));
      if (lacking.length > 0) warn(use.pos, `mapping "${m.name}": column "${use.column}" (template "${use.template}") does not exist in ${lacking.map((t) => `${t.schema}.${t.name}`).join(', ')}`);
    }
    for (const use of whenUses) {
      const lacking = tables.filter((t) => !t.columns.includes(use.column));
      if (lacking.length > 0) warn(use.pos, `mapping "${m.name}": when.changed column "${use.column}" does not exist in ${lacking.map((t) => `${t.schema}.${t.name}`).join(', ')}`);
    }

    // A declared replica_identity must be the table's: it decides how an ambiguous delete image is read.
    if (m.replicaIdentity) {
      const identityPos = p?.replicaIdentity ?? m.pos;
      for (const t of tables) {
        if (t.replicaIdentity === undefined) continue;
        const isFull = t.replicaIdentity === 'f';
        if (m.replicaIdentity === 'full' && !isFull) {
          warn(identityPos, `mapping "${m.name}": replica_identity full, but table ${t.schema}.${t.name} has ${identityText(t)}: its deletes carry only the key, and their placeholders (empty values) would be rendered into keys (replica_identity: default, or ALTER TABLE ${qualified(t)} REPLICA IDENTITY FULL)`);
        } else if (m.replicaIdentity === 'default' && isFull) {
          warn(identityPos, `mapping "${m.name}": replica_identity default, but table ${t.schema}.${t.name} has REPLICA IDENTITY FULL: a delete whose other columns are empty would be read as key-only and its non-key keys left cached until an update shows FULL (replica_identity: full)`);
        }
      }
    }

    // version_column: a real column of every table (xmin is a system column every table has).
    if (m.versionColumn !== undefined && m.versionColumn !== 'xmin') {
      const lacking = tables.filter((t) => !t.columns.includes(m.versionColumn!));
      if (lacking.length > 0) warn(p?.versionColumn?.pos ?? m.pos, `mapping "${m.name}": version_column "${m.versionColumn}" does not exist in ${lacking.map((t) => `${t.schema}.${t.name}`).join(', ')}`);
    }

    // Replica identity: matters only for what renders from a before image (updates and deletes).
    if (!m.ops.has('u') && !m.ops.has('d')) continue;
    const own = templateUses.filter((u) => !u.onTruncate);
    for (const t of tables) {
      if (t.replicaIdentity === 'f' || t.replicaIdentity === undefined) continue;
      const key = new Set(t.identityColumns);
      const nonKey = own.filter((u) => !key.has(u.column) && t.columns.includes(u.column));
      const columns = [...new Set(nonKey.map((u) => u.column))];
      const fix = `ALTER TABLE ${qualified(t)} REPLICA IDENTITY FULL`;
      if (key.size === 0 && own.length > 0) {
        warn(own[0]!.pos, `mapping "${m.name}": table ${t.schema}.${t.name} has ${identityText(t)}: its updates and deletes carry no old row (Postgres refuses them while the table is published), so nothing can be rendered from a before image (${fix})`);
      } else if (columns.length > 0) {
        warn(nonKey[0]!.pos, `mapping "${m.name}": table ${t.schema}.${t.name} has ${identityText(t)}, but templates use non-key column${columns.length > 1 ? 's' : ''} ${columns.join(', ')}: a delete carries only the key and an update no before image, so the old names cannot be invalidated (${fix})`);
      }
      if (m.ops.has('u') && whenUses.length > 0) {
        warn(whenUses[0]!.pos, `mapping "${m.name}": when.changed cannot filter updates of ${t.schema}.${t.name} (${identityText(t)}): an update has no before image, so every update fires (${fix})`);
      }
    }
  }
  return problems.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col);
}

/** The URL with its password hidden, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}

/** An error's message; Node's AggregateError (every address refused) has none of its own. */
function errorText(e: unknown): string {
  const err = e as Error & { code?: string; errors?: unknown[] };
  if (err.message) return err.message;
  if (Array.isArray(err.errors) && err.errors.length > 0) return err.errors.map(errorText).join('; ');
  return err.code ?? String(e);
}

export class DatabaseUnavailableError extends Error {
  override readonly name = 'DatabaseUnavailableError';
}

export interface DbLintOptions {
  /** Bounds the connection attempt (ms). */
  readonly connectTimeoutMs?: number;
  /** Bounds each catalog query (ms). */
  readonly queryTimeoutMs?: number;
}

/** Connects, reads the catalog, disconnects; throws DatabaseUnavailableError when it cannot. */
export async function lintDatabase(set: MappingSet, url: string, opts: DbLintOptions = {}): Promise<{ problems: Problem[]; tables: number }> {
  if (!/^postgres(ql)?:\/\//.test(url)) throw new DatabaseUnavailableError(`--database must be a postgres:// or postgresql:// URL, got "${redactUrl(url)}"`);
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000,
    query_timeout: opts.queryTimeoutMs ?? 30_000,
    statement_timeout: opts.queryTimeoutMs ?? 30_000,
    application_name: 'cdc-invalidator mappings validate',
  });
  client.on('error', () => undefined); // a dropped connection surfaces as the failing query
  try {
    await client.connect();
  } catch (e) {
    await client.end().catch(() => undefined);
    throw new DatabaseUnavailableError(`cannot connect to ${redactUrl(url)}: ${errorText(e)}`);
  }
  try {
    let catalog: Catalog;
    try {
      catalog = await readCatalog(client);
    } catch (e) {
      throw new DatabaseUnavailableError(`cannot read the catalog of ${redactUrl(url)}: ${errorText(e)}`);
    }
    return { problems: lintAgainstCatalog(set, catalog, await readPositions(set)), tables: catalog.size };
  } finally {
    await client.end().catch(() => undefined);
  }
}
