/**
 * In-process counters of what the worker did. A small interface so a Prometheus registry can
 * sit behind it later; label values are bounded (table names, ops, reasons — never a key).
 */
export type Counter =
  | 'records'
  | 'events'
  | 'skipped_records'
  | 'unmapped_events'
  | 'keys_deleted'
  | 'second_keys_deleted'
  | 'tag_members_deleted'
  | 'versions_bumped'
  | 'templates_skipped'
  | 'redis_retries'
  | 'commits'
  | 'poison_records';

export class Stats {
  readonly #counts = new Map<string, number>();

  inc(counter: Counter, labels?: Readonly<Record<string, string>>, by = 1): void {
    const id = labels ? `${counter}{${Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',')}}` : counter;
    this.#counts.set(id, (this.#counts.get(id) ?? 0) + by);
  }

  get(counter: Counter): number {
    let total = 0;
    for (const [id, n] of this.#counts) if (id === counter || id.startsWith(`${counter}{`)) total += n;
    return total;
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.#counts].sort(([a], [b]) => a.localeCompare(b)));
  }
}
