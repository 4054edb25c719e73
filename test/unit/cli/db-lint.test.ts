import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lintAgainstCatalog, readCatalog, redactUrl, type Catalog, type Queryable, type TableInfo } from '../../../src/mapping/db-lint.js';
import { mappingPositions, placeholders } from '../../../src/mapping/mapping-positions.js';
import { MappingSet } from '../../../src/mapping/mapping-set.js';
import { formatProblem } from '../../../src/mapping/model.js';
import { parseMappingFile } from '../../../src/mapping/parse.js';

const YAML = `mappings:
  - name: users
    table: app.users
    keys:
      - "user:{id}"
      - "user:email:{email|lower}"
    tags: ["org:{org_id}:members"]
    when:
      changed: [email, nickname]
  - name: orders
    table: "tenant_*.orders"
    keys: ["tenant:{tenant_id}:order:{id}"]
    on_truncate:
      versions: ["orders:version"]
  - name: ghosts
    table: app.ghosts
    keys: ["ghost:{id}"]
  - name: nobody
    table: "nobody_*.t"
    keys: ["n:{id}"]
  - name: creates-only
    table: app.events
    keys: ["event:{kind}"]
    ops: [c]
  - name: by-index
    table: app.accounts
    keys: ["account:{slug}", "account:{id}", "account:{region}:{slug}"]
  - name: nothing
    table: app.audit
    keys: ["audit:{id}"]
`;

function table(schema: string, name: string, columns: string[], ident: TableInfo['replicaIdentity'], pk: string[], ri: string[] = []): [string, TableInfo] {
  const identityColumns = ident === 'f' ? columns : ident === 'd' ? pk : ident === 'i' ? ri : [];
  return [`${schema}.${name}`, { schema, name, columns, replicaIdentity: ident, identityColumns, primaryKey: pk }];
}

const catalog: Catalog = new Map([
  table('app', 'users', ['id', 'email', 'org_id'], 'd', ['id']),
  table('tenant_a', 'orders', ['id', 'tenant_id', 'total'], 'f', ['id']),
  table('tenant_b', 'orders', ['id', 'total'], 'd', ['id']),
  table('app', 'events', ['id', 'kind'], 'd', ['id']),
  table('app', 'accounts', ['id', 'slug', 'region'], 'i', ['id'], ['slug']),
  table('app', 'audit', ['id'], 'n', ['id']),
]);

const set = new MappingSet(parseMappingFile('m.yaml', YAML).mappings);
const positions = new Map([['m.yaml', mappingPositions('m.yaml', YAML)]]);

describe('mappings validate --database: the rules over a catalog', () => {
  it('placeholders are found at their "{", literal braces skipped', () => {
    assert.deepEqual(placeholders('{{user:{id}}}:p:{ email | lower }'), [{ column: 'id', index: 7 }, { column: 'email', index: 16 }]);
  });

  it('warns at file:line:col for unknown tables, globs matching nothing, unknown columns and replica identity', () => {
    const out = lintAgainstCatalog(set, catalog, positions).map(formatProblem);
    assert.deepEqual(out, [
      'm.yaml:6:21 warning: mapping "users": table app.users has REPLICA IDENTITY DEFAULT (key: id), but templates use non-key columns email, org_id: a delete carries only the key and an update no before image, so the old names cannot be invalidated (ALTER TABLE app.users REPLICA IDENTITY FULL)',
      'm.yaml:9:17 warning: mapping "users": when.changed cannot filter updates of app.users (REPLICA IDENTITY DEFAULT (key: id)): an update has no before image, so every update fires (ALTER TABLE app.users REPLICA IDENTITY FULL)',
      'm.yaml:9:24 warning: mapping "users": when.changed column "nickname" does not exist in app.users',
      'm.yaml:12:20 warning: mapping "orders": column "tenant_id" (template "tenant:{tenant_id}:order:{id}") does not exist in tenant_b.orders',
      'm.yaml:16:12 warning: mapping "ghosts": table app.ghosts does not exist in the database (or this user cannot see it)',
      'm.yaml:19:12 warning: mapping "nobody": table pattern nobody_*.t matches no table in the database',
      'm.yaml:27:39 warning: mapping "by-index": table app.accounts has REPLICA IDENTITY USING INDEX (key: slug), but templates use non-key columns id, region: a delete carries only the key and an update no before image, so the old names cannot be invalidated (ALTER TABLE app.accounts REPLICA IDENTITY FULL)',
      'm.yaml:30:19 warning: mapping "nothing": table app.audit has REPLICA IDENTITY NOTHING: its updates and deletes carry no old row (Postgres refuses them while the table is published), so nothing can be rendered from a before image (ALTER TABLE app.audit REPLICA IDENTITY FULL)',
    ]);
  });

  it('a glob is checked against every table it matches', () => {
    const out = lintAgainstCatalog(set, new Map([...catalog, table('tenant_c', 'orders', ['id', 'tenant_id'], 'd', ['id'])]), positions).map(formatProblem);
    assert.ok(out.some((l) => /tenant_c\.orders has REPLICA IDENTITY DEFAULT \(key: id\), but templates use non-key column tenant_id/.test(l)), out.join('\n'));
    assert.ok(!out.some((l) => /tenant_a\.orders has/.test(l)), 'FULL is fine');
  });

  it('without positions it still warns, at the mapping', () => {
    const out = lintAgainstCatalog(set, catalog).map(formatProblem);
    assert.ok(out.includes('m.yaml:15:5 warning: mapping "ghosts": table app.ghosts does not exist in the database (or this user cannot see it)'), out.join('\n'));
  });

  it('reads the catalog from three queries (text[] or "{a,b}" arrays)', async () => {
    const db: Queryable = {
      async query<R>(sql: string) {
        if (sql.includes('information_schema.tables')) return { rows: [{ schema: 'app', name: 'users' }] as R[] };
        if (sql.includes('information_schema.columns')) return { rows: [{ schema: 'app', name: 'users', column: 'id' }, { schema: 'app', name: 'users', column: 'email' }] as R[] };
        return { rows: [{ schema: 'app', name: 'users', ident: 'i', pk: ['id'], ri: '{email,id}' }] as R[] };
      },
    };
    assert.deepEqual(await readCatalog(db), new Map([['app.users', { schema: 'app', name: 'users', columns: ['id', 'email'], replicaIdentity: 'i', identityColumns: ['email', 'id'], primaryKey: ['id'] }]]));
  });

  it('hides the password in messages', () => {
    assert.equal(redactUrl('postgres://u:secret@h:5432/db?sslmode=require'), 'postgres://u:***@h:5432/db?sslmode=require');
    assert.equal(redactUrl('postgres://h/db'), 'postgres://h/db');
  });
});

describe('mappings validate --database: a declared replica_identity', () => {
  it('must match the table: full on a DEFAULT table and default on a FULL table are warnings at the field', () => {
    const text = `mappings:
  - name: a
    table: app.a
    keys: ["a:{id}"]
    replica_identity: full
  - name: b
    table: app.b
    keys: ["b:{id}"]
    replica_identity: default
  - name: c
    table: app.c
    keys: ["c:{id}"]
    replica_identity: default
  - name: d
    table: app.d
    keys: ["d:{id}"]
    replica_identity: full
`;
    const set = new MappingSet(parseMappingFile('m.yaml', text).mappings);
    const cat: Catalog = new Map([
      table('app', 'a', ['id'], 'd', ['id']),
      table('app', 'b', ['id'], 'f', ['id']),
      table('app', 'c', ['id'], 'i', ['id'], ['id']),
      table('app', 'd', ['id'], 'f', ['id']),
    ]);
    const problems = lintAgainstCatalog(set, cat, new Map([['m.yaml', mappingPositions('m.yaml', text)]])).map(formatProblem);
    assert.deepEqual(problems, [
      'm.yaml:5:23 warning: mapping "a": replica_identity full, but table app.a has REPLICA IDENTITY DEFAULT (key: id): its deletes carry only the key, and their placeholders (empty values) would be rendered into keys (replica_identity: default, or ALTER TABLE app.a REPLICA IDENTITY FULL)',
      'm.yaml:9:23 warning: mapping "b": replica_identity default, but table app.b has REPLICA IDENTITY FULL: a delete whose other columns are empty would be read as key-only and its non-key keys left cached until an update shows FULL (replica_identity: full)',
    ]);
  });
});
