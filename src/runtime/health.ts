import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';

export interface HealthSource {
  /** Ready: the worker runs, has joined its group, and Redis answers (not paused on an outage). */
  health(): { readonly ready: boolean };
}

export interface HealthServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * `/livez`: the process and its event loop are alive (answered at all, with the loop's lag).
 * `/readyz`: 200 when the worker is ready, 503 otherwise, with the reasons as JSON.
 * `/metrics`: Prometheus text format, when a metrics source is given.
 */
export interface MetricsSource {
  readonly contentType: string;
  metrics(): Promise<string>;
}

export async function startHealthServer(port: number, source: HealthSource, logger: Logger, metrics?: MetricsSource, host = '0.0.0.0'): Promise<HealthServer> {
  let lagMs = 0;
  let last = performance.now();
  const probe = setInterval(() => {
    const now = performance.now();
    lagMs = Math.max(0, now - last - 500);
    last = now;
  }, 500);
  probe.unref();

  const server: Server = createServer((req, res) => {
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, { error: 'method not allowed' });
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/livez') return send(200, { live: true, eventLoopLagMs: Math.round(lagMs) });
    if (path === '/readyz') {
      const h = source.health();
      return send(h.ready ? 200 : 503, h);
    }
    if (path === '/metrics' && metrics) {
      metrics.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(text),
        (e: unknown) => send(500, { error: (e as Error).message }),
      );
      return;
    }
    return send(404, { error: 'not found', paths: ['/livez', '/readyz', ...(metrics ? ['/metrics'] : [])] });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  logger.info({ port: bound }, 'health server listening');
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(probe);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
