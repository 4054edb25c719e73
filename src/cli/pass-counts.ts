/**
 * What each pass removed, per mapping, read from a worker's /metrics (Prometheus text): the counters
 * cdc_invalidator_first_pass_hits_total and …_second_pass_removals_total, summed over `kind`.
 */
export interface PassCounts {
  readonly firstPassHits: number;
  readonly secondPassRemovals: number;
}

const SAMPLE = /^cdc_invalidator_(first_pass_hits|second_pass_removals)_total\{([^}]*)\} (\S+)$/;

export function parsePassCounts(text: string): Map<string, PassCounts> {
  const out = new Map<string, { firstPassHits: number; secondPassRemovals: number }>();
  for (const line of text.split('\n')) {
    const m = SAMPLE.exec(line);
    if (!m) continue;
    const mapping = /(?:^|,)mapping="((?:[^"\\]|\\.)*)"/.exec(m[2]!)?.[1];
    const value = Number(m[3]);
    if (mapping === undefined || !Number.isFinite(value)) continue;
    let c = out.get(mapping);
    if (!c) out.set(mapping, (c = { firstPassHits: 0, secondPassRemovals: 0 }));
    if (m[1] === 'first_pass_hits') c.firstPassHits += value;
    else c.secondPassRemovals += value;
  }
  return out;
}

/** One line per mapping: the counts since `before`, and the totals. */
export function formatPassCounts(now: ReadonlyMap<string, PassCounts>, before: ReadonlyMap<string, PassCounts>): string[] {
  const lines: string[] = [];
  for (const [mapping, c] of [...now].sort(([a], [b]) => a.localeCompare(b))) {
    const b = before.get(mapping) ?? { firstPassHits: 0, secondPassRemovals: 0 };
    const share = c.firstPassHits > 0 ? ` = ${((c.secondPassRemovals / c.firstPassHits) * 100).toFixed(1)} % of the hits` : '';
    lines.push(
      `passes ${mapping}: first-pass hits +${c.firstPassHits - b.firstPassHits} (total ${c.firstPassHits}), ` +
        `second-pass removals +${c.secondPassRemovals - b.secondPassRemovals} (total ${c.secondPassRemovals}${share})`,
    );
  }
  return lines;
}
