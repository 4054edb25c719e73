import { Redis } from 'ioredis';
import { waitFor } from './processes.js';

/** Mappings the client tests use (written to a temp dir with mappingsDir()). */
export const CLIENT_MAPPINGS = `mappings:
  - name: customers
    table: inventory.customers
    keys:
      - "customer:{id}"
      - "customer:email:{email|lower}"
    version_column: version
    on_truncate:
      tags: ["customers:all"]

  - name: products
    table: inventory.products
    keys: ["product:{id}"]
    tags: ["category:{category_id}"]
    version_column: xmin
    on_truncate:
      versions: ["products:version"]

  - name: orders
    table: inventory.orders
    keys: ["order:{id}"]
    versions: ["orders:customer:{customer_id}:version"]
    ops: [c, u, d]
`;

/** A Redis connection as an application would configure it for the client: no offline queue, short timeouts. */
export async function appRedis(port: number, host = '127.0.0.1'): Promise<Redis> {
  const r = new Redis({ port, host, enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: 1_000, retryStrategy: () => 50 });
  r.on('error', () => undefined);
  await waitFor(() => r.status === 'ready', { timeoutMs: 10_000, message: `redis on ${port} ready` });
  return r;
}

/** A promise to hold a loader (or a hook) at a point until the test opens it. */
export interface Gate {
  readonly opened: Promise<void>;
  /** Resolves once something waits at the gate. */
  readonly reached: Promise<void>;
  wait(): Promise<void>;
  open(): void;
}

export function gate(): Gate {
  let open!: () => void;
  let reach!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  const reached = new Promise<void>((r) => (reach = r));
  return {
    opened,
    reached,
    wait() {
      reach();
      return opened;
    },
    open,
  };
}

export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
