import { formatDuration } from '../config/values.js';
import type { Mapping, SourcePos } from './model.js';

/** A second-delete delay longer than the shutdown grace: a drain gives up what is still pending. */
export interface DelayWarning {
  readonly message: string;
  /** The mapping's delay, or (no mapping) the --second-delete-delay of the mappings without their own. */
  readonly mapping?: string;
  readonly pos?: SourcePos;
  readonly delayMs: number;
}

const CONSEQUENCE =
  'a drain (SIGTERM, a rebalance at shutdown, a failure) gives up second deletes still pending after the grace: their offsets stay uncommitted and the next owner replays them; raise --shutdown-grace (and the pod\'s terminationGracePeriodSeconds) or shorten the delay';

/** Every delay the worker would use that exceeds `graceMs`: the flag's (if a mapping uses it) and each mapping's own. */
export function delaysBeyondGrace(mappings: readonly Mapping[], defaultDelayMs: number, graceMs: number): DelayWarning[] {
  const out: DelayWarning[] = [];
  const grace = `--shutdown-grace ${formatDuration(graceMs)}`;
  const named = (m: Mapping): boolean => m.keys.length + m.tags.length + (m.onTruncate ? m.onTruncate.keys.length + m.onTruncate.tags.length : 0) > 0;
  if (defaultDelayMs > graceMs && mappings.some((m) => m.secondDeleteDelayMs === undefined && named(m))) {
    out.push({ delayMs: defaultDelayMs, message: `--second-delete-delay ${formatDuration(defaultDelayMs)} exceeds ${grace}: ${CONSEQUENCE}` });
  }
  for (const m of mappings) {
    const d = m.secondDeleteDelayMs;
    if (d === undefined || d <= graceMs || !named(m)) continue;
    out.push({ mapping: m.name, pos: m.pos, delayMs: d, message: `mapping "${m.name}": second_delete_delay ${formatDuration(d)} exceeds ${grace}: ${CONSEQUENCE}` });
  }
  return out;
}
