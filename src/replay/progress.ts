import type { Logger } from 'pino';

/** Where a replay stands. */
export interface ProgressSnapshot {
  readonly records: number;
  readonly planned: number;
  readonly seconds: number;
  readonly partitionsDone: number;
  readonly partitions: number;
}

/** How a replay shows its progress: a bar on a terminal, log lines elsewhere. */
export interface ProgressReporter {
  /** How often update() is called. */
  readonly everyMs: number;
  update(s: ProgressSnapshot): void;
  /** The replay ended (done or not): a bar is completed and its line ended. */
  finish(s: ProgressSnapshot): void;
}

/** The part of a stream the bar needs (process.stderr, or a fake in tests). */
export interface TerminalLike {
  readonly isTTY?: boolean;
  readonly columns?: number;
  write(text: string): boolean;
}

function rateOf(s: ProgressSnapshot): number {
  return s.records / Math.max(s.seconds, 0.001);
}

function etaSeconds(s: ProgressSnapshot): number | null {
  const rate = rateOf(s);
  return rate > 0 ? Math.max(0, Math.round((s.planned - s.records) / rate)) : null;
}

function formatSeconds(n: number | null): string {
  if (n === null) return '?';
  if (n < 60) return `${n}s`;
  if (n < 3_600) return `${Math.floor(n / 60)}m${String(n % 60).padStart(2, '0')}s`;
  return `${Math.floor(n / 3_600)}h${String(Math.floor((n % 3_600) / 60)).padStart(2, '0')}m`;
}

/** One line: `[#####-----]  50% 5,000/10,000 records  1,234/s  ETA 4s  partitions 2/4`. */
export function progressLine(s: ProgressSnapshot, columns = 80, finished = false): string {
  const fraction = s.planned > 0 ? Math.min(1, s.records / s.planned) : 1;
  const n = (x: number) => x.toLocaleString('en-US');
  const tail = ` ${String(Math.floor(fraction * 100)).padStart(3)}% ${n(s.records)}/${n(s.planned)} records  ${n(Math.round(rateOf(s)))}/s  ${finished ? `in ${formatSeconds(Math.round(s.seconds))}` : `ETA ${formatSeconds(etaSeconds(s))}`}  partitions ${s.partitionsDone}/${s.partitions}`;
  const width = Math.max(10, Math.min(40, columns - tail.length - 3));
  const filled = Math.round(fraction * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]${tail}`;
}

/** A bar redrawn in place (carriage return, line cleared) on a terminal. */
export class ProgressBar implements ProgressReporter {
  readonly everyMs = 200;
  constructor(private readonly out: TerminalLike) {}

  update(s: ProgressSnapshot): void {
    this.out.write(`\r\x1b[2K${progressLine(s, this.out.columns)}`);
  }

  finish(s: ProgressSnapshot): void {
    this.out.write(`\r\x1b[2K${progressLine(s, this.out.columns, true)}\n`);
  }
}

/** Off a terminal: a `replay progress` log line every few seconds (as before). */
export class ProgressLog implements ProgressReporter {
  constructor(private readonly logger: Logger, readonly everyMs = 5_000) {}

  update(s: ProgressSnapshot): void {
    this.logger.info(
      { records: s.records, plannedRecords: s.planned, ratePerSecond: Math.round(rateOf(s)), etaSeconds: etaSeconds(s), partitionsLeft: s.partitions - s.partitionsDone },
      'replay progress',
    );
  }

  finish(_s: ProgressSnapshot): void {}
}

/** A bar when `out` is a terminal, log lines otherwise. */
export function progressReporter(out: TerminalLike, logger: Logger, logEveryMs = 5_000): ProgressReporter {
  return out.isTTY ? new ProgressBar(out) : new ProgressLog(logger, logEveryMs);
}
