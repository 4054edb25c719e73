import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { repoRoot } from '../../support/paths.js';
import { freePort } from '../../support/ports.js';

/**
 * debezium/register.sh against a small Kafka Connect stand-in on 127.0.0.1: an HTTP server that records
 * every request and answers like Connect's REST API (the script's only dependency is curl).
 */

const root = repoRoot();
const SCRIPT = join(root, 'debezium', 'register.sh');
const CONFIG_FILE = join(root, 'debezium', 'postgres-connector.json');
const CONFIG_TEXT = readFileSync(CONFIG_FILE, 'utf8');
const NAME = 'cdc-invalidator-postgres';
/** Each run is bounded: a stuck script fails the test instead of hanging it. */
const RUN_TIMEOUT_MS = 30_000;

interface Recorded {
  readonly method: string;
  readonly url: string;
  readonly contentType: string | undefined;
  readonly body: string;
}

type Handler = (req: Recorded, res: ServerResponse) => void;

interface FakeConnect {
  readonly url: string;
  readonly requests: Recorded[];
  handle: Handler;
  close(): Promise<void>;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function status(connector: string, tasks: readonly { state: string; trace?: string }[]): unknown {
  return {
    name: NAME,
    connector: { state: connector, worker_id: '10.0.0.7:8083' },
    tasks: tasks.map((t, id) => ({ id, worker_id: '10.0.0.7:8083', ...t })),
    type: 'source',
  };
}

async function startFakeConnect(): Promise<FakeConnect> {
  const requests: Recorded[] = [];
  const fake: FakeConnect = {
    url: '',
    requests,
    handle: (_req, res) => json(res, 500, { error_code: 500, message: 'no handler' }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rec: Recorded = {
        method: req.method ?? '',
        url: req.url ?? '',
        contentType: req.headers['content-type'],
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(rec);
      fake.handle(rec, res);
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return Object.assign(fake, { url: `http://127.0.0.1:${port}` });
}

/**
 * Connect as it behaves for a new connector: 201 on the first PUT, 200 after; the status says UNASSIGNED
 * with no task, then the task starting, then RUNNING from the `runningAfter`-th status request on.
 */
function connectLike(fake: FakeConnect, runningAfter = 3): { stored: () => string | undefined } {
  let stored: string | undefined;
  let statusCalls = 0;
  fake.handle = (req, res) => {
    if (req.method === 'GET' && req.url === '/connectors') return json(res, 200, stored ? [NAME] : []);
    if (req.method === 'PUT' && req.url === `/connectors/${NAME}/config`) {
      const existed = stored !== undefined;
      stored = req.body;
      return json(res, existed ? 200 : 201, { name: NAME, config: JSON.parse(req.body) as unknown, tasks: [], type: 'source' });
    }
    if (req.method === 'GET' && req.url === `/connectors/${NAME}/status`) {
      statusCalls++;
      if (statusCalls >= runningAfter) return json(res, 200, status('RUNNING', [{ state: 'RUNNING' }]));
      return json(res, 200, statusCalls === 1 ? status('UNASSIGNED', []) : status('RUNNING', [{ state: 'UNASSIGNED' }]));
    }
    return json(res, 404, { error_code: 404, message: `unexpected ${req.method} ${req.url}` });
  };
  return { stored: () => stored };
}

interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** Runs register.sh with bash, asynchronously (the fake server lives in this process). */
function register(env: Record<string, string>): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [SCRIPT], {
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', MAX_TRIES: '10', SLEEP_SECONDS: '0.1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`register.sh did not finish in ${RUN_TIMEOUT_MS} ms; stderr:\n${stderr}`));
    }, RUN_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

const routes = (fake: FakeConnect): string[] => fake.requests.map((r) => `${r.method} ${r.url}`);

describe('debezium/register.sh', { timeout: 120_000 }, () => {
  let fake: FakeConnect;
  before(async () => {
    fake = await startFakeConnect();
  });
  after(async () => {
    await fake.close();
  });
  const reset = (): void => {
    fake.requests.length = 0;
  };

  it('PUTs postgres-connector.json to /connectors/<name>/config and waits until the task is RUNNING', async () => {
    reset();
    const connect = connectLike(fake, 3);
    const r = await register({ CONNECT_URL: fake.url });
    assert.equal(r.code, 0, r.stderr);
    const puts = fake.requests.filter((q) => q.method === 'PUT');
    assert.equal(puts.length, 1);
    assert.equal(puts[0]!.url, `/connectors/${NAME}/config`);
    assert.equal(puts[0]!.contentType, 'application/json');
    assert.equal(puts[0]!.body, CONFIG_TEXT, 'the body is the file, byte for byte');
    assert.deepEqual(JSON.parse(puts[0]!.body), JSON.parse(CONFIG_TEXT));
    assert.equal(connect.stored(), CONFIG_TEXT);
    // Reachability first, then the PUT, then status polls until RUNNING (the third answer), and no more.
    assert.deepEqual(routes(fake), [
      'GET /connectors',
      `PUT /connectors/${NAME}/config`,
      `GET /connectors/${NAME}/status`,
      `GET /connectors/${NAME}/status`,
      `GET /connectors/${NAME}/status`,
    ]);
    assert.match(r.stderr, /created connector cdc-invalidator-postgres/);
    assert.match(r.stderr, /RUNNING with task\(s\): RUNNING/);
    assert.equal((JSON.parse(r.stdout) as { connector: { state: string } }).connector.state, 'RUNNING', 'prints the final status');
  });

  it('is idempotent: a re-run sends the same PUT, Connect answers 200, and it succeeds again', async () => {
    reset();
    const connect = connectLike(fake, 1);
    const first = await register({ CONNECT_URL: fake.url });
    const second = await register({ CONNECT_URL: `${fake.url}/` });
    assert.equal(first.code, 0, first.stderr);
    assert.equal(second.code, 0, second.stderr);
    const puts = fake.requests.filter((q) => q.method === 'PUT');
    assert.equal(puts.length, 2);
    assert.deepEqual(puts.map((p) => p.url), [`/connectors/${NAME}/config`, `/connectors/${NAME}/config`], 'a trailing slash on CONNECT_URL is dropped');
    assert.equal(puts[0]!.body, puts[1]!.body);
    assert.equal(connect.stored(), CONFIG_TEXT);
    assert.match(first.stderr, /created connector/);
    assert.match(second.stderr, /updated connector/);
    assert.ok(!fake.requests.some((q) => q.method === 'POST' || q.method === 'DELETE'), 'never POST /connectors or DELETE');
  });

  it('uses CONNECTOR_NAME and CONNECTOR_CONFIG', async () => {
    reset();
    const other = 'inventory-cdc';
    fake.handle = (req, res) => {
      if (req.url === '/connectors') return json(res, 200, []);
      if (req.method === 'PUT') return json(res, 201, {});
      return json(res, 200, { ...(status('RUNNING', [{ state: 'RUNNING' }, { state: 'RUNNING' }]) as object), name: other });
    };
    const r = await register({ CONNECT_URL: fake.url, CONNECTOR_NAME: other, CONNECTOR_CONFIG: CONFIG_FILE });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(routes(fake).slice(1), [`PUT /connectors/${other}/config`, `GET /connectors/${other}/status`]);
    assert.match(r.stderr, /task\(s\): RUNNING RUNNING/);
  });

  it('fails at once, with the task trace, when the task is FAILED', async () => {
    reset();
    fake.handle = (req, res) => {
      if (req.url === '/connectors') return json(res, 200, []);
      if (req.method === 'PUT') return json(res, 201, {});
      return json(res, 200, status('RUNNING', [{ state: 'FAILED', trace: 'org.apache.kafka.connect.errors.ConnectException: wal_level is replica' }]));
    };
    const r = await register({ CONNECT_URL: fake.url, MAX_TRIES: '50' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /connector cdc-invalidator-postgres or one of its tasks FAILED/);
    assert.match(r.stderr, /wal_level is replica/, 'the last response body (the trace) is shown');
    assert.equal(fake.requests.filter((q) => q.url.endsWith('/status')).length, 1, 'no polling after FAILED');
  });

  it('gives up after MAX_TRIES status polls when the task never runs, naming the states', async () => {
    reset();
    fake.handle = (req, res) => {
      if (req.url === '/connectors') return json(res, 200, []);
      if (req.method === 'PUT') return json(res, 201, {});
      return json(res, 200, status('RUNNING', [{ state: 'UNASSIGNED' }]));
    };
    const r = await register({ CONNECT_URL: fake.url, MAX_TRIES: '4', SLEEP_SECONDS: '0.05' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not RUNNING after 4 tries \(HTTP 200, connector 'RUNNING', tasks 'UNASSIGNED'\)/);
    assert.equal(fake.requests.filter((q) => q.url.endsWith('/status')).length, 4);
  });

  it('waits while Connect is starting (503) or rebalancing (409), then registers', async () => {
    reset();
    let gets = 0;
    let puts = 0;
    fake.handle = (req, res) => {
      if (req.url === '/connectors') return ++gets < 3 ? json(res, 503, { message: 'starting' }) : json(res, 200, []);
      if (req.method === 'PUT') return ++puts < 2 ? json(res, 409, { message: 'rebalance in progress' }) : json(res, 201, {});
      return json(res, 200, status('RUNNING', [{ state: 'RUNNING' }]));
    };
    const r = await register({ CONNECT_URL: fake.url });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(routes(fake).map((x) => x.split(' ')[0]), ['GET', 'GET', 'GET', 'PUT', 'PUT', 'GET']);
    assert.match(r.stderr, /waiting for Kafka Connect .* \(HTTP 503, try 1\/10\)/);
    assert.match(r.stderr, /HTTP 409, retrying/);
  });

  it('fails without retrying when Connect rejects the config (400)', async () => {
    reset();
    fake.handle = (req, res) => {
      if (req.url === '/connectors') return json(res, 200, []);
      return json(res, 400, { error_code: 400, message: 'Connector configuration is invalid: slot.name' });
    };
    const r = await register({ CONNECT_URL: fake.url });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /PUT \/connectors\/cdc-invalidator-postgres\/config was refused \(HTTP 400\)/);
    assert.match(r.stderr, /Connector configuration is invalid: slot.name/);
    assert.equal(fake.requests.filter((q) => q.method === 'PUT').length, 1);
  });

  it('fails in bounded time when nothing listens at CONNECT_URL', async () => {
    const port = await freePort();
    const r = await register({ CONNECT_URL: `http://127.0.0.1:${port}`, MAX_TRIES: '3', SLEEP_SECONDS: '0.1' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`Kafka Connect at http://127.0.0.1:${port} did not answer GET /connectors with 200 \\(last: 000\\)`));
    assert.ok(r.ms < 15_000, `took ${r.ms} ms`);
  });

  it('rejects a missing config file and a bad MAX_TRIES as usage errors (exit 2)', async () => {
    reset();
    const missing = await register({ CONNECT_URL: fake.url, CONNECTOR_CONFIG: join(root, 'debezium', 'no-such.json') });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read the connector config .*no-such\.json/);
    const bad = await register({ CONNECT_URL: fake.url, MAX_TRIES: 'ten' });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /MAX_TRIES must be a number, got 'ten'/);
    assert.equal(fake.requests.length, 0, 'no request on a usage error');
  });
});
