/**
 * The in-process L1: a bounded LRU of decoded values in front of Redis, emptied by Redis' invalidation
 * messages. A value read from Redis is kept only if no invalidation of its key (and no flush) arrived
 * between the moment the read was sent and the moment it is kept: a reader takes a ticket before it
 * sends its GET and presents it with the value. An invalidation that Redis sent after serving the GET
 * then either finds the value in the LRU (and drops it) or finds the ticket pending (and voids it).
 */

export interface L1Ticket {
  readonly key: string;
  readonly epoch: number;
  readonly seq: number;
}

interface Slot<V> {
  readonly value: V;
  readonly expiresAt: number;
}

interface Pending {
  count: number;
  /** Sequence number of the last invalidation of this key while tickets were out (0: none). */
  invalidatedAt: number;
}

export class L1Cache<V> {
  readonly #slots = new Map<string, Slot<V>>();
  readonly #pending = new Map<string, Pending>();
  #epoch = 0;
  #seq = 0;

  constructor(
    readonly maxEntries: number,
    readonly maxAgeMs: number,
    private readonly now: () => number,
  ) {}

  get size(): number {
    return this.#slots.size;
  }

  /** The value, if present and not older than its bound; refreshes its LRU position. */
  get(key: string): V | undefined {
    const slot = this.#slots.get(key);
    if (!slot) return undefined;
    if (slot.expiresAt <= this.now()) {
      this.#slots.delete(key);
      return undefined;
    }
    this.#slots.delete(key);
    this.#slots.set(key, slot);
    return slot.value;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  /** Take before sending the read whose result may be kept; always give it back (`set` or `release`). */
  ticket(key: string): L1Ticket {
    const p = this.#pending.get(key);
    if (p) p.count++;
    else this.#pending.set(key, { count: 1, invalidatedAt: 0 });
    return { key, epoch: this.#epoch, seq: this.#seq };
  }

  release(t: L1Ticket): void {
    const p = this.#pending.get(t.key);
    if (!p) return;
    if (--p.count <= 0) this.#pending.delete(t.key);
  }

  /** Keeps the value for at most ttlMs (and the L1's bound) unless the key was invalidated since the ticket. Returns whether it did. */
  set(t: L1Ticket, value: V, ttlMs: number): boolean {
    const p = this.#pending.get(t.key);
    const valid = t.epoch === this.#epoch && (p === undefined || p.invalidatedAt <= t.seq);
    if (!valid || ttlMs <= 0) return false;
    this.#slots.delete(t.key);
    this.#slots.set(t.key, { value, expiresAt: this.now() + Math.min(ttlMs, this.maxAgeMs) });
    while (this.#slots.size > this.maxEntries) {
      const oldest = this.#slots.keys().next();
      if (oldest.done) break;
      this.#slots.delete(oldest.value);
    }
    return true;
  }

  /** Drops the keys (and voids their pending tickets). Returns how many values were dropped. */
  invalidate(keys: Iterable<string>): number {
    let dropped = 0;
    for (const key of keys) {
      const p = this.#pending.get(key);
      if (p) p.invalidatedAt = ++this.#seq;
      if (this.#slots.delete(key)) dropped++;
    }
    return dropped;
  }

  /** Drops everything and voids every ticket out (a flush, or the tracking connection lost or regained). */
  clear(): number {
    const n = this.#slots.size;
    this.#slots.clear();
    this.#epoch++;
    return n;
  }
}
