import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * A small Confluent-compatible Schema Registry for tests, on 127.0.0.1 (random port): the part of
 * the REST API `@kafkajs/confluent-schema-registry` uses — register (POST /subjects/:s/versions),
 * get by id (GET /schemas/ids/:id), versions (GET /subjects/:s/versions/latest|:v), subject config
 * (GET/PUT /config/:s) — with the registry's content type and error bodies ({error_code, message}).
 * `mode` makes it fail for outage tests: 'unavailable' answers 503, 'hang' never answers.
 */
export type RegistryMode = 'ok' | 'unavailable' | 'hang';

interface Stored {
  readonly schema: string;
  readonly schemaType?: string;
  readonly references?: unknown[];
}

export interface TestSchemaRegistry {
  readonly url: string;
  mode: RegistryMode;
  /** Requests seen, by method and path ("GET /schemas/ids/1"). */
  readonly requests: string[];
  /** Authorization header required when set ("Basic …"). */
  requireAuth: string | undefined;
  close(): Promise<void>;
}

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': CONTENT_TYPE, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function error(res: ServerResponse, status: number, code: number, message: string): void {
  send(res, status, { error_code: code, message });
}

async function body(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? undefined : JSON.parse(text);
}

export async function startSchemaRegistry(): Promise<TestSchemaRegistry> {
  const schemas = new Map<number, Stored>();
  const subjects = new Map<string, number[]>();
  const configs = new Map<string, string>();
  const sockets = new Set<Socket>();
  const hanging = new Set<ServerResponse>();
  let nextId = 1;

  const state: TestSchemaRegistry = {
    url: '',
    mode: 'ok',
    requests: [],
    requireAuth: undefined,
    close: async () => {
      for (const r of hanging) r.destroy();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const versionBody = (subject: string, version: number): unknown => {
    const id = subjects.get(subject)![version - 1]!;
    const s = schemas.get(id)!;
    return { subject, version, id, schema: s.schema, ...(s.schemaType ? { schemaType: s.schemaType } : {}), ...(s.references ? { references: s.references } : {}) };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]!);
    state.requests.push(`${req.method} ${path}`);
    if (state.mode === 'hang') {
      hanging.add(res);
      return;
    }
    if (state.mode === 'unavailable') return error(res, 503, 50003, 'Error while forwarding the request to the leader');
    if (state.requireAuth !== undefined && req.headers.authorization !== state.requireAuth) return error(res, 401, 401, 'Unauthorized');
    let m: RegExpExecArray | null;
    if (req.method === 'GET' && (m = /^\/schemas\/ids\/(-?\d+)$/.exec(path))) {
      const s = schemas.get(Number(m[1]));
      if (!s) return error(res, 404, 40403, `Schema ${m[1]} not found`);
      return send(res, 200, { schema: s.schema, ...(s.schemaType ? { schemaType: s.schemaType } : {}), ...(s.references ? { references: s.references } : {}) });
    }
    if ((m = /^\/config\/(.+)$/.exec(path))) {
      const subject = m[1]!;
      if (req.method === 'GET') {
        const level = configs.get(subject);
        if (!level) return error(res, 404, 40408, `Subject '${subject}' does not have subject-level compatibility configured`);
        return send(res, 200, { compatibilityLevel: level });
      }
      if (req.method === 'PUT') {
        const b = (await body(req)) as { compatibility: string };
        configs.set(subject, b.compatibility);
        return send(res, 200, { compatibility: b.compatibility });
      }
    }
    if ((m = /^\/subjects\/(.+)\/versions$/.exec(path)) && req.method === 'POST') {
      const subject = m[1]!;
      const b = (await body(req)) as Stored | undefined;
      if (!b || typeof b.schema !== 'string') return error(res, 422, 42201, 'Either the input schema or one its references is invalid');
      let id = [...schemas].find(([, s]) => s.schema === b.schema && s.schemaType === b.schemaType)?.[0];
      if (id === undefined) {
        id = nextId++;
        schemas.set(id, { schema: b.schema, ...(b.schemaType ? { schemaType: b.schemaType } : {}), ...(b.references?.length ? { references: b.references } : {}) });
      }
      const versions = subjects.get(subject) ?? [];
      if (!versions.includes(id)) versions.push(id);
      subjects.set(subject, versions);
      return send(res, 200, { id });
    }
    if ((m = /^\/subjects\/(.+)\/versions\/(latest|\d+)$/.exec(path)) && req.method === 'GET') {
      const subject = m[1]!;
      const versions = subjects.get(subject);
      if (!versions) return error(res, 404, 40401, `Subject '${subject}' not found.`);
      const v = m[2] === 'latest' ? versions.length : Number(m[2]);
      if (v < 1 || v > versions.length) return error(res, 404, 40402, `Version ${m[2]} not found.`);
      return send(res, 200, versionBody(subject, v));
    }
    return error(res, 404, 404, 'HTTP 404 Not Found');
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => error(res, 500, 50001, (e as Error).message));
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return Object.assign(state, { url: `http://127.0.0.1:${port}` });
}
