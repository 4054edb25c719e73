import type { CommitLog } from './oracle.js';
import type { Tally } from './tally.js';
import { STILL_STALE_AFTER } from './probes.js';
import type { Strategy } from './strategies.js';

export interface Quantiles {
  readonly n: number;
  readonly p50: number | null;
  readonly p99: number | null;
  readonly max: number | null;
}

function quantile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

export function quantiles(values: readonly number[]): Quantiles {
  const s = [...values].sort((a, b) => a - b);
  const r = (x: number | null): number | null => (x === null ? null : Math.round(x));
  return { n: s.length, p50: r(quantile(s, 0.5)), p99: r(quantile(s, 0.99)), max: r(s[s.length - 1] ?? null) };
}

/** Worker counters of one strategy's mapping, read from the worker's /metrics. */
export interface WorkerCounts {
  readonly firstPassHits?: number;
  readonly secondPassRemovals?: number;
  readonly verifyChecked?: number;
  readonly verifyStale?: number;
}

export interface StrategyResult {
  readonly name: string;
  readonly label: string;
  readonly reads: number;
  readonly hits: number;
  readonly hitRate: number;
  readonly staleReads: number;
  readonly staleOfReads: number;
  readonly staleHits: number;
  readonly staleOfHits: number;
  /**
   * Stale reads that began after the worker's first delete of the change that made their value stale:
   * the value was written back (or survived). The others began within the invalidation lag, when no
   * invalidation could have reached the cache yet.
   */
  readonly staleAfterFirstDelete: number | null;
  /** How long stale reads had been stale, ms. */
  readonly staleness: Quantiles;
  /** Share of changes whose key still held an older version 1 s, 5 s, 10 s after the COMMIT. */
  readonly stillStale: Record<string, number | null>;
  readonly dbReadsPerSecond: number;
  readonly errors: number;
  /** COMMIT → the worker's first delete of the change (its marker's keyspace notification), ms. */
  readonly invalidationLag: Quantiles | null;
  readonly bar: { readonly rule: string; readonly pass: boolean | null; readonly probed: number; readonly staleInside: number; readonly staleOutside: number } | null;
  readonly oracle?: { readonly probed: number; readonly stale: number };
  readonly worker?: WorkerCounts;
}

const share = (a: number, b: number): number => (b > 0 ? a / b : 0);

export function strategyResult(s: Strategy, t: Tally, seconds: number, log: CommitLog, lags: readonly number[] | undefined, worker: WorkerCounts | undefined): StrategyResult {
  let afterFirst: number | null = null;
  if (s.worker !== undefined) {
    afterFirst = 0;
    for (const r of t.staleRecords) {
      const d1 = log.firstDeleteOf(s.worker, r.id, r.version + 1);
      if (d1 !== undefined && r.startedAt > d1) afterFirst++;
    }
  }
  const stillStale: Record<string, number | null> = {};
  for (const after of STILL_STALE_AFTER) stillStale[`${after / 1000}s`] = t.probed[after]! > 0 ? t.stillStale[after]! / t.probed[after]! : null;
  let bar: StrategyResult['bar'] = null;
  if (s.worker !== undefined) {
    const lease = s.fill === 'lease';
    const rule = lease ? "0 stale reads after the change's first delete" : `0 keys stale after lag + ${s.secondDeleteMs > 0 ? `${s.secondDeleteMs} ms` : '0 (first delete)'} holding a value written before that`;
    const pass = lease ? afterFirst === 0 : s.secondDeleteMs > 0 ? t.barInside === 0 : null;
    bar = { rule, pass, probed: t.barProbed, staleInside: t.barInside, staleOutside: t.barOutside };
  }
  return {
    name: s.name,
    label: s.label,
    reads: t.reads,
    hits: t.hits,
    hitRate: share(t.hits, t.reads),
    staleReads: t.staleReads,
    staleOfReads: share(t.staleReads, t.reads),
    staleHits: t.staleHits,
    staleOfHits: share(t.staleHits, t.hits),
    staleAfterFirstDelete: afterFirst,
    staleness: quantiles(t.staleness),
    stillStale,
    dbReadsPerSecond: Math.round((t.dbReads / seconds) * 10) / 10,
    errors: t.errors,
    invalidationLag: lags ? quantiles(lags) : null,
    bar,
    ...(s.worker === 'inspector' ? { oracle: { probed: t.oracleProbed, stale: t.oracleStale } } : {}),
    ...(worker ? { worker } : {}),
  };
}

const pct = (x: number | null): string => (x === null ? '—' : x === 0 ? '0' : x < 0.001 ? '<0.1 %' : `${(x * 100).toFixed(1)} %`);
const ms = (x: number | null): string => (x === null ? '—' : x >= 10_000 ? `${(x / 1000).toFixed(0)} s` : x >= 1000 ? `${(x / 1000).toFixed(1)} s` : `${x} ms`);

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const line = (r: readonly string[]): string => `| ${r.map((v, c) => (c === 0 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join(' | ')} |`;
  return [line(rows[0]!), `|${widths.map((w, c) => (c === 0 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...rows.slice(1).map(line)].join('\n');
}

/** The measured table (Markdown, so docs/consistency.md can show it as printed). */
export function renderTable(results: readonly StrategyResult[]): string {
  const rows: string[][] = [
    ['strategy', 'reads', 'hit rate', 'stale / reads', 'stale / hits', 'stale after 1st delete', 'staleness p50 / p99 / max', 'still stale 1 s / 5 s / 10 s', 'DB reads/s', 'inval. lag p50 / p99', 'bar'],
  ];
  for (const r of results) {
    const st = r.staleness.n > 0 ? `${ms(r.staleness.p50)} / ${ms(r.staleness.p99)} / ${ms(r.staleness.max)}` : '—';
    const still = ['1s', '5s', '10s'].map((k) => pct(r.stillStale[k] ?? null)).join(' / ');
    const lag = r.invalidationLag ? `${ms(r.invalidationLag.p50)} / ${ms(r.invalidationLag.p99)}` : '—';
    const bar = r.bar === null || r.bar.pass === null ? '—' : `${r.bar.pass ? 'PASS' : 'FAIL'} (${r.bar.rule.startsWith('0 stale') ? `${r.staleAfterFirstDelete} after 1st del.` : `${r.bar.staleInside} in, ${r.bar.staleOutside} after`})`;
    const after = r.staleAfterFirstDelete === null ? '—' : `${r.staleAfterFirstDelete} (${pct(share(r.staleAfterFirstDelete, r.reads))})`;
    rows.push([r.label, String(r.reads), pct(r.hitRate), `${r.staleReads} (${pct(r.staleOfReads)})`, `${r.staleHits} (${pct(r.staleOfHits)})`, after, st, still, String(r.dbReadsPerSecond), lag, bar]);
  }
  return table(rows);
}

/** What each pass removed and what the inspector found, per strategy the worker serves. */
export function renderWorkerTable(results: readonly StrategyResult[]): string | undefined {
  const served = results.filter((r) => r.worker);
  if (served.length === 0) return undefined;
  const rows: string[][] = [['strategy', '1st pass: keys found cached', '2nd pass: write-backs removed', 'stale after lag + delay (in / after)', 'inspector: stale / checked', 'oracle: stale / probed']];
  for (const r of served) {
    const w = r.worker!;
    rows.push([
      r.label,
      w.firstPassHits === undefined ? '—' : String(w.firstPassHits),
      w.secondPassRemovals === undefined ? '—' : String(w.secondPassRemovals),
      r.bar ? `${r.bar.staleInside} / ${r.bar.staleOutside}` : '—',
      w.verifyStale === undefined ? '—' : `${w.verifyStale} / ${w.verifyChecked ?? 0}`,
      r.oracle ? `${r.oracle.stale} / ${r.oracle.probed}` : '—',
    ]);
  }
  return table(rows);
}
