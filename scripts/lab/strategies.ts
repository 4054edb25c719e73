/**
 * The strategies one lab run compares, on one workload. Each has its own key space (`<name>:<id>`) in
 * one Redis, so every strategy sees the same rows, the same writes at the same moments, and — for those
 * the worker serves — the same first pass: one worker consumes the table's changes for all of them, one
 * mapping per strategy with its own `second_delete_delay`. The inspected strategy has a worker of its own
 * (the inspector reads back and deletes, which must not touch the others).
 */
export type FillKind = 'plain' | 'lease';
export type WorkerId = 'main' | 'inspector';

export interface Strategy {
  readonly name: string;
  readonly label: string;
  /** plain: GET, on a miss SELECT then SET (no lease); lease: the client's lease-guarded get-or-fill. */
  readonly fill: FillKind;
  /** The worker that invalidates its keys; undefined: none (TTL only). */
  readonly worker: WorkerId | undefined;
  /** The mapping's second_delete_delay, ms (0 = one delete). */
  readonly secondDeleteMs: number;
}

export const STRATEGIES: readonly Strategy[] = [
  { name: 'ttl', label: 'TTL only (no worker)', fill: 'plain', worker: undefined, secondDeleteMs: 0 },
  { name: 'once', label: 'one delete', fill: 'plain', worker: 'main', secondDeleteMs: 0 },
  { name: 'dd100', label: 'delete + 2nd at 100 ms', fill: 'plain', worker: 'main', secondDeleteMs: 100 },
  { name: 'dd500', label: 'delete + 2nd at 500 ms', fill: 'plain', worker: 'main', secondDeleteMs: 500 },
  { name: 'dd1s', label: 'delete + 2nd at 1 s', fill: 'plain', worker: 'main', secondDeleteMs: 1000 },
  { name: 'dd2s', label: 'delete + 2nd at 2 s', fill: 'plain', worker: 'main', secondDeleteMs: 2000 },
  { name: 'lease', label: 'lease-guarded fill (client)', fill: 'lease', worker: 'main', secondDeleteMs: 0 },
  { name: 'lease-dd1s', label: 'lease + 2nd delete at 1 s', fill: 'lease', worker: 'main', secondDeleteMs: 1000 },
  { name: 'insp500', label: 'delete + 2nd at 500 ms + inspector', fill: 'plain', worker: 'inspector', secondDeleteMs: 500 },
];

export const TABLE = 'lab.items';

export function keyOf(s: Strategy, id: number): string {
  return `${s.name}:${id}`;
}

/** The marker key of one change: planted before the UPDATE, its deletion times the worker's first pass. */
export function markerOf(worker: WorkerId, id: number, version: number): string {
  return `lag-${worker}:${id}:${version}`;
}

/** The tick the worker's second-delete scheduler rounds a delay up to (src/pipeline/invalidate/second-delete.ts). */
export function tickOf(delayMs: number): number {
  return delayMs > 0 ? Math.min(100, Math.max(5, Math.floor(delayMs / 20))) : 0;
}

/** The mapping file of one worker: a marker mapping and one mapping per strategy it serves. */
export function mappingYaml(worker: WorkerId, strategies: readonly Strategy[]): string {
  const lines = [
    'mappings:',
    `  - name: lag-${worker}`,
    `    table: ${TABLE}`,
    `    keys: ["lag-${worker}:{id}:{version}"]`,
    '    second_delete_delay: 0',
  ];
  for (const s of strategies.filter((x) => x.worker === worker)) {
    lines.push(`  - name: ${s.name}`, `    table: ${TABLE}`, `    keys: ["${s.name}:{id}"]`, `    second_delete_delay: ${s.secondDeleteMs}ms`, '    version_column: version');
  }
  return `${lines.join('\n')}\n`;
}
