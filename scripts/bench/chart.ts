/**
 * The bench's picture, as SVG text written by this module (no browser, no plotting library): on the
 * left, throughput per phase against its ceilings (records/s, log scale: each client's consume+decode
 * ceiling and worker path, the naive baseline, the Redis ceiling in records, the backlog run); on
 * the right, the latency run's CDFs (handover → first-delete ack, the Redis-side cross-check, produce
 * → first-delete ack). `node dist/scripts/bench/chart.js RESULTS.json [OUT.svg]` redraws one.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Ratios, Results } from './report.js';

interface Bar {
  readonly label: string;
  readonly value: number;
  readonly kind: 'ceiling' | 'worker' | 'baseline';
}

const W = 1060;
const H = 460;
const COLORS = { ceiling: '#9aa5b1', worker: '#2f6fd0', baseline: '#d0782f' } as const;
const CDF_COLORS = ['#2f6fd0', '#3a9d5d', '#b0413e'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function round1(x: number | undefined): string {
  return x === undefined || !Number.isFinite(x) ? '—' : x >= 100 ? fmtInt(x) : x.toFixed(1);
}

function fmtInt(x: number): string {
  return Math.round(x).toLocaleString('en-US');
}

function bars(r: Results, q: Ratios | undefined): Bar[] {
  const out: Bar[] = [];
  for (const b of r.bakeoff ?? []) {
    if (b.consume) out.push({ label: `${b.client}: consume+decode ceiling`, value: b.consume.recordsPerSecond, kind: 'ceiling' });
    if (b.worker) out.push({ label: `${b.client}: worker (to all committed)`, value: b.worker.recordsPerSecond, kind: 'worker' });
  }
  if (!r.bakeoff && r.consume) out.push({ label: 'consume+decode ceiling', value: r.consume.recordsPerSecond, kind: 'ceiling' });
  if (!r.bakeoff && r.worker) out.push({ label: 'worker', value: r.worker.recordsPerSecond, kind: 'worker' });
  if (q?.redisRecordsPerSecond) out.push({ label: 'Redis ceiling (records, 2 deletes)', value: q.redisRecordsPerSecond, kind: 'ceiling' });
  if (r.naive) out.push({ label: 'naive baseline', value: r.naive.recordsPerSecond, kind: 'baseline' });
  if (r.backlog) out.push({ label: 'worker over the backlog', value: r.backlog.worker.recordsPerSecond, kind: 'worker' });
  if (r.latency) out.push({ label: 'latency run rate (half load)', value: r.latency.rate, kind: 'baseline' });
  return out.filter((b) => Number.isFinite(b.value) && b.value > 0);
}

function throughputPanel(list: readonly Bar[], x0: number, y0: number, w: number, h: number): string[] {
  const out: string[] = [`<text x="${x0}" y="${y0 - 12}" font-size="14" font-weight="bold">Throughput per phase (records/s, log scale)</text>`];
  if (list.length === 0) return [...out, `<text x="${x0}" y="${y0 + 20}" font-size="12">no throughput phase ran</text>`];
  const labelW = 210;
  const plotX = x0 + labelW;
  const plotW = w - labelW - 10;
  const lo = 100;
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...list.map((b) => b.value)) * 1.05));
  const sx = (v: number): number => plotX + (Math.log10(Math.max(lo, v) / lo) / Math.log10(hi / lo)) * plotW;
  const rowH = Math.min(30, (h - 30) / list.length);
  for (let e = lo; e <= hi; e *= 10) {
    const x = sx(e);
    out.push(`<line x1="${x}" y1="${y0}" x2="${x}" y2="${y0 + rowH * list.length}" stroke="#ddd"/>`);
    out.push(`<text x="${x}" y="${y0 + rowH * list.length + 14}" font-size="10" text-anchor="middle">${e >= 1e6 ? `${e / 1e6}M` : e >= 1e3 ? `${e / 1e3}k` : e}</text>`);
  }
  list.forEach((b, i) => {
    const y = y0 + i * rowH;
    out.push(`<text x="${plotX - 6}" y="${y + rowH * 0.62}" font-size="11" text-anchor="end">${esc(b.label)}</text>`);
    out.push(`<rect x="${plotX}" y="${y + 3}" width="${Math.max(1, sx(b.value) - plotX)}" height="${rowH - 6}" fill="${COLORS[b.kind]}"/>`);
    out.push(`<text x="${sx(b.value) + 4}" y="${y + rowH * 0.62}" font-size="10">${fmtInt(b.value)}</text>`);
  });
  const ly = y0 + rowH * list.length + 32;
  (['ceiling', 'worker', 'baseline'] as const).forEach((k, i) => {
    out.push(`<rect x="${plotX + i * 110}" y="${ly - 9}" width="10" height="10" fill="${COLORS[k]}"/>`, `<text x="${plotX + i * 110 + 14}" y="${ly}" font-size="11">${k}</text>`);
  });
  return out;
}

function cdfPanel(r: Results, x0: number, y0: number, w: number, h: number): string[] {
  const out: string[] = [`<text x="${x0}" y="${y0 - 12}" font-size="14" font-weight="bold">Latency at ${r.latency ? `${fmtInt(r.latency.rate)} events/s` : 'half load'} (CDF, ms, log scale)</text>`];
  const l = r.latency;
  if (!l?.cdf) return [...out, `<text x="${x0}" y="${y0 + 20}" font-size="12">no latency run in these results</text>`];
  const series: [string, number[]][] = [
    ['added: handover → first-delete ack', l.cdf.added],
    ['handover → keyspace del event', l.cdf.addedRedis],
    ['produce → first-delete ack', l.cdf.endToEnd],
  ];
  const all = series.flatMap(([, v]) => v).filter((v) => Number.isFinite(v) && v > 0);
  const lo = 10 ** Math.floor(Math.log10(Math.max(0.01, Math.min(...all))));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...all)));
  const plotX = x0 + 40;
  const plotW = w - 50;
  const plotH = h - 90;
  const sx = (v: number): number => plotX + (Math.log10(Math.max(lo, v) / lo) / Math.log10(hi / lo)) * plotW;
  const sy = (p: number): number => y0 + plotH - (p / 100) * plotH;
  out.push(`<rect x="${plotX}" y="${y0}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`);
  for (let e = lo; e <= hi; e *= 10) {
    out.push(`<line x1="${sx(e)}" y1="${y0}" x2="${sx(e)}" y2="${y0 + plotH}" stroke="#eee"/>`, `<text x="${sx(e)}" y="${y0 + plotH + 14}" font-size="10" text-anchor="middle">${e < 1 ? e.toFixed(2) : fmtInt(e)}</text>`);
  }
  for (const p of [0, 50, 90, 99]) {
    out.push(`<line x1="${plotX}" y1="${sy(p)}" x2="${plotX + plotW}" y2="${sy(p)}" stroke="#eee"/>`, `<text x="${plotX - 4}" y="${sy(p) + 3}" font-size="10" text-anchor="end">${p} %</text>`);
  }
  out.push(`<line x1="${sx(20)}" y1="${y0}" x2="${sx(20)}" y2="${y0 + plotH}" stroke="#b0413e" stroke-dasharray="4 3"/>`, `<text x="${sx(20) + 3}" y="${y0 + 12}" font-size="10" fill="#b0413e">20 ms target (p99 added)</text>`);
  series.forEach(([name, values], i) => {
    const pts = values.map((v, p) => `${sx(v).toFixed(1)},${sy(p).toFixed(1)}`).join(' ');
    out.push(`<polyline points="${pts}" fill="none" stroke="${CDF_COLORS[i]}" stroke-width="2"/>`);
    const ly = y0 + plotH + 32 + i * 15;
    out.push(`<line x1="${plotX}" y1="${ly - 4}" x2="${plotX + 18}" y2="${ly - 4}" stroke="${CDF_COLORS[i]}" stroke-width="2"/>`, `<text x="${plotX + 24}" y="${ly}" font-size="11">${esc(name)}: p50 ${round1(values[50])} / p99 ${round1(values[99])} ms</text>`);
  });
  return out;
}

/** The title in at most two lines of `width` characters, broken between words (the rest cut with an ellipsis). */
function titleLines(title: string, width: number): string[] {
  const lines: string[] = [];
  let cur = '';
  for (const word of title.split(' ')) {
    if (cur && cur.length + 1 + word.length > width) {
      lines.push(cur);
      cur = word;
    } else cur = cur ? `${cur} ${word}` : word;
  }
  if (cur) lines.push(cur);
  if (lines.length <= 2) return lines;
  const second = lines.slice(1).join(' ');
  return [lines[0]!, second.length > width ? `${second.slice(0, width - 1)}…` : second];
}

/** The whole picture as SVG text. */
export function chartSvg(r: Results, q: Ratios | undefined, title: string): string {
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    ...titleLines(title, Math.floor((W - 40) / 7)).map((line, i) => `<text x="20" y="${22 + i * 17}" font-size="13">${esc(line)}</text>`),
    ...throughputPanel(bars(r, q), 20, 70, 560, H - 110),
    ...cdfPanel(r, 600, 70, 440, H - 80),
    '</svg>',
  ];
  return `${parts.join('\n')}\n`;
}

// `node dist/scripts/bench/chart.js RESULTS.json [OUT.svg]`
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [input, output] = process.argv.slice(2);
  if (!input) {
    console.error('usage: chart.js RESULTS.json [OUT.svg]');
    process.exit(2);
  }
  const json = JSON.parse(readFileSync(input, 'utf8')) as Results & { ratios?: Ratios; date?: string; code?: { commit?: string }; options?: { label?: string } };
  const out = output ?? input.replace(/\.json$/, '') + '.svg';
  writeFileSync(out, chartSvg(json, json.ratios, `cdc-invalidator bench, ${json.date ?? ''}, commit ${json.code?.commit ?? '?'}${json.options?.label ? ` — ${json.options.label}` : ''}`));
  console.log(out);
}
