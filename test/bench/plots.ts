/** Hand-written SVG charts (no dependencies): line charts, grouped bar charts and histograms. */
import { escapeHtml } from '../helpers/html.js';

const W = 920;
const H = 440;
const M = { left: 70, right: 270, top: 40, bottom: 60 };
const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

function fmt(v: number): string {
  if (v >= 10_000) return `${Math.round(v / 1000)}k`;
  if (v >= 1000) return `${(v / 1000).toFixed(1)}k`;
  if (v >= 10) return String(Math.round(v));
  if (v >= 1) return v.toFixed(1);
  return v.toPrecision(2);
}

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function frame(title: string, xLabel: string, yLabel: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2 - M.right / 2 + M.left / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeHtml(title)}</text>`,
    `<text x="${(M.left + W - M.right) / 2}" y="${H - 15}" text-anchor="middle">${escapeHtml(xLabel)}</text>`,
    `<text transform="translate(18 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">${escapeHtml(yLabel)}</text>`,
    ...body,
    '</svg>',
  ].join('\n');
}

function legend(names: string[]): string[] {
  return names.map(
    (n, i) =>
      `<rect x="${W - M.right + 15}" y="${M.top + i * 20}" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/>` +
      `<text x="${W - M.right + 32}" y="${M.top + i * 20 + 10}">${escapeHtml(n)}</text>`,
  );
}

/** y axis: linear from 0 or log10; returns the mapping and the grid/labels. */
function yAxis(maxV: number, minV: number, log: boolean, integer = false): { y: (v: number) => number; parts: string[] } {
  const top = M.top;
  const bottom = H - M.bottom;
  const parts: string[] = [];
  if (log) {
    const lo = Math.floor(Math.log10(Math.max(minV, 1e-3)));
    const hi = Math.ceil(Math.log10(Math.max(maxV, 10 ** (lo + 1))));
    const y = (v: number) => bottom - ((Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo)) * (bottom - top);
    for (let e = lo; e <= hi; e++) {
      const yy = y(10 ** e);
      parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${yy}" y2="${yy}" stroke="#ddd"/>`, `<text x="${M.left - 6}" y="${yy + 4}" text-anchor="end">${fmt(10 ** e)}</text>`);
    }
    return { y, parts };
  }
  let max = niceMax(maxV);
  let steps = 5;
  if (integer) {
    max = Math.max(1, Math.ceil(maxV));
    steps = Math.min(max, 5);
    max = Math.ceil(max / steps) * steps;
  }
  const y = (v: number) => bottom - (v / max) * (bottom - top);
  for (let i = 0; i <= steps; i++) {
    const v = (max / steps) * i;
    parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`, `<text x="${M.left - 6}" y="${y(v) + 4}" text-anchor="end">${fmt(v)}</text>`);
  }
  return { y, parts };
}

export interface Series {
  name: string;
  points: [number, number | null][];
}

/** Lines over a log2 x axis (concurrency levels). */
export function lineChart(o: { title: string; xLabel: string; yLabel: string; series: Series[]; logY?: boolean }): string {
  const xs = [...new Set(o.series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
  const ys = o.series.flatMap((s) => s.points.map((p) => p[1]).filter((v): v is number => v !== null && Number.isFinite(v)));
  if (!xs.length || !ys.length) return frame(o.title, o.xLabel, o.yLabel, ['<text x="200" y="200">no data</text>']);
  const lx = (v: number) => Math.log2(Math.max(v, 1));
  const x0 = lx(xs[0]);
  const x1 = Math.max(lx(xs[xs.length - 1]), x0 + 1);
  const x = (v: number) => M.left + 20 + ((lx(v) - x0) / (x1 - x0)) * (W - M.right - M.left - 40);
  const { y, parts } = yAxis(Math.max(...ys), Math.min(...ys), o.logY ?? false);
  const body = [...parts];
  for (const v of xs) body.push(`<text x="${x(v)}" y="${H - M.bottom + 18}" text-anchor="middle">${v}</text>`);
  o.series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length];
    const pts = s.points.filter((p): p is [number, number] => p[1] !== null && Number.isFinite(p[1]));
    body.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${pts.map((p) => `${x(p[0])},${y(p[1])}`).join(' ')}"/>`);
    for (const p of pts) body.push(`<circle cx="${x(p[0])}" cy="${y(p[1])}" r="3.5" fill="${c}"><title>${escapeHtml(s.name)}: ${p[1]}</title></circle>`);
  });
  body.push(...legend(o.series.map((s) => s.name)));
  body.push(`<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${H - M.bottom}" stroke="#333"/>`, `<line x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}" stroke="#333"/>`);
  return frame(o.title, o.xLabel, o.yLabel, body);
}

/** Grouped bars: one group per category, one bar per series. */
export function barChart(o: { title: string; xLabel: string; yLabel: string; categories: string[]; series: { name: string; values: (number | null)[] }[]; logY?: boolean }): string {
  const ys = o.series.flatMap((s) => s.values.filter((v): v is number => v !== null && Number.isFinite(v)));
  if (!ys.length) return frame(o.title, o.xLabel, o.yLabel, ['<text x="200" y="200">no data</text>']);
  const { y, parts } = yAxis(Math.max(...ys), Math.min(...ys), o.logY ?? false);
  const body = [...parts];
  const groupW = (W - M.left - M.right) / o.categories.length;
  const barW = (groupW * 0.8) / o.series.length;
  o.categories.forEach((cat, ci) => {
    const gx = M.left + ci * groupW + groupW * 0.1;
    body.push(`<text x="${gx + groupW * 0.4}" y="${H - M.bottom + 18}" text-anchor="middle">${escapeHtml(cat)}</text>`);
    o.series.forEach((s, si) => {
      const v = s.values[ci];
      if (v === null || !Number.isFinite(v)) return;
      const top = y(v);
      const bx = gx + si * barW;
      body.push(`<rect x="${bx}" y="${top}" width="${barW - 2}" height="${Math.max(0, H - M.bottom - top)}" fill="${COLORS[si % COLORS.length]}"><title>${escapeHtml(s.name)}: ${v}</title></rect>`);
      body.push(`<text x="${bx + barW / 2 - 1}" y="${top - 3}" text-anchor="middle" font-size="10">${fmt(v)}</text>`);
    });
  });
  body.push(...legend(o.series.map((s) => s.name)));
  body.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}" stroke="#333"/>`);
  return frame(o.title, o.xLabel, o.yLabel, body);
}

/** Histogram of samples (ms), several series side by side in each bin. */
export function histogram(o: { title: string; xLabel: string; series: { name: string; values: number[] }[]; bins?: number }): string {
  const all = o.series.flatMap((s) => s.values);
  if (!all.length) return frame(o.title, o.xLabel, 'trials', ['<text x="200" y="200">no data</text>']);
  const max = niceMax(Math.max(...all));
  const bins = o.bins ?? 25;
  const width = max / bins;
  const counts = o.series.map((s) => {
    const c = new Array<number>(bins).fill(0);
    for (const v of s.values) c[Math.min(bins - 1, Math.floor(v / width))]++;
    return c;
  });
  const { y, parts } = yAxis(Math.max(...counts.flat()), 0, false, true);
  const body = [...parts];
  const plotW = W - M.left - M.right;
  const binW = plotW / bins;
  const barW = binW / o.series.length;
  counts.forEach((c, si) =>
    c.forEach((n, bi) => {
      if (!n) return;
      const top = y(n);
      body.push(`<rect x="${M.left + bi * binW + si * barW}" y="${top}" width="${Math.max(1, barW - 0.5)}" height="${H - M.bottom - top}" fill="${COLORS[si % COLORS.length]}"><title>${escapeHtml(o.series[si].name)}: ${n} in [${fmt(bi * width)}, ${fmt((bi + 1) * width)}) ms</title></rect>`);
    }),
  );
  for (let i = 0; i <= 5; i++) {
    const v = (max / 5) * i;
    body.push(`<text x="${M.left + (v / max) * plotW}" y="${H - M.bottom + 18}" text-anchor="middle">${fmt(v)}</text>`);
  }
  body.push(...legend(o.series.map((s) => `${s.name} (n=${s.values.length})`)));
  body.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}" stroke="#333"/>`);
  return frame(o.title, o.xLabel, 'trials', body);
}
