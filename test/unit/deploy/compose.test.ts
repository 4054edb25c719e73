import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { parseDuration } from '../../../src/util/duration.js';
import { repoRoot } from '../../support/paths.js';
import { freePort } from '../../support/ports.js';

/** docker-compose.yml read as data: services, ports, health checks, start order, and its agreement with debezium/. */

const root = repoRoot();
const COMPOSE_TEXT = readFileSync(join(root, 'docker-compose.yml'), 'utf8');

interface Service {
  image?: string;
  build?: string | { context: string };
  command?: string | string[];
  entrypoint?: string[];
  environment?: Record<string, string | number>;
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  profiles?: string[];
  restart?: string;
  secrets?: string[];
  stop_grace_period?: string;
}

interface ComposeFile {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
  secrets?: Record<string, { file: string }>;
}

const compose = parse(COMPOSE_TEXT) as ComposeFile;
const connector = JSON.parse(readFileSync(join(root, 'debezium', 'postgres-connector.json'), 'utf8')) as Record<string, string>;

function service(name: string): Service {
  const s = compose.services[name];
  assert.ok(s, `docker-compose.yml has no service "${name}"`);
  return s;
}

const env = (s: Service): Record<string, string> => Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, String(v)]));
const words = (c: string | string[] | undefined): string[] => (Array.isArray(c) ? c : (c ?? '').split(/\s+/).filter(Boolean));

/** "host:container" port mappings as numbers. */
function published(s: Service): Map<number, number> {
  return new Map(
    (s.ports ?? []).map((p) => {
      const m = /^(?:[\d.]+:)?(\d+):(\d+)$/.exec(p);
      assert.ok(m, `port mapping "${p}" is not host:container`);
      return [Number(m[2]), Number(m[1])] as const;
    }),
  );
}

/** The host side of a bind mount onto `target`. */
function mountOnto(s: Service, target: string): string | undefined {
  return (s.volumes ?? []).map((v) => v.split(':')).find((p) => p[1] === target)?.[0];
}

const WORKER = 'cdc-invalidator';
const REGISTER = 'register-connector';

describe('docker-compose.yml', () => {
  it('has the pipeline services by default and the Schema Registry under the avro profile', () => {
    for (const name of ['postgres', 'kafka', 'connect', REGISTER, 'redis', WORKER]) {
      assert.equal(service(name).profiles, undefined, `${name} starts with a plain docker compose up`);
    }
    assert.deepEqual(service('schema-registry').profiles, ['avro']);
    assert.match(service('postgres').image ?? '', /^postgres:\d+/);
    assert.match(service('kafka').image ?? '', /^apache\/kafka:/, 'the official Apache image (KRaft)');
    assert.match(service('connect').image ?? '', /^quay\.io\/debezium\/connect:\$\{DEBEZIUM_VERSION:-3\.\d+\}$/, 'Debezium Connect 3.x');
  });

  it('publishes the documented host ports', () => {
    const expected: Record<string, number> = { postgres: 5432, connect: 8083, redis: 6379, 'schema-registry': 8081 };
    for (const [name, port] of Object.entries(expected)) assert.equal(published(service(name)).get(port), port, `${name} ${port}`);
    // Kafka: the host listener is published on the port it advertises.
    const kafka = env(service('kafka'));
    const external = /EXTERNAL:\/\/localhost:(\d+)/.exec(kafka['KAFKA_ADVERTISED_LISTENERS'] ?? '');
    assert.ok(external, 'an EXTERNAL listener advertised as localhost:<port>');
    assert.match(kafka['KAFKA_LISTENERS'] ?? '', new RegExp(`EXTERNAL://:${external[1]}\\b`));
    assert.equal(published(service('kafka')).get(Number(external[1])), Number(external[1]));
    // The worker: its health port.
    const health = Number(env(service(WORKER))['CDC_INVALIDATOR_HEALTH_PORT']);
    assert.ok(health > 0);
    assert.equal(published(service(WORKER)).get(health), health);
  });

  it('Kafka runs in KRaft mode, with single-replica internal topics', () => {
    const kafka = env(service('kafka'));
    assert.equal(kafka['KAFKA_PROCESS_ROLES'], 'broker,controller');
    assert.ok(kafka['KAFKA_CONTROLLER_QUORUM_VOTERS'] && kafka['CLUSTER_ID']);
    assert.ok(!Object.keys(kafka).some((k) => /ZOOKEEPER/.test(k)));
    assert.equal(kafka['KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR'], '1');
  });

  it('every long-running service has a health check, and the start order waits on them', () => {
    for (const name of ['postgres', 'kafka', 'connect', 'redis', WORKER]) {
      assert.ok(service(name).healthcheck?.test.length, `${name} has a healthcheck`);
    }
    const deps = (name: string): Record<string, string> =>
      Object.fromEntries(Object.entries(service(name).depends_on ?? {}).map(([k, v]) => [k, v.condition]));
    assert.deepEqual(deps('connect'), { kafka: 'service_healthy', postgres: 'service_healthy' });
    assert.deepEqual(deps(REGISTER), { connect: 'service_healthy' });
    assert.deepEqual(deps(WORKER), { kafka: 'service_healthy', redis: 'service_healthy', [REGISTER]: 'service_completed_successfully' });
    assert.deepEqual(deps('schema-registry'), { kafka: 'service_healthy' });
    for (const [name, s] of Object.entries(compose.services)) {
      for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
        assert.ok(compose.services[dep], `${name} depends on unknown service ${dep}`);
        if (condition === 'service_healthy') assert.ok(compose.services[dep].healthcheck, `${name} waits for ${dep} to be healthy, which has no healthcheck`);
      }
    }
    assert.equal(service(REGISTER).restart, 'no', 'the registration is one-shot');
  });

  it('Postgres runs with wal_level=logical and the init script that sets REPLICA IDENTITY FULL on the captured tables', () => {
    const pg = service('postgres');
    assert.ok(words(pg.command).includes('wal_level=logical'));
    const init = mountOnto(pg, '/docker-entrypoint-initdb.d/10-init.sql');
    assert.equal(init, './docker/postgres/init.sql');
    const sql = readFileSync(join(root, init), 'utf8');
    for (const table of (connector['table.include.list'] ?? '').split(',')) {
      const [schema, name] = table.split('.');
      assert.match(sql, new RegExp(`CREATE TABLE ${name}\\b`), `init.sql creates ${table}`);
      assert.match(sql, new RegExp(`ALTER TABLE ${name}\\s+REPLICA IDENTITY FULL`), `${table} has REPLICA IDENTITY FULL`);
      assert.match(sql, new RegExp(`CREATE SCHEMA ${schema}\\b`));
    }
    assert.match(pg.healthcheck?.test.join(' ') ?? '', /pg_isready -h 127\.0\.0\.1/, 'over TCP: not healthy while init runs on the socket');
  });

  it("the connector config points at the compose Postgres and the worker at the connector's topics", () => {
    const pg = env(service('postgres'));
    assert.equal(connector['database.hostname'], 'postgres');
    assert.equal(connector['database.port'], '5432');
    assert.equal(connector['database.dbname'], pg['POSTGRES_DB']);
    assert.equal(connector['database.user'], pg['POSTGRES_USER']);
    assert.equal(connector['database.password'], pg['POSTGRES_PASSWORD']);
    const reg = service(REGISTER);
    assert.equal(mountOnto(reg, '/debezium'), './debezium');
    assert.equal(env(reg)['CONNECTOR_CONFIG'], '/debezium/postgres-connector.json');
    assert.deepEqual(reg.entrypoint, ['/bin/sh', '/debezium/register.sh']);
    assert.equal(env(reg)['CONNECT_URL'], 'http://connect:8083');
    const cmd = words(service(WORKER).command);
    assert.equal(cmd[0], 'run');
    assert.equal(cmd[cmd.indexOf('--topic-prefix') + 1], connector['topic.prefix']);
  });

  it('Redis is a cache: maxmemory and an eviction policy', () => {
    const cmd = words(service('redis').command);
    const max = cmd[cmd.indexOf('--maxmemory') + 1] ?? '';
    assert.match(max, /^\d+(mb|gb|kb)?$/i, '--maxmemory <size>');
    assert.notEqual(max, '0');
    const policy = cmd[cmd.indexOf('--maxmemory-policy') + 1] ?? '';
    assert.ok(['allkeys-lru', 'allkeys-lfu', 'allkeys-random', 'volatile-lru', 'volatile-lfu', 'volatile-random', 'volatile-ttl'].includes(policy), `eviction policy "${policy}"`);
  });

  it('the worker is built from the Dockerfile, reads the mounted mappings, reaches Kafka and Redis inside the network', () => {
    const w = service(WORKER);
    assert.ok(w.build === '.' || (typeof w.build === 'object' && w.build.context === '.'), 'build: . (the Dockerfile)');
    const e = env(w);
    assert.equal(mountOnto(w, e['CDC_INVALIDATOR_MAPPINGS'] ?? ''), './mappings', 'CDC_INVALIDATOR_MAPPINGS is where ./mappings is mounted');
    const internal = /INTERNAL:\/\/kafka:(\d+)/.exec(env(service('kafka'))['KAFKA_ADVERTISED_LISTENERS'] ?? '');
    assert.equal(e['CDC_INVALIDATOR_BROKERS'], `kafka:${internal?.[1]}`);
    assert.equal(e['CDC_INVALIDATOR_REDIS'], 'redis://redis:6379');
    const grace = parseDuration(e['CDC_INVALIDATOR_SHUTDOWN_GRACE'] ?? '10s');
    assert.ok(parseDuration(w.stop_grace_period ?? '10s') > grace, 'docker waits longer than the drain before SIGKILL');
    assert.match(w.healthcheck?.test.join(' ') ?? '', /\/readyz/);
  });

  it('the commented TLS/SASL variant parses once uncommented, and its secrets are defined', () => {
    const lines = COMPOSE_TEXT.split('\n');
    const start = lines.findIndex((l) => l === `  ${WORKER}:`);
    const end = lines.findIndex((l, i) => i > start && /^ {2}\S/.test(l));
    assert.ok(start > 0 && end > start);
    const secure = lines
      .map((l, i) => {
        if (i > start && i < end) {
          if (/^ {6}(CDC_INVALIDATOR_BROKERS|CDC_INVALIDATOR_REDIS): /.test(l)) return null; // replaced by the secure variants
          const v = /^( {6})# ([A-Z][A-Z0-9_]*: .*)$/.exec(l) ?? /^( {4})# (secrets: \[.*)$/.exec(l);
          if (v) return v[1]! + v[2]!;
        }
        const top = /^# (secrets:)$/.exec(l) ?? /^# ( {2}\S.*:| {4}file: .*)$/.exec(l);
        return i > end && top ? top[1]! : l;
      })
      .filter((l): l is string => l !== null)
      .join('\n');
    const parsed = parse(secure) as ComposeFile;
    const e = env(parsed.services[WORKER]!);
    for (const name of ['CDC_INVALIDATOR_REDIS_USERNAME', 'CDC_INVALIDATOR_REDIS_PASSWORD_FILE', 'CDC_INVALIDATOR_REDIS_TLS_CA', 'CDC_INVALIDATOR_KAFKA_SASL_MECHANISM', 'CDC_INVALIDATOR_KAFKA_SASL_USERNAME', 'CDC_INVALIDATOR_KAFKA_SASL_PASSWORD_FILE', 'CDC_INVALIDATOR_KAFKA_TLS', 'CDC_INVALIDATOR_KAFKA_TLS_CA']) {
      assert.ok(e[name], `secure variant sets ${name}`);
    }
    assert.match(e['CDC_INVALIDATOR_REDIS'] ?? '', /^rediss:\/\//);
    assert.equal(e['CDC_INVALIDATOR_KAFKA_TLS'], 'true');
    const secrets = parsed.services[WORKER]!.secrets ?? [];
    assert.ok(secrets.length > 0);
    for (const s of secrets) assert.ok(parsed.secrets?.[s]?.file, `secret ${s} is defined at the top level`);
    for (const [k, v] of Object.entries(e)) {
      if (k.endsWith('_FILE')) assert.ok(secrets.some((s) => v === `/run/secrets/${s}`), `${k}=${v} is a mounted compose secret`);
    }
  });

  const composeBin = spawnSync('docker-compose', ['version', '--short'], { encoding: 'utf8' });
  it('docker-compose config accepts it', { skip: composeBin.status === 0 ? false : 'docker-compose is not installed' }, () => {
    const r = spawnSync('docker-compose', ['-f', join(root, 'docker-compose.yml'), 'config', '-q'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
  });
});

describe('docker-compose.yml worker healthcheck', () => {
  const test = service(WORKER).healthcheck?.test ?? [];
  let server: Server;
  let port = 0;
  let readyz = 200;
  before(async () => {
    server = createServer((req, res) => res.writeHead(req.url === '/readyz' ? readyz : 404).end('{}'));
    port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  function probe(): Promise<number | null> {
    assert.deepEqual(test.slice(0, 2), ['CMD', 'node'], 'exec form with node (the image has no curl)');
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, test.slice(2), { env: { CDC_INVALIDATOR_HEALTH_PORT: String(port) }, stdio: 'ignore' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
  }

  it('is healthy when /readyz answers 200 and unhealthy on 503', async () => {
    readyz = 200;
    assert.equal(await probe(), 0);
    readyz = 503;
    assert.equal(await probe(), 1);
  });
});
