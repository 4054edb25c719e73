import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import pg from 'pg';
import { freePort } from './ports.js';
import { GuardedProcess } from './stack/guarded-process.js';

/**
 * A throwaway PostgreSQL server for tests: initdb into a temp dir, `postgres` on a random 127.0.0.1 port
 * with its unix socket in the same dir, trust auth, no fsync. As root, initdb and postgres run as the
 * `postgres` user (they refuse root). Debian's packages put the binaries in /usr/lib/postgresql/<v>/bin.
 */

export interface PostgresServer {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** URL of another database on this server. */
  urlFor(database: string): string;
  /** Runs SQL (several statements allowed) on a database (default postgres). */
  exec(sql: string, database?: string): Promise<void>;
  /** Stops (fast shutdown, or SIGKILL with crash) and starts again on the same port and data. */
  restart(opts?: { crash?: boolean }): Promise<void>;
  logTail(lines?: number): string;
  stop(): Promise<void>;
}

/** The pids whose parent is `pid` (Linux /proc). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/**
 * A crash as a machine or container sees it: the postmaster and every backend SIGKILLed at once (a
 * postmaster killed alone leaves backends holding its shared memory, and the next start refuses).
 */
async function crashAll(postmaster: number, killPostmaster: () => Promise<void>): Promise<void> {
  const children = childrenOf(postmaster);
  for (const c of children) {
    try {
      process.kill(c, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await killPostmaster();
  const deadline = Date.now() + 10_000;
  while (children.some((c) => existsSync(`/proc/${c}`)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

/** The directory holding initdb and postgres, or undefined when PostgreSQL is not installed. */
export function postgresBinDir(): string | undefined {
  const candidates: string[] = [];
  if (process.env['PG_BIN']) candidates.push(process.env['PG_BIN']);
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    const versions = readdirSync(debian).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    for (const v of versions) candidates.push(join(debian, v, 'bin'));
  }
  for (const p of (process.env['PATH'] ?? '').split(delimiter)) {
    if (p && existsSync(join(p, 'initdb'))) candidates.push(dirname(realpathSync(join(p, 'initdb'))));
  }
  return candidates.find((d) => existsSync(join(d, 'initdb')) && existsSync(join(d, 'postgres')));
}

/** Why Postgres tests cannot run here, or undefined when they can. */
export function postgresUnavailable(): string | undefined {
  if (!postgresBinDir()) return 'PostgreSQL is not installed (no initdb in /usr/lib/postgresql/*/bin or PATH; apt-get install postgresql)';
  if (process.getuid?.() === 0 && !postgresUser()) return 'running as root and there is no "postgres" user to run initdb/postgres as';
  return undefined;
}

function postgresUser(): { uid: number; gid: number } | undefined {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [name, , uid, gid] = line.split(':');
      if (name === 'postgres' && uid && gid) return { uid: Number(uid), gid: Number(gid) };
    }
  } catch {
    // no /etc/passwd: not a system we can run as another user on
  }
  return undefined;
}

function run(cmd: string, args: string[], opts: { uid?: number; gid?: number; env: NodeJS.ProcessEnv; timeoutMs: number }): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { uid: opts.uid, gid: opts.gid, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${code ?? signal}:\n${out}`));
    });
  });
}

async function canConnect(url: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
  c.on('error', () => undefined);
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

export interface PostgresOptions {
  readonly startTimeoutMs?: number;
  /** wal_level=logical with room for replication slots: what Debezium needs. */
  readonly logical?: boolean;
}

/**
 * Starts the server through stack/guard.sh (it dies with the test process), waits for pg_isready's
 * answer: a connection that runs SELECT 1.
 */
export async function startPostgres({ startTimeoutMs = 30_000, logical = false }: PostgresOptions = {}): Promise<PostgresServer> {
  const why = postgresUnavailable();
  if (why) throw new Error(why);
  const bin = postgresBinDir()!;
  const user = process.getuid?.() === 0 ? postgresUser() : undefined;
  const dir = await mkdtemp(join(tmpdir(), 'cdci-pg-'));
  if (user) await chown(dir, user.uid, user.gid);
  const data = join(dir, 'data');
  const env = { ...process.env, HOME: dir, LC_ALL: 'C', LANG: 'C' };
  const ids = user ? { uid: user.uid, gid: user.gid } : {};
  try {
    await run(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'], { ...ids, env, timeoutMs: 120_000 });
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  // fsync off: only the OS could lose what was written, and tests never crash the OS. With logical
  // decoding commits stay synchronous: a crash of postgres itself (SIGKILL in the chaos tests) must not
  // lose a transaction whose COMMIT returned.
  const settings = ['listen_addresses=127.0.0.1', 'fsync=off', 'full_page_writes=off', `synchronous_commit=${logical ? 'on' : 'off'}`];
  if (logical) settings.push('wal_level=logical', 'max_wal_senders=10', 'max_replication_slots=10', 'wal_sender_timeout=10s');

  // A port that was free a moment ago may be taken by the time postgres binds: a few tries.
  let lastLog = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    const logFile = join(dir, 'postgres.log');
    const launch = (): Promise<GuardedProcess> =>
      GuardedProcess.start(join(bin, 'postgres'), ['-D', data, '-p', String(port), '-k', dir, ...settings.flatMap((c) => ['-c', c])], {
        ...ids,
        env,
        name: 'postgres',
        logFile,
        cleanDir: dir,
      });
    const waitUp = async (proc: GuardedProcess): Promise<boolean> => {
      const deadline = Date.now() + startTimeoutMs;
      while (Date.now() < deadline && proc.running) {
        if (await canConnect(url)) return true;
        await new Promise((r) => setTimeout(r, 100));
      }
      return false;
    };
    if (user) await writeFile(logFile, '').then(() => chown(logFile, user.uid, user.gid));
    let proc = await launch();
    if (await waitUp(proc)) {
      const urlFor = (db: string): string => `postgres://postgres@127.0.0.1:${port}/${encodeURIComponent(db)}`;
      return {
        url,
        port,
        dir,
        urlFor,
        async exec(sql: string, database = 'postgres') {
          const c = new pg.Client({ connectionString: urlFor(database), connectionTimeoutMillis: 5_000 });
          await c.connect();
          try {
            await c.query(sql);
          } finally {
            await c.end();
          }
        },
        async restart({ crash = false } = {}) {
          if (crash) await crashAll(proc.pid, () => proc.kill());
          else await proc.stop('SIGINT', 10_000); // fast shutdown
          proc = await launch();
          if (!(await waitUp(proc))) throw new Error(`postgres did not come back within ${startTimeoutMs} ms:\n${proc.logTail(30)}`);
        },
        logTail: (lines = 40) => proc.logTail(lines),
        async stop() {
          await proc.stop('SIGINT', 10_000); // fast shutdown
          await rm(dir, { recursive: true, force: true });
        },
      };
    }
    lastLog = proc.logTail(40);
    await proc.stop('SIGINT', 5_000);
    if (!/could not bind|Address already in use/i.test(lastLog)) break;
  }
  await rm(dir, { recursive: true, force: true });
  throw new Error(`postgres did not start within ${startTimeoutMs} ms:\n${lastLog}`);
}
