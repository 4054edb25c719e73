import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** What one lab run does: the workload, its sizes and durations (every one bounded). */
export interface LabOptions {
  readonly quick: boolean;
  /** Rows of lab.items. */
  readonly rows: number;
  /** Zipf exponent of key popularity (readers and writer). */
  readonly zipf: number;
  /** How long the writer writes, ms. */
  readonly writeMs: number;
  /** Updates per second. */
  readonly rate: number;
  /** Readers per strategy. */
  readonly readers: number;
  /** Pause of a reader between two reads, ms. */
  readonly thinkMs: number;
  /** Share of fills paused between reading the row and writing the cache. */
  readonly pauseShare: number;
  /** Longest such pause, ms (each is uniform in [0, pauseMaxMs]). */
  readonly pauseMaxMs: number;
  /** TTL of every cached value, ms (the TTL-only strategy's only invalidation). */
  readonly ttlMs: number;
  /** The worker's inspector for the inspected population: sample and delay. */
  readonly verifyAfterMs: number;
  readonly seed: number;
  readonly outFile: string;
  readonly svgFile: string;
  readonly workDir: string;
  /** Hard cap of the whole run (stack start included), ms. */
  readonly capMs: number;
}

export const USAGE = `usage: npm run lab -- [options]
  --quick             a short run (under 5 minutes with the stack's start)
  --seconds S         how long the writer writes (default 120; --quick 45)
  --rate N            row updates per second (default 20)
  --rows N            rows in lab.items (default 400; --quick 200)
  --zipf S            Zipf exponent of key popularity (default 1.1)
  --readers N         cache-aside readers per strategy (default 6; --quick 4)
  --think-ms MS       pause of each reader between two reads (default 30)
  --pause-share F     share of fills paused between the row read and the cache write (default 0.2)
  --pause-max-ms MS   longest such pause (default 3000)
  --ttl-ms MS         TTL of cached values (default 30000)
  --verify-after-ms MS  the inspector's delay after the second delete (default 2000)
  --seed N            seed of the workload (default 18)
  --out FILE          JSON results (default <work dir>/lab-results.json)
  --svg FILE          the staleness picture (default <work dir>/lab-staleness.svg)`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

function num(v: string | undefined, flag: string, min: number, max: number, integer = true): number {
  const n = Number(v);
  if (v === undefined || !Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || n > max) {
    throw new UsageError(`${flag}: expected ${integer ? 'an integer' : 'a number'} in ${min}–${max}, got ${v ?? 'nothing'}\n${USAGE}`);
  }
  return n;
}

export function parseLabOptions(argv: readonly string[]): LabOptions {
  const quick = argv.includes('--quick');
  let writeMs = (quick ? 45 : 120) * 1000;
  let rate = 20;
  let rows = quick ? 200 : 400;
  let zipf = 1.1;
  let readers = quick ? 4 : 6;
  let thinkMs = 30;
  let pauseShare = 0.2;
  let pauseMaxMs = 3000;
  let ttlMs = 30_000;
  let verifyAfterMs = 2000;
  let seed = 18;
  let out: string | undefined;
  let svg: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = (): string | undefined => argv[++i];
    switch (a) {
      case '--quick':
        break;
      case '--seconds':
        writeMs = num(next(), a, 5, 1800) * 1000;
        break;
      case '--rate':
        rate = num(next(), a, 1, 500);
        break;
      case '--rows':
        rows = num(next(), a, 10, 100_000);
        break;
      case '--zipf':
        zipf = num(next(), a, 0, 3, false);
        break;
      case '--readers':
        readers = num(next(), a, 1, 64);
        break;
      case '--think-ms':
        thinkMs = num(next(), a, 0, 10_000);
        break;
      case '--pause-share':
        pauseShare = num(next(), a, 0, 1, false);
        break;
      case '--pause-max-ms':
        pauseMaxMs = num(next(), a, 0, 4_000);
        break;
      case '--ttl-ms':
        ttlMs = num(next(), a, 1_000, 600_000);
        break;
      case '--verify-after-ms':
        verifyAfterMs = num(next(), a, 100, 60_000);
        break;
      case '--seed':
        seed = num(next(), a, 0, 2 ** 31);
        break;
      case '--out':
        out = next();
        if (!out) throw new UsageError(`--out: expected a file name\n${USAGE}`);
        break;
      case '--svg':
        svg = next();
        if (!svg) throw new UsageError(`--svg: expected a file name\n${USAGE}`);
        break;
      case '-h':
      case '--help':
        throw new UsageError(USAGE);
      default:
        throw new UsageError(`unknown option ${a}\n${USAGE}`);
    }
  }
  const workDir = mkdtempSync(join(tmpdir(), 'cdci-lab-'));
  // The stack's start (~25 s), a warm-up, the writes, a tail of 12 s for the last probes, the report.
  const capMs = writeMs + 150_000;
  return {
    quick,
    rows,
    zipf,
    writeMs,
    rate,
    readers,
    thinkMs,
    pauseShare,
    pauseMaxMs,
    ttlMs,
    verifyAfterMs,
    seed,
    outFile: out ? resolve(out) : join(workDir, 'lab-results.json'),
    svgFile: svg ? resolve(svg) : join(workDir, 'lab-staleness.svg'),
    workDir,
    capMs,
  };
}
