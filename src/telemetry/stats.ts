import { Counter as PromCounter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * What the worker did: counters, histograms and gauges. Kept in memory (for logs, tests and the
 * final summary) and, given a prom-client registry, exported in Prometheus format. Label values
 * are bounded — topics, tables, ops, reasons, codes — never a key or a row value.
 */
const COUNTERS = {
  records: { name: 'records_consumed', help: 'Kafka records consumed', labels: [] },
  events: { name: 'events', help: 'change events decoded', labels: ['table', 'op'] },
  skipped_records: { name: 'records_skipped', help: 'records skipped (tombstone, heartbeat, transaction, message)', labels: ['reason'] },
  unmapped_events: { name: 'events_unmapped', help: 'change events of tables no mapping names', labels: ['table'] },
  invalidated: { name: 'invalidations', help: 'keys, tags and versions invalidated, per pass', labels: ['kind', 'pass'] },
  first_pass_hits: { name: 'first_pass_hits', help: "keys the first delete found cached (UNLINK's reply) and members of the tag sets it purged, by the mapping that named them", labels: ['mapping', 'kind'] },
  second_pass_removals: { name: 'second_pass_removals', help: 'keys (and tag members) the second delete found again: written back by a reader that read the old row, or refilled, within the delay', labels: ['mapping', 'kind'] },
  verify_checks: { name: 'verify_checks', help: "the inspector's read-backs after the second delete, by mapping and outcome (stale: filled from a row version older than the change; deleted)", labels: ['mapping', 'outcome'] },
  verify_dropped: { name: 'verify_dropped', help: 'sampled keys not checked: too many checks pending (--verify-max-pending)', labels: [] },
  tag_members_deleted: { name: 'tag_members_deleted', help: 'cache keys deleted as members of purged tags', labels: [] },
  templates_skipped: { name: 'templates_skipped', help: 'templates that rendered no name', labels: ['mapping', 'reason'] },
  redis_retries: { name: 'redis_retries', help: 'retried Redis (or dead-letter) calls', labels: [] },
  registry_retries: { name: 'schema_registry_retries', help: 'retried Schema Registry lookups (registry down, slow or failing)', labels: [] },
  commits: { name: 'commits', help: 'offset commits', labels: [] },
  poison_records: { name: 'poison_records', help: 'records that could not be handled (dead-lettered or fatal)', labels: ['code'] },
  ambiguous_before_images: { name: 'before_images_ambiguous', help: "deletes whose before image may hold only the key (REPLICA IDENTITY DEFAULT) of tables whose identity is not known: read as full rows (declare replica_identity)", labels: ['table'] },
} as const satisfies Record<string, { name: string; help: string; labels: readonly string[] }>;

export type Counter = keyof typeof COUNTERS;
export type HistogramName = 'redis_seconds' | 'invalidation_lag_seconds';
export type GaugeName = 'pending_second_deletes' | 'paused' | 'consumer_lag' | 'second_delete_hold_seconds' | 'verify_pending';

/** One counter's total for one label set (kept as data: `get` compares label values, never text). */
interface Count {
  readonly counter: Counter;
  readonly labels: Readonly<Record<string, string>>;
  /** How the snapshot names it: `events{table=inventory.orders,op=c}`. */
  readonly display: string;
  n: number;
}

export class Stats {
  /** By counter and label set (a JSON key, so no label value can be mistaken for another). */
  readonly #counts = new Map<string, Count>();
  readonly #prom: Map<string, PromCounter<string>> | undefined;
  readonly #histograms: Partial<Record<HistogramName, Histogram<string>>> = {};
  readonly #gauges: Partial<Record<GaugeName, Gauge<string>>> = {};
  /** Gauges read when scraped (and by `gauge()`): their value comes from a function. */
  readonly #sampled = new Map<GaugeName, () => number>();

  constructor(registry?: Registry) {
    if (!registry) return;
    this.#prom = new Map();
    for (const [id, c] of Object.entries(COUNTERS)) {
      this.#prom.set(id, new PromCounter({ name: `cdc_invalidator_${c.name}_total`, help: c.help, labelNames: [...c.labels], registers: [registry] }));
    }
    this.#histograms.redis_seconds = new Histogram({
      name: 'cdc_invalidator_redis_command_duration_seconds',
      help: 'time of one Redis pass (a pipeline of UNLINKs, a tag purge, INCRs), by operation',
      labelNames: ['op'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    });
    this.#histograms.invalidation_lag_seconds = new Histogram({
      name: 'cdc_invalidator_invalidation_lag_seconds',
      help: "time from the change's commit in the database (source.ts_ms) to Redis acknowledging its first delete",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [registry],
    });
    this.#gauges.pending_second_deletes = new Gauge({ name: 'cdc_invalidator_pending_second_deletes', help: 'keys and tags awaiting their second delete', registers: [registry] });
    this.#gauges.verify_pending = new Gauge({ name: 'cdc_invalidator_verify_pending', help: "keys waiting for the inspector's read-back", registers: [registry] });
    this.#gauges.paused = new Gauge({ name: 'cdc_invalidator_paused', help: '1 while consumption waits on Redis or the dead-letter topic', registers: [registry] });
    const sampled = this.#sampled;
    this.#gauges.second_delete_hold_seconds = new Gauge({
      name: 'cdc_invalidator_second_delete_hold_seconds',
      help: 'age of the oldest first delete whose second delete is still pending: how long its offsets (and the rest of its partition) are held back from the commit; 0 when none is pending',
      registers: [registry],
      collect() {
        const f = sampled.get('second_delete_hold_seconds');
        if (f) this.set(f());
      },
    });
    this.#gauges.consumer_lag = new Gauge({ name: 'cdc_invalidator_consumer_lag', help: 'records behind the partition end, at the last batch', labelNames: ['topic', 'partition'], registers: [registry] });
  }

  inc(counter: Counter, labels?: Readonly<Record<string, string>>, by = 1): void {
    const entries = labels ? Object.entries(labels) : [];
    const id = entries.length === 0 ? counter : `${counter}${JSON.stringify(entries)}`;
    const found = this.#counts.get(id);
    if (found) found.n += by;
    else {
      const display = entries.length === 0 ? counter : `${counter}{${entries.map(([k, v]) => `${k}=${v}`).join(',')}}`;
      this.#counts.set(id, { counter, labels: { ...labels }, display, n: by });
    }
    if (this.#prom) {
      const c = this.#prom.get(counter)!;
      if (labels) c.inc(labels, by);
      else c.inc(by);
    }
  }

  observe(h: HistogramName, seconds: number, labels?: Readonly<Record<string, string>>): void {
    const hist = this.#histograms[h];
    if (!hist) return;
    if (labels) hist.observe(labels, seconds);
    else hist.observe(seconds);
  }

  set(g: GaugeName, value: number, labels?: Readonly<Record<string, string>>): void {
    const gauge = this.#gauges[g];
    if (!gauge) return;
    if (labels) gauge.set(labels, value);
    else gauge.set(value);
  }

  /** A gauge whose value `read` gives whenever it is scraped (a time held back, a queue's age). */
  sample(g: GaugeName, read: () => number): void {
    this.#sampled.set(g, read);
  }

  /** The current value of a sampled gauge (undefined when none is registered). */
  gauge(g: GaugeName): number | undefined {
    return this.#sampled.get(g)?.();
  }

  /** Forgets every label set of a gauge (e.g. consumer lag of partitions no longer assigned). */
  resetGauge(g: GaugeName): void {
    this.#gauges[g]?.reset();
  }

  /** The total of a counter, over the label sets whose values equal every given label's. */
  get(counter: Counter, labels?: Readonly<Record<string, string>>): number {
    let total = 0;
    const wanted = labels ? Object.entries(labels) : [];
    for (const c of this.#counts.values()) {
      if (c.counter === counter && wanted.every(([k, v]) => c.labels[k] === v)) total += c.n;
    }
    return total;
  }

  /** A counter's totals by the value of one label (`events` by `table`). */
  byLabel(counter: Counter, label: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const c of this.#counts.values()) {
      const v = c.labels[label];
      if (c.counter === counter && v !== undefined) out[v] = (out[v] ?? 0) + c.n;
    }
    return out;
  }

  /** Every counter by its display name (`events{table=…,op=c}`), for logs. */
  snapshot(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const c of [...this.#counts.values()].sort((a, b) => a.display.localeCompare(b.display))) out[c.display] = (out[c.display] ?? 0) + c.n;
    return out;
  }
}
