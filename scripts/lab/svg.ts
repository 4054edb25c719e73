/**
 * The staleness picture, drawn as SVG by hand (no charting dependency): for each strategy, how many of
 * every 1,000 reads returned a value that had been stale for longer than x. Both axes logarithmic; a
 * strategy's line starts at its stale-read rate and falls to 0 where its longest staleness ends.
 */
export interface Series {
  readonly label: string;
  readonly reads: number;
  /** Staleness of each stale read, ms. */
  readonly staleness: readonly number[];
}

const COLORS = ['#444444', '#d62728', '#ff7f0e', '#bcbd22', '#2ca02c', '#17becf', '#1f77b4', '#9467bd', '#8c564b', '#e377c2'];
const W = 1000;
const H = 480;
const M = { left: 70, right: 430, top: 40, bottom: 56 };
const X_MIN = 10;
const X_MAX = 60_000;
const Y_MIN = 0.01;
const Y_MAX = 1000;

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const px = (ms: number): number => M.left + ((Math.log10(Math.min(X_MAX, Math.max(X_MIN, ms))) - Math.log10(X_MIN)) / (Math.log10(X_MAX) - Math.log10(X_MIN))) * (W - M.left - M.right);
const py = (perMille: number): number => M.top + (1 - (Math.log10(Math.min(Y_MAX, Math.max(Y_MIN, perMille))) - Math.log10(Y_MIN)) / (Math.log10(Y_MAX) - Math.log10(Y_MIN))) * (H - M.top - M.bottom);

function xLabel(ms: number): string {
  return ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`;
}

/** The step line of one strategy: (x, stale reads per 1,000 reads staler than x). */
function path(s: Series): string | undefined {
  if (s.reads === 0 || s.staleness.length === 0) return undefined;
  const sorted = [...s.staleness].sort((a, b) => a - b);
  const n = sorted.length;
  const per = (k: number): number => (k / s.reads) * 1000;
  const pts: string[] = [`M${px(X_MIN).toFixed(1)},${py(per(sorted.filter((v) => v > X_MIN).length)).toFixed(1)}`];
  let above = sorted.filter((v) => v > X_MIN).length;
  for (let i = 0; i < n; i++) {
    const v = sorted[i]!;
    if (v <= X_MIN) continue;
    // At x = v the count staler than x drops by the reads of exactly v.
    const x = px(v).toFixed(1);
    pts.push(`L${x},${py(per(above)).toFixed(1)}`);
    above--;
    if (above <= 0) {
      pts.push(`L${x},${(H - M.bottom).toFixed(1)}`);
      break;
    }
    pts.push(`L${x},${py(per(above)).toFixed(1)}`);
  }
  return pts.join(' ');
}

export function stalenessSvg(series: readonly Series[], title: string, subtitle: string): string {
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text x="${M.left}" y="18" font-size="15" font-weight="bold">${esc(title)}</text>`);
  out.push(`<text x="${M.left}" y="33" fill="#555555">${esc(subtitle)}</text>`);
  const x0 = M.left;
  const x1 = W - M.right;
  const y0 = M.top;
  const y1 = H - M.bottom;
  for (const t of [10, 30, 100, 300, 1000, 3000, 10_000, 30_000, 60_000]) {
    const x = px(t).toFixed(1);
    out.push(`<line x1="${x}" y1="${y0}" x2="${x}" y2="${y1}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${x}" y="${y1 + 16}" text-anchor="middle">${xLabel(t)}</text>`);
  }
  for (const t of [0.01, 0.1, 1, 10, 100, 1000]) {
    const y = py(t).toFixed(1);
    out.push(`<line x1="${x0}" y1="${y}" x2="${x1}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${x0 - 6}" y="${Number(y) + 4}" text-anchor="end">${t}</text>`);
  }
  out.push(`<rect x="${x0}" y="${y0}" width="${x1 - x0}" height="${y1 - y0}" fill="none" stroke="#888888"/>`);
  out.push(`<text x="${(x0 + x1) / 2}" y="${H - 14}" text-anchor="middle">staleness x: how long the value returned had been stale (log)</text>`);
  out.push(`<text transform="translate(16 ${(y0 + y1) / 2}) rotate(-90)" text-anchor="middle">stale reads per 1,000 reads staler than x (log)</text>`);
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const d = path(s);
    if (d) out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
    const ly = y0 + 8 + i * 22;
    out.push(`<line x1="${x1 + 14}" y1="${ly}" x2="${x1 + 38}" y2="${ly}" stroke="${color}" stroke-width="${d ? 2 : 1}"${d ? '' : ' stroke-dasharray="3 3"'}/>`);
    const rate = s.reads > 0 ? `${((s.staleness.length / s.reads) * 1000).toFixed(s.staleness.length === 0 ? 0 : 1)}‰` : '—';
    out.push(`<text x="${x1 + 44}" y="${ly + 4}">${esc(s.label)}: ${d ? `${s.staleness.length} stale, ${rate}` : 'no stale read'}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
