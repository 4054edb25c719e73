import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { lintDatabase } from '../../src/mapping/db-lint.js';
import { loadMappings } from '../../src/mapping/load.js';
import { formatProblem } from '../../src/mapping/model.js';
import { repoRoot } from '../support/paths.js';
import { postgresUnavailable, startPostgres, type PostgresServer } from '../support/postgres.js';

/** `mappings validate --database` against a real PostgreSQL started here (initdb in a temp dir). */

const root = repoRoot();
const MAIN = join(root, 'dist', 'src', 'cli', 'main.js');
const skip = postgresUnavailable();

/** The schema the example mappings in mappings/ describe, every table REPLICA IDENTITY FULL. */
const EXAMPLE_SCHEMA = `
CREATE SCHEMA inventory;
CREATE TABLE inventory.customers (id serial PRIMARY KEY, first_name text NOT NULL, last_name text NOT NULL, email text NOT NULL UNIQUE);
CREATE TABLE inventory.products (id serial PRIMARY KEY, sku text NOT NULL UNIQUE, name text NOT NULL, description text, price numeric(10,2) NOT NULL);
CREATE TABLE inventory.orders (id bigint PRIMARY KEY, customer_id int NOT NULL, total numeric(10,2) NOT NULL);
CREATE SCHEMA app;
CREATE TABLE app.users (id bigint PRIMARY KEY, org_id bigint, email text NOT NULL, handle text, display_name text, last_seen_at timestamptz);
CREATE TABLE app.sessions (token text PRIMARY KEY, user_id bigint NOT NULL, revoked boolean NOT NULL DEFAULT false);
CREATE SCHEMA catalog;
CREATE TABLE catalog.categories (id int PRIMARY KEY, parent_id int, slug text NOT NULL UNIQUE, name text NOT NULL);
CREATE TABLE catalog.products (id bigint PRIMARY KEY, sku text NOT NULL, slug text NOT NULL, name text NOT NULL, price numeric(10,2),
  category_id int, status text, view_count bigint NOT NULL DEFAULT 0, updated_at timestamptz);
${['acme', 'globex'].map((t) => `
CREATE SCHEMA tenant_${t};
CREATE TABLE tenant_${t}.orders (id bigint PRIMARY KEY, tenant_id int NOT NULL, customer_id bigint, status text, total numeric(10,2));
CREATE TABLE tenant_${t}.order_lines (order_id bigint, line_no int, tenant_id int NOT NULL, product_id bigint, qty int, PRIMARY KEY (order_id, line_no));`).join('\n')}
DO $$ DECLARE t record; BEGIN
  FOR t IN SELECT schemaname, tablename FROM pg_tables WHERE schemaname IN ('inventory', 'app', 'catalog') OR schemaname LIKE 'tenant\\_%' LOOP
    EXECUTE format('ALTER TABLE %I.%I REPLICA IDENTITY FULL', t.schemaname, t.tablename);
  END LOOP;
END $$;
`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    delete env['CDC_INVALIDATOR_MAPPINGS'];
    const child = spawn(process.execPath, [MAIN, ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** line:col of the first occurrence of `needle` (after `after`, if given) in a file. */
async function posIn(file: string, needle: string, after = ''): Promise<string> {
  const text = await readFile(join(root, file), 'utf8');
  const i = text.indexOf(needle, after ? text.indexOf(after) : 0);
  assert.ok(i >= 0, `${needle} in ${file}`);
  const lines = text.slice(0, i).split('\n');
  return `${file}:${lines.length}:${lines[lines.length - 1]!.length + 1}`;
}

describe('mappings validate --database (real PostgreSQL)', { skip }, () => {
  let server: PostgresServer;
  let shop: string;

  before(async () => {
    server = await startPostgres();
    await server.exec('CREATE DATABASE shop');
    await server.exec(EXAMPLE_SCHEMA, 'shop');
    shop = server.urlFor('shop');
  });

  after(async () => {
    await server?.stop();
  });

  it('the example mappings match the example schema: no warning, exit 0 even with --strict', async () => {
    const r = await cli(['mappings', 'validate', 'mappings', '--database', shop, '--strict']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /database: 11 table\(s\) checked, 0 warning\(s\)/);
  });

  it('REPLICA IDENTITY DEFAULT under templates with non-key columns: warnings at the template, exit 0 (78 with --strict)', async () => {
    await server.exec(`ALTER TABLE app.users REPLICA IDENTITY DEFAULT; ALTER TABLE tenant_globex.orders REPLICA IDENTITY DEFAULT;
      ALTER TABLE app.sessions REPLICA IDENTITY DEFAULT;`, 'shop');
    try {
      const r = await cli(['mappings', 'validate', 'mappings', '--database', shop]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const lines = r.stdout.trim().split('\n');
      // each warning points at the first non-key column in template order (keys, tags, versions)
      const email = await posIn('mappings/users.yaml', '{email|lower}');
      const changed = await posIn('mappings/users.yaml', 'org_id', 'changed:');
      const sessions = await posIn('mappings/users.yaml', '{user_id}');
      const orders = await posIn('mappings/orders.yaml', '{tenant_id}');
      assert.deepEqual(lines, [
        `${orders} warning: mapping "tenant-orders": table tenant_globex.orders has REPLICA IDENTITY DEFAULT (key: id), but templates use non-key columns tenant_id, customer_id: a delete carries only the key and an update no before image, so the old names cannot be invalidated (ALTER TABLE tenant_globex.orders REPLICA IDENTITY FULL)`,
        `${email} warning: mapping "users": table app.users has REPLICA IDENTITY DEFAULT (key: id), but templates use non-key columns email, handle, org_id: a delete carries only the key and an update no before image, so the old names cannot be invalidated (ALTER TABLE app.users REPLICA IDENTITY FULL)`,
        `${changed} warning: mapping "users": when.changed cannot filter updates of app.users (REPLICA IDENTITY DEFAULT (key: id)): an update has no before image, so every update fires (ALTER TABLE app.users REPLICA IDENTITY FULL)`,
        `${sessions} warning: mapping "sessions": table app.sessions has REPLICA IDENTITY DEFAULT (key: token), but templates use non-key column user_id: a delete carries only the key and an update no before image, so the old names cannot be invalidated (ALTER TABLE app.sessions REPLICA IDENTITY FULL)`,
      ].sort((a, b) => a.localeCompare(b, 'en', { numeric: true })));
      assert.match(r.stderr, /database: 11 table\(s\) checked, 4 warning\(s\)/);

      const strict = await cli(['mappings', 'validate', 'mappings', '--database', shop, '--strict']);
      assert.equal(strict.code, 78);
      assert.match(strict.stderr, /4 warning\(s\), and --strict treats warnings as errors/);
    } finally {
      await server.exec(`ALTER TABLE app.users REPLICA IDENTITY FULL; ALTER TABLE tenant_globex.orders REPLICA IDENTITY FULL;
        ALTER TABLE app.sessions REPLICA IDENTITY FULL;`, 'shop');
    }
  });

  it('schema drift: unknown tables and columns, a glob matching nothing, USING INDEX and NOTHING identities', async () => {
    await server.exec(`
      CREATE TABLE app.accounts (id bigint PRIMARY KEY, slug text NOT NULL, region text NOT NULL);
      CREATE UNIQUE INDEX accounts_slug ON app.accounts (slug);
      ALTER TABLE app.accounts REPLICA IDENTITY USING INDEX accounts_slug;
      CREATE TABLE app.audit (id bigint PRIMARY KEY, what text);
      ALTER TABLE app.audit REPLICA IDENTITY NOTHING;
      CREATE TABLE app."Mixed" (id int PRIMARY KEY, "Name" text);`, 'shop');
    const dir = await mkdtemp(join(tmpdir(), 'cdci-dblint-'));
    try {
      await writeFile(join(dir, 'm.yaml'), `mappings:
  - name: users
    table: app.users
    keys: ["user:{id}", "user:mail:{emial}"]
    when:
      changed: [email, nick]
  - name: gone
    table: app.userz
    keys: ["u:{id}"]
  - name: tenants
    table: "tenant_*.order"
    keys: ["o:{id}"]
  - name: lines
    table: "tenant_*.order_lines"
    keys: ["tenant:{tenant_id}:order:{order_id}:{sku}"]
    ops: [c, u, d]
  - name: accounts
    table: app.accounts
    keys: ["account:{slug}", "account:{region}:{slug}"]
  - name: audit
    table: app.audit
    keys: ["audit:{id}"]
  - name: mixed
    table: app.Mixed
    keys: ["mixed:{id}:{Name}"]
`);
      const loaded = await loadMappings(dir);
      assert.ok(loaded.set, JSON.stringify(loaded.problems));
      const { problems, tables } = await lintDatabase(loaded.set, shop);
      assert.equal(tables, 14);
      const f = loaded.files[0]!;
      assert.deepEqual(problems.map(formatProblem), [
        `${f}:4:36 warning: mapping "users": column "emial" (template "user:mail:{emial}") does not exist in app.users`,
        `${f}:6:24 warning: mapping "users": when.changed column "nick" does not exist in app.users`,
        `${f}:8:12 warning: mapping "gone": table app.userz does not exist in the database (or this user cannot see it)`,
        `${f}:11:12 warning: mapping "tenants": table pattern tenant_*.order matches no table in the database`,
        `${f}:15:49 warning: mapping "lines": column "sku" (template "tenant:{tenant_id}:order:{order_id}:{sku}") does not exist in tenant_acme.order_lines, tenant_globex.order_lines`,
        `${f}:19:39 warning: mapping "accounts": table app.accounts has REPLICA IDENTITY USING INDEX (key: slug), but templates use non-key column region: a delete carries only the key and an update no before image, so the old names cannot be invalidated (ALTER TABLE app.accounts REPLICA IDENTITY FULL)`,
        `${f}:22:19 warning: mapping "audit": table app.audit has REPLICA IDENTITY NOTHING: its updates and deletes carry no old row (Postgres refuses them while the table is published), so nothing can be rendered from a before image (ALTER TABLE app.audit REPLICA IDENTITY FULL)`,
        `${f}:25:24 warning: mapping "mixed": table app.Mixed has REPLICA IDENTITY DEFAULT (key: id), but templates use non-key column Name: a delete carries only the key and an update no before image, so the old names cannot be invalidated (ALTER TABLE app."Mixed" REPLICA IDENTITY FULL)`,
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
      await server.exec('DROP TABLE app.accounts, app.audit, app."Mixed"', 'shop');
    }
  });

  it('a declared replica_identity is checked against the table\'s relreplident (exit 78 with --strict)', async () => {
    await server.exec('CREATE TABLE app.flags (id bigint PRIMARY KEY, name text NOT NULL, on_off boolean NOT NULL);', 'shop');
    const dir = await mkdtemp(join(tmpdir(), 'cdci-dblint-ri-'));
    try {
      await writeFile(join(dir, 'm.yaml'), `mappings:
  - name: flags
    table: app.flags
    keys: ["flag:{id}"]
    ops: [c, u, d]
    replica_identity: full
  - name: customers
    table: inventory.customers
    keys: ["customer:{id}"]
    ops: [c, u, d]
    replica_identity: default
`);
      const r = await cli(['mappings', 'validate', dir, '--database', shop, '--strict']);
      assert.equal(r.code, 78, r.stdout + r.stderr);
      const lines = r.stdout.trim().split('\n');
      assert.equal(lines.length, 2, r.stdout);
      assert.match(lines[0]!, /m\.yaml:6:23 warning: mapping "flags": replica_identity full, but table app\.flags has REPLICA IDENTITY DEFAULT \(key: id\)/);
      assert.match(lines[1]!, /m\.yaml:11:23 warning: mapping "customers": replica_identity default, but table inventory\.customers has REPLICA IDENTITY FULL/);
      await server.exec('ALTER TABLE app.flags REPLICA IDENTITY FULL;', 'shop');
      const fixed = await cli(['mappings', 'validate', dir, '--database', shop]);
      assert.equal(fixed.stdout.trim().split('\n').length, 1, fixed.stdout);
    } finally {
      await rm(dir, { recursive: true, force: true });
      await server.exec('DROP TABLE app.flags', 'shop');
    }
  });

  it('a database that does not exist: exit 78 with the server\'s reason', async () => {
    const r = await cli(['mappings', 'validate', 'mappings', '--database', server.urlFor('nope')]);
    assert.equal(r.code, 78);
    assert.match(r.stderr, /^cdc-invalidator: cannot connect to postgres:\/\/postgres@127\.0\.0\.1:\d+\/nope: database "nope" does not exist$/m);
  });
});
