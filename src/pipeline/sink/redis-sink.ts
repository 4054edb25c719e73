import { Cluster, type ChainableCommander, type Redis } from 'ioredis';
import type { Logger } from 'pino';
import { redisConnectionFromUrl, type RedisConnection } from '../../config/redis-connection.js';
import { hashSlot, routedToOwnSlot } from './hash-slot.js';
import { createRedisClient, type RedisClient } from './redis-client.js';
import type { VerifyStore } from '../verify/inspector.js';
import { purgingName, SinkConfigError, SinkError, type InvalidationSink } from './sink.js';

/** Deletes KEYS[1] only if its first 1,024 bytes are still ARGV[1] (the inspector's stale value). */
const DELETE_IF_HEAD = `if redis.call('GETRANGE', KEYS[1], 0, 1023) == ARGV[1] then return redis.call('UNLINK', KEYS[1]) end
return 0`;

export type RedisSinkOptions = ({ readonly url: string } | { readonly connection: RedisConnection }) & {
  /** A command (pipeline) not answered within this time fails and is retried. */
  readonly commandTimeoutMs: number;
  /** Keys per UNLINK command; a batch is sent as one pipeline of such commands (per node in a cluster). */
  readonly chunkSize: number;
  /**
   * Replicas that must have each pass before it counts as done (Redis WAIT; 0 = off). With
   * asynchronous replication a delete the master acknowledged can be lost in a failover; with
   * WAIT it is on that many replicas before the worker moves on and commits.
   */
  readonly waitReplicas?: number;
};

/**
 * Replies that retrying cannot fix: permissions (NOPERM names the command or says a key is out of the
 * user's patterns), credentials, a key of the wrong type, a command the server does not know, and
 * CROSSSLOT (a tag with stray braces under Redis Cluster). MOVED, ASK, TRYAGAIN, CLUSTERDOWN,
 * READONLY, LOADING and connection errors are transient: the worker retries them.
 */
const FATAL = /^(NOPERM|WRONGTYPE|NOAUTH|WRONGPASS|CROSSSLOT|ERR unknown command|ERR wrong number)/;

/** What ioredis says when a command is refused because no connection is ready (offline queue off). */
const NOT_CONNECTED = /enableOfflineQueue options is false|Connection is closed|isn't ready/;

/** The results of a pipeline, or its first error. */
function throwFirst(results: [Error | null, unknown][] | null): unknown[] {
  return (results ?? []).map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}

/**
 * Redis through ioredis — one server, a Redis Cluster or a master found through Sentinel — with
 * the offline queue off: while Redis is unreachable every call fails at once, and the caller's retry
 * loop (which pauses consumption) decides what happens; nothing piles up in memory. ioredis keeps
 * reconnecting in the background, follows MOVED/ASK, and re-asks the sentinels after a failover.
 */
export class RedisSink implements InvalidationSink, VerifyStore {
  readonly #redis: RedisClient;
  readonly #cluster: Cluster | undefined;
  /** The last connection-level refusal (a wrong password during AUTH): it explains "not connected". */
  #connectionRefusal: string | undefined;

  readonly #topology: RedisConnection['topology'];

  constructor(private readonly opts: RedisSinkOptions, logger: Logger) {
    const connection = 'connection' in opts ? opts.connection : redisConnectionFromUrl(opts.url);
    this.#topology = connection.topology;
    this.#redis = createRedisClient(connection, { commandTimeoutMs: opts.commandTimeoutMs });
    this.#cluster = this.#redis instanceof Cluster ? this.#redis : undefined;
    let down = false;
    const onError = (e: Error): void => {
      if (FATAL.test(e.message)) this.#connectionRefusal = e.message;
      if (!down) logger.warn({ err: e, topology: connection.topology.kind }, 'redis connection error; reconnecting');
      down = true;
    };
    this.#redis.on('error', onError);
    this.#redis.on('node error', (e: Error) => onError(e));
    this.#redis.on('ready', () => {
      this.#connectionRefusal = undefined;
      if (down) logger.info('redis connection ready again');
      down = false;
    });
    this.#redis.on('+node', () => logger.debug('redis cluster node added'));
  }

  #classify(err: unknown): SinkError {
    if (err instanceof SinkError) return err;
    const message = err instanceof Error ? err.message : String(err);
    if (NOT_CONNECTED.test(message) && this.#connectionRefusal) {
      return new SinkError(`redis refused the connection: ${this.#connectionRefusal}`, true, { cause: err });
    }
    if (message.startsWith('NOPERM')) return new SinkError(`${message} (grant it to the worker's Redis ACL user: docs/production-redis.md)`, true, { cause: err });
    return new SinkError(message, FATAL.test(message), { cause: err });
  }

  async unlink(keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return 0;
    try {
      const removed = await this.#unlink(keys);
      await this.#waitReplicas(this.#slotsOf(keys));
      return removed;
    } catch (e) {
      throw this.#classify(e);
    }
  }

  async unlinkEach(groups: readonly (readonly string[])[]): Promise<number[]> {
    try {
      const removed = await this.#unlinkEach(groups);
      await this.#waitReplicas(this.#slotsOf(groups.flat()));
      return removed;
    } catch (e) {
      throw this.#classify(e);
    }
  }

  /** One pipeline of every group's UNLINK chunks (one command when it is one small group); under Cluster, per group. */
  async #unlinkEach(groups: readonly (readonly string[])[]): Promise<number[]> {
    if (this.#cluster) return Promise.all(groups.map((g) => (g.length === 0 ? Promise.resolve(0) : this.#unlink(g))));
    const size = this.opts.chunkSize;
    if (groups.length === 1 && groups[0]!.length <= size) return [groups[0]!.length === 0 ? 0 : await this.#redis.unlink(...groups[0]!)];
    const pipeline = this.#redis.pipeline();
    const owner: number[] = [];
    groups.forEach((g, i) => {
      for (let j = 0; j < g.length; j += size) {
        pipeline.unlink(...g.slice(j, j + size));
        owner.push(i);
      }
    });
    const removed = groups.map(() => 0);
    if (owner.length === 0) return removed;
    throwFirst(await pipeline.exec()).forEach((n, k) => (removed[owner[k]!]! += Number(n)));
    return removed;
  }

  get #waitFor(): number {
    return this.opts.waitReplicas ?? 0;
  }

  get #waitTimeoutMs(): number {
    return Math.max(100, Math.floor(this.opts.commandTimeoutMs / 2));
  }

  /** The slots of names a pass writes, when WAIT will need them (Cluster with --redis-wait-replicas). */
  #slotsOf(names: readonly string[], into = new Set<number>()): Set<number> {
    if (this.#cluster && this.#waitFor > 0) for (const n of names) into.add(hashSlot(n));
    return into;
  }

  /**
   * WAIT for the configured replicas on the masters this pass wrote to — one server, or in a
   * cluster the masters serving the pass's slots (per the client's slot map, which follows MOVED):
   * the writes made so far on each such connection are then replicated. A shard the pass did not
   * touch is not asked, so a replica missing there does not hold up this pass. Fewer replicas than
   * asked in time (a replica down, a failover under way) fails the pass, and the worker retries it.
   */
  async #waitReplicas(written: ReadonlySet<number>): Promise<void> {
    const n = this.#waitFor;
    if (n <= 0) return;
    const timeout = this.#waitTimeoutMs;
    const nodes = this.#cluster ? this.#mastersOf(this.#cluster, written) : [{ name: this.#name, node: this.#redis }];
    const acked = await Promise.all(nodes.map(async ({ name, node }) => ({ name, acked: Number(await node.call('WAIT', n, timeout)) })));
    const short = acked.filter((a) => a.acked < n);
    if (short.length > 0) {
      throw new SinkError(`WAIT ${n}: ${short.map((s) => `${s.name} had ${s.acked} replica(s)`).join(', ')} acknowledging within ${timeout} ms`, false);
    }
  }

  /** The master connections serving `slots`; a slot the map has no master for fails the pass (retried). */
  #mastersOf(cluster: Cluster, slots: ReadonlySet<number>): { name: string; node: Redis }[] {
    const byKey = new Map(cluster.nodes('master').map((node) => [`${node.options.host}:${node.options.port}`, node]));
    const out = new Map<string, Redis>();
    for (const slot of slots) {
      const key = cluster.slots[slot]?.[0];
      const node = key === undefined ? undefined : byKey.get(key);
      if (!node) throw new SinkError(`WAIT: no master known for slot ${slot} (the slot map is being refreshed)`, false);
      out.set(key!, node);
    }
    return [...out].map(([name, node]) => ({ name, node }));
  }

  /** Names the server in messages: host:port, or the Sentinel master's name. */
  get #name(): string {
    const t = this.#topology;
    if (t.kind === 'standalone') return `${t.endpoint.host}:${t.endpoint.port}`;
    if (t.kind === 'sentinel') return `the master "${t.masterName}"`;
    return 'the cluster';
  }

  /**
   * With --redis-wait-replicas, every master must have that many replicas acknowledging now: a
   * WAIT on a connection that wrote nothing answers at once with the replicas connected (or after
   * the timeout with fewer). Without them no pass could complete and nothing would ever be
   * committed, so the worker does not start (SinkConfigError).
   */
  async #checkReplicas(): Promise<void> {
    const n = this.#waitFor;
    if (n <= 0) return;
    const timeout = this.#waitTimeoutMs;
    const nodes = this.#cluster
      ? this.#cluster.nodes('master').map((node) => ({ name: `${node.options.host}:${node.options.port}`, node }))
      : [{ name: this.#name, node: this.#redis }];
    const acked = await Promise.all(nodes.map(async ({ name, node }) => ({ name, acked: Number(await node.call('WAIT', n, timeout)) })));
    const short = acked.filter((a) => a.acked < n);
    if (short.length === 0) return;
    throw new SinkConfigError(
      `--redis-wait-replicas ${n}: ${short.map((s) => `${s.name} has ${s.acked} replica(s) acknowledging`).join(', ')} (WAIT ${n} within ${timeout} ms): ` +
        `no delete pass could complete and nothing would be committed. Add replicas, or lower --redis-wait-replicas (0 = off)`,
    );
  }

  /** UNLINK in chunks; under Cluster grouped by slot (a command never spans two) and pipelined per node. */
  async #unlink(keys: readonly string[]): Promise<number> {
    const size = this.opts.chunkSize;
    if (this.#cluster) {
      let removed = 0;
      const add = (p: ChainableCommander, slotKeys: readonly string[]): void => {
        for (let i = 0; i < slotKeys.length; i += size) p.unlink(...slotKeys.slice(i, i + size));
      };
      for (const n of await this.#perNode(this.#cluster, keys, add)) removed += Number(n);
      return removed;
    }
    if (keys.length <= size) return await this.#redis.unlink(...keys);
    const pipeline = this.#redis.pipeline();
    for (let i = 0; i < keys.length; i += size) pipeline.unlink(...keys.slice(i, i + size));
    let removed = 0;
    for (const n of throwFirst(await pipeline.exec())) removed += Number(n);
    return removed;
  }

  /**
   * Groups keys by hash slot, the slots by the node serving them (per the client's slot map), and
   * runs one pipeline per node, all nodes at once (a key ioredis would misroute goes in a pipeline
   * of its own, and follows the MOVED reply). A slot that moved since the map was read answers
   * MOVED/ASK: ioredis redirects what it can, anything left fails the call and the worker retries it
   * (UNLINK and a repeated INCR of a version counter are both safe to repeat).
   */
  async #perNode(cluster: Cluster, keys: readonly string[], add: (p: ChainableCommander, slotKeys: readonly string[]) => void): Promise<unknown[]> {
    if (cluster.status !== 'ready') throw new SinkError(`redis cluster not ready (${cluster.status})`, false);
    const bySlot = new Map<number, string[]>();
    /** Keys ioredis would route elsewhere than their slot's node: one pipeline each (see routedToOwnSlot). */
    const alone: string[][][] = [];
    for (const k of keys) {
      if (!routedToOwnSlot(k)) {
        alone.push([[k]]);
        continue;
      }
      const slot = hashSlot(k);
      const list = bySlot.get(slot);
      if (list) list.push(k);
      else bySlot.set(slot, [k]);
    }
    const byNode = new Map<string, string[][]>();
    for (const [slot, slotKeys] of bySlot) {
      const node = cluster.slots[slot]?.[0] ?? `slot:${slot}`;
      const groups = byNode.get(node);
      if (groups) groups.push(slotKeys);
      else byNode.set(node, [slotKeys]);
    }
    const results = await Promise.all(
      [...byNode.values(), ...alone].map(async (groups) => {
        const p = cluster.pipeline();
        for (const g of groups) add(p, g);
        const replies = await p.exec();
        // A pipeline only follows a redirection when every command got the same one; otherwise the
        // slot map is stale: refresh it now so the worker's retry groups by the new owners.
        if (replies?.some(([err]) => err && /^(MOVED|ASK) /.test(err.message))) cluster.refreshSlotsCache();
        return throwFirst(replies);
      }),
    );
    return results.flat();
  }

  async purgeTags(tags: readonly string[]): Promise<number> {
    let members = 0;
    const written = this.#slotsOf(tags); // a tag and its purging name share a slot
    try {
      for (const tag of tags) members += await this.#purgeTag(tag, written);
      await this.#waitReplicas(written);
    } catch (e) {
      throw this.#classify(e);
    }
    return members;
  }

  /**
   * Moves the tag set aside with RENAMENX (an SADD after that lands in a fresh set, purged by the
   * second pass) and drains the moved set with SSCAN in chunks: UNLINK the members, then SREM them.
   * The moved set's name is fixed per tag and hashes to the tag's slot, so a retry, a replay after a
   * crash, or a second worker purging the same tag first finishes what is there; RENAMENX never
   * overwrites it. Members may live in any slot: they are deleted like keys (grouped by slot).
   */
  async #purgeTag(tag: string, written: Set<number>): Promise<number> {
    const purging = purgingName(tag);
    let members = await this.#drain(purging, written);
    for (let attempt = 0; attempt < 100; attempt++) {
      let moved: number;
      try {
        moved = await this.#redis.renamenx(tag, purging);
      } catch (e) {
        if (/no such key/i.test((e as Error).message)) return members;
        throw e;
      }
      members += await this.#drain(purging, written);
      if (moved === 1) return members;
    }
    throw new SinkError(`tag ${tag}: could not move the set aside after 100 attempts`, false);
  }

  async #drain(set: string, written: Set<number>): Promise<number> {
    let members = 0;
    for (let pass = 0; pass < 1_000; pass++) {
      let cursor = '0';
      let steps = 0;
      do {
        const [next, chunk] = await this.#redis.sscan(set, cursor, 'COUNT', this.opts.chunkSize);
        cursor = next;
        if (chunk.length > 0) {
          await this.#unlink(chunk); // members leave the set only once they are gone
          this.#slotsOf(chunk, written);
          await this.#redis.srem(set, ...chunk);
          members += chunk.length;
        }
      } while (cursor !== '0' && ++steps < 10_000_000);
      if ((await this.#redis.scard(set)) === 0) return members;
    }
    throw new SinkError(`set ${set} keeps growing while it is drained`, false);
  }

  async bumpVersions(versions: readonly string[]): Promise<void> {
    if (versions.length === 0) return;
    try {
      if (this.#cluster) {
        await this.#perNode(this.#cluster, versions, (p, slotKeys) => {
          for (const v of slotKeys) p.incr(v);
        });
        await this.#waitReplicas(this.#slotsOf(versions));
        return;
      }
      const p = this.#redis.pipeline();
      for (const v of versions) p.incr(v);
      throwFirst(await p.exec());
      await this.#waitReplicas(new Set());
    } catch (e) {
      throw this.#classify(e);
    }
  }

  /** The inspector's read-back: `GETRANGE key 0 1023` of each key (one pipeline; per key under Cluster). */
  async readHeads(keys: readonly string[]): Promise<(Buffer | null)[]> {
    if (keys.length === 0) return [];
    try {
      const heads = this.#cluster
        ? await Promise.all(keys.map((k) => this.#redis.getrangeBuffer(k, 0, 1023)))
        : throwFirst(await keys.reduce((p, k) => p.getrangeBuffer(k, 0, 1023), this.#redis.pipeline()).exec()).map((h) => h as Buffer);
      // GETRANGE answers "" for a missing key (and for an empty value, which no envelope is).
      return heads.map((h) => (h.length === 0 ? null : h));
    } catch (e) {
      throw this.#classify(e);
    }
  }

  async deleteIfHead(key: string, head: Buffer): Promise<boolean> {
    try {
      return Number(await this.#redis.eval(DELETE_IF_HEAD, 1, key, head)) === 1;
    } catch (e) {
      throw this.#classify(e);
    }
  }

  async ping(): Promise<void> {
    try {
      await this.#ready();
      await this.#redis.ping();
      await this.#checkReplicas();
    } catch (e) {
      throw this.#classify(e);
    }
  }

  /** While the first connection is being made, wait for it (bounded) instead of failing at once. */
  async #ready(): Promise<void> {
    const r = this.#redis;
    if (r.status !== 'connecting' && r.status !== 'connect' && r.status !== 'wait') return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        r.off('ready', done);
        r.off('error', done);
        resolve();
      };
      const timer = setTimeout(done, this.opts.commandTimeoutMs);
      r.once('ready', done);
      r.once('error', done);
    });
  }

  async close(): Promise<void> {
    try {
      await this.#redis.quit();
    } catch {
      // already closed or unreachable: disconnect below
    } finally {
      // Through Sentinel, QUIT leaves the failover detector's sentinel connections reconnecting
      // forever; disconnect() also closes those.
      if (!this.#cluster) this.#redis.disconnect();
    }
  }
}
