import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { repoRoot } from '../../support/paths.js';
import { freePort } from '../../support/ports.js';

/** The Dockerfile read as instructions, checked against package.json and the repository's files. */

const root = repoRoot();
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  bin: Record<string, string>;
  engines: { node: string };
  files: string[];
};

interface Instruction {
  readonly op: string;
  readonly args: string;
  readonly line: number;
}

interface Stage {
  readonly from: string;
  readonly name: string | undefined;
  readonly steps: Instruction[];
}

/** Instructions with continuation lines joined and comments dropped, split into stages. */
function parseDockerfile(text: string): { args: Map<string, string>; stages: Stage[] } {
  const instructions: Instruction[] = [];
  let pending = '';
  let startLine = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trimEnd();
    if (!pending && (/^\s*#/.test(line) || line.trim() === '')) return;
    if (!pending) startLine = i + 1;
    if (/^\s*#/.test(line)) return; // a comment inside a continued instruction
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      return;
    }
    const full = (pending + line).trim();
    pending = '';
    const m = /^(\S+)\s+([\s\S]*)$/.exec(full);
    assert.ok(m, `Dockerfile:${startLine}: cannot read "${full}"`);
    instructions.push({ op: m[1]!.toUpperCase(), args: m[2]!.trim(), line: startLine });
  });
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      assert.ok(m, `Dockerfile:${ins.line}: FROM ${ins.args}`);
      const image = m[1]!.replace(/\$\{(\w+)\}|\$(\w+)/g, (_s, a: string | undefined, b: string | undefined) => args.get(a ?? b ?? '') ?? '');
      stages.push({ from: image, name: m[2], steps: [] });
    } else if (stages.length === 0) {
      assert.equal(ins.op, 'ARG', `Dockerfile:${ins.line}: only ARG may precede the first FROM`);
      const [k, v] = ins.args.split('=');
      args.set(k!, v ?? '');
    } else {
      stages.at(-1)!.steps.push(ins);
    }
  }
  return { args, stages };
}

function execForm(ins: Instruction | undefined, what: string): string[] {
  assert.ok(ins, `no ${what}`);
  const body = ins.op === 'HEALTHCHECK' ? ins.args.replace(/^.*?\bCMD\s+/, '') : ins.args;
  assert.ok(body.startsWith('['), `Dockerfile:${ins.line}: ${what} must be in exec form (JSON array), so no shell stands between docker and node`);
  return JSON.parse(body) as string[];
}

const dockerfile = parseDockerfile(readFileSync(join(root, 'Dockerfile'), 'utf8'));
const build = dockerfile.stages[0]!;
const runtime = dockerfile.stages.at(-1)!;
const of = (stage: Stage, op: string): Instruction[] => stage.steps.filter((s) => s.op === op);
const runs = (stage: Stage): string[] => of(stage, 'RUN').map((r) => r.args);
const envOf = (stage: Stage): Map<string, string> => {
  const env = new Map<string, string>();
  for (const e of of(stage, 'ENV')) for (const m of e.args.matchAll(/(\w+)=(\S+)/g)) env.set(m[1]!, m[2]!);
  return env;
};

describe('Dockerfile', () => {
  it('is multi-stage: a build stage, and a runtime stage on the same Node image', () => {
    assert.equal(dockerfile.stages.length, 2);
    assert.ok(build.name, 'the build stage is named, for COPY --from');
    assert.equal(runtime.from, build.from);
  });

  it('uses a Node major that package.json engines allows', () => {
    const m = /^node:(\d+)(?:[.-]|$)/.exec(runtime.from);
    assert.ok(m, `base image ${runtime.from} is not an official node:<major> image`);
    const major = Number(m[1]);
    const engines = /^>=\s*(\d+)/.exec(pkg.engines.node);
    assert.ok(engines, `engines.node "${pkg.engines.node}" is not >=N: update this test`);
    assert.ok(major >= Number(engines[1]), `node:${major} does not satisfy engines ${pkg.engines.node}`);
  });

  it('the build stage installs from the lockfile and runs only scripts package.json has', () => {
    const commands = runs(build);
    assert.ok(commands.some((c) => /\bnpm ci\b/.test(c)), 'npm ci (the lockfile), not npm install');
    const scripts = commands.flatMap((c) => [...c.matchAll(/\bnpm run ([\w:-]+)/g)].map((m) => m[1]!));
    assert.ok(scripts.includes('build'), 'npm run build');
    for (const s of scripts) assert.ok(pkg.scripts[s], `the Dockerfile runs "npm run ${s}", which package.json does not define`);
    // The build script compiles tsconfig.json's sources: the stage must have them.
    const copied = of(build, 'COPY').map((c) => c.args.split(/\s+/)[0]!);
    const tsconfig = JSON.parse(readFileSync(join(root, 'tsconfig.json'), 'utf8')) as { include: string[] };
    for (const dir of new Set(tsconfig.include.map((p) => p.split('/')[0]!))) {
      assert.ok(copied.includes(dir), `tsconfig.json compiles ${dir}/ but the build stage does not COPY it`);
    }
    assert.ok(copied.includes('tsconfig.json') && copied.includes('package.json'));
    // Every project the build script compiles (`tsc -p X`) is copied too.
    const sources = of(build, 'COPY').flatMap((c) => c.args.split(/\s+/).slice(0, -1));
    for (const m of (pkg.scripts['build'] ?? '').matchAll(/-p\s+(\S+)/g)) {
      assert.ok(sources.includes(m[1]!), `the build script compiles ${m[1]} but the build stage does not COPY it`);
    }
  });

  it('the runtime stage has production dependencies only, the compiled worker, mappings and schema', () => {
    const commands = runs(runtime);
    assert.ok(commands.some((c) => /\bnpm ci\b.*--omit=dev/.test(c)), 'npm ci --omit=dev');
    assert.ok(!commands.some((c) => /\bnpm (run|install|i)\b/.test(c)), 'no build or unlocked install at runtime');
    const copies = of(runtime, 'COPY').map((c) => c.args);
    assert.ok(copies.some((c) => new RegExp(`^--from=${build.name}\\s+\\S*dist/src\\s`).test(c)), 'dist/src from the build stage');
    assert.ok(!copies.some((c) => /dist\/test|\btest\b/.test(c)), 'tests stay in the build stage');
    for (const dir of ['mappings', 'schema']) {
      assert.ok(copies.some((c) => c.startsWith(`${dir} `)), `COPY ${dir}`);
      assert.ok(pkg.files.includes(dir), `${dir} is also in package.json files`);
    }
    assert.equal(envOf(runtime).get('NODE_ENV'), 'production');
  });

  it('the entrypoint is the package bin, run by node in exec form; the default command is run', () => {
    const entry = execForm(of(runtime, 'ENTRYPOINT').at(-1), 'ENTRYPOINT');
    assert.equal(entry[0], 'node', 'node itself is PID 1 and receives SIGTERM (no shell, no npm)');
    const bin = Object.values(pkg.bin);
    assert.equal(bin.length, 1);
    assert.equal(entry[1], bin[0], 'ENTRYPOINT runs package.json bin');
    assert.equal(entry[1], pkg.scripts['start']?.split(/\s+/)[1], 'the same file npm start runs');
    assert.deepEqual(execForm(of(runtime, 'CMD').at(-1), 'CMD'), ['run']);
    assert.ok(readFileSync(join(root, 'src', 'cli', 'run.ts'), 'utf8').includes(".command('run')"), 'run is a CLI command');
    const stop = of(runtime, 'STOPSIGNAL').at(-1);
    assert.ok(!stop || stop.args === 'SIGTERM', 'the worker drains on SIGTERM');
  });

  it('runs as a non-root user, numerically (so Kubernetes runAsNonRoot can verify it)', () => {
    const user = of(runtime, 'USER').at(-1);
    assert.ok(user, 'no USER: the container would run as root');
    const [uid] = user.args.split(':');
    assert.match(uid!, /^\d+$/);
    assert.notEqual(Number(uid), 0);
  });

  it('copies only what exists and what .dockerignore lets into the context', () => {
    const ignored = readFileSync(join(root, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const stage of dockerfile.stages) {
      for (const c of of(stage, 'COPY')) {
        if (c.args.startsWith('--from=')) continue;
        const sources = c.args.split(/\s+/).slice(0, -1);
        for (const s of sources) {
          assert.ok(existsSync(join(root, s)), `Dockerfile:${c.line}: COPY ${s}: no such file`);
          assert.ok(!ignored.includes(s) && !ignored.includes(s.split('/')[0]!), `Dockerfile:${c.line}: ${s} is excluded by .dockerignore`);
        }
      }
    }
    for (const must of ['**/node_modules', 'dist', '.git']) assert.ok(ignored.includes(must), `.dockerignore keeps ${must} out`);
  });

  it('exposes the health port it sets', () => {
    const port = envOf(runtime).get('CDC_INVALIDATOR_HEALTH_PORT');
    assert.ok(port && Number(port) > 0, 'CDC_INVALIDATOR_HEALTH_PORT is set, so the HEALTHCHECK has a server to ask');
    assert.ok(of(runtime, 'EXPOSE').some((e) => e.args.split(/\s+/).includes(port)), `EXPOSE ${port}`);
  });
});

describe('Dockerfile HEALTHCHECK', () => {
  const check = execForm(of(runtime, 'HEALTHCHECK').at(-1), 'HEALTHCHECK');
  let server: Server;
  let port = 0;
  let livez = 200;
  const paths: string[] = [];
  before(async () => {
    server = createServer((req, res) => {
      paths.push(req.url ?? '');
      res.writeHead(req.url === '/livez' ? livez : 404).end('{}');
    });
    port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  /** Runs the check's command (node, as in the image) with CDC_INVALIDATOR_HEALTH_PORT set. */
  function probe(healthPort: string): Promise<{ code: number | null; stderr: string }> {
    assert.equal(check[0], 'node', 'the check uses node (the slim image has no curl)');
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, check.slice(1), { env: { CDC_INVALIDATOR_HEALTH_PORT: healthPort }, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stderr });
      });
    });
  }

  it('asks /livez on CDC_INVALIDATOR_HEALTH_PORT: healthy on 200', async () => {
    livez = 200;
    paths.length = 0;
    assert.equal((await probe(String(port))).code, 0);
    assert.deepEqual(paths, ['/livez']);
  });

  it('unhealthy on a 5xx, when nothing listens, and when CDC_INVALIDATOR_HEALTH_PORT is 0', async () => {
    livez = 503;
    assert.equal((await probe(String(port))).code, 1);
    assert.equal((await probe(String(await freePort()))).code, 1);
    const off = await probe('0');
    assert.equal(off.code, 1);
    assert.match(off.stderr, /CDC_INVALIDATOR_HEALTH_PORT is 0/);
  });
});
