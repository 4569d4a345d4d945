/**
 * The HTML report of one chaos run: one self-contained file (inline CSS and SVG, no scripts, no external assets)
 * with the verdict, the seed and the command to replay it, the figures, a timeline of who led when, the faults,
 * client operations (per worker, binned) and latency, the fault list and the checker's violations.
 */
import type { ChaosFigures, CheckResult, FaultKind, FaultRecord, LeaderObservation, OpRecord } from './types.js';
import { escapeHtml } from '../helpers/html.js';

export interface ReportInput {
  figures: ChaosFigures;
  check: CheckResult;
  ops: OpRecord[];
  faults: FaultRecord[];
  observations: LeaderObservation[];
  replicas: string[];
  workers: string[];
  /** Nemesis phase, ms since the run began. */
  runStart: number;
  runEnd: number;
  /** Whole recording (setup to final checks). */
  totalEnd: number;
  replay: string;
  startedAt: string;
  kept: string | null;
  notes: string[];
  problems: string[];
  /** Refused and unknown operations by outcome and error code. */
  errorsByCode: Record<string, number>;
  /** Replica exits nobody caused. */
  crashes: { replica: string; t: number; what: string }[];
}

const FAULT_COLOR: Record<FaultKind, string> = {
  kill: '#d62728',
  pause: '#ff7f0e',
  partition: '#9467bd',
  loss: '#7f7f7f',
  restartAll: '#8c564b',
  snapshotCrash: '#e377c2',
  membership: '#17becf',
  clockSkew: '#bcbd22',
  diskFull: '#2ca02c',
  rollingUpgrade: '#1f77b4',
};

function sec(ms: number): string {
  return (ms / 1000).toFixed(1);
}

interface Segment {
  replica: string;
  term: number;
  from: number;
  to: number;
}

/** Periods each replica said it led (from one observation to the next change of that replica). */
export function leaderSegments(obs: LeaderObservation[], end: number): Segment[] {
  const byReplica = new Map<string, LeaderObservation[]>();
  for (const o of obs) {
    let l = byReplica.get(o.replica);
    if (!l) byReplica.set(o.replica, (l = []));
    l.push(o);
  }
  const out: Segment[] = [];
  for (const [replica, list] of byReplica) {
    list.sort((a, b) => a.t - b.t);
    for (let i = 0; i < list.length; i++) {
      const o = list[i];
      if (o.role !== 'leader') continue;
      out.push({ replica, term: o.term, from: o.t, to: list[i + 1]?.t ?? end });
    }
  }
  return out;
}

export function renderReport(r: ReportInput): string {
  const f = r.figures;
  const pass = f.verdict === 'pass';
  const W = 1100;
  const left = 90;
  const plotW = W - left - 20;
  const t0 = 0;
  const t1 = Math.max(r.totalEnd, 1);
  const x = (t: number) => left + ((t - t0) / (t1 - t0)) * plotW;

  // ---- lanes
  const lane = 22;
  let y = 30;
  const parts: string[] = [];
  // Nemesis phase background.
  const laneCount = r.replicas.length + r.workers.length;
  parts.push(`<rect x="${x(r.runStart)}" y="20" width="${Math.max(1, x(r.runEnd) - x(r.runStart))}" height="${laneCount * lane + 30}" fill="#f6f6f6"><title>nemesis active ${sec(r.runStart)}–${sec(r.runEnd)} s</title></rect>`);
  const segs = leaderSegments(r.observations, r.totalEnd);
  for (const rep of r.replicas) {
    parts.push(`<text x="${left - 8}" y="${y + 15}" text-anchor="end" class="lbl">${escapeHtml(rep)}</text>`);
    parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${y + lane - 2}" y2="${y + lane - 2}" stroke="#ddd"/>`);
    for (const s of segs.filter((s) => s.replica === rep)) {
      const w = Math.max(1, x(s.to) - x(s.from));
      parts.push(`<rect x="${x(s.from)}" y="${y + 2}" width="${w}" height="9" fill="${s.term % 2 ? '#2ca02c' : '#1f77b4'}"><title>${escapeHtml(rep)} led term ${s.term}: ${sec(s.from)}–${sec(s.to)} s</title></rect>`);
      if (w > 28) parts.push(`<text x="${x(s.from) + 2}" y="${y + 10}" class="tiny" fill="#fff">T${s.term}</text>`);
    }
    for (const c of r.crashes.filter((c) => c.replica === rep)) {
      parts.push(`<text x="${x(c.t)}" y="${y + 19}" text-anchor="middle" font-size="16" font-weight="bold" fill="#c62828">✕<title>${escapeHtml(`${sec(c.t)} s: ${c.what}`)}</title></text>`);
    }
    for (const fl of r.faults.filter((fl) => fl.targets.includes(rep))) {
      const end = fl.end ?? r.totalEnd;
      parts.push(`<rect x="${x(fl.start)}" y="${y + 12}" width="${Math.max(2, x(end) - x(fl.start))}" height="7" fill="${FAULT_COLOR[fl.kind]}" opacity="0.85"><title>${escapeHtml(`${fl.kind}/${fl.variant} ${sec(fl.start)}–${sec(end)} s${fl.note ? `: ${fl.note}` : ''}`)}</title></rect>`);
    }
    y += lane;
  }
  // ---- operations per worker, binned
  const binMs = Math.max(250, Math.ceil(t1 / 600 / 250) * 250);
  const bins = Math.ceil(t1 / binMs) + 1;
  const binW = Math.max(1, (plotW * binMs) / (t1 - t0));
  for (const w of r.workers) {
    parts.push(`<text x="${left - 8}" y="${y + 14}" text-anchor="end" class="lbl">${escapeHtml(w)}</text>`);
    const counts = Array.from({ length: bins }, () => ({ ok: 0, fail: 0, unknown: 0, unavailable: 0 }));
    for (const o of r.ops) {
      if (o.user !== w) continue;
      const c = counts[Math.floor(o.start / binMs)];
      c[o.outcome]++;
      // Refusals the workload asks for on purpose (deleting a message that does not exist) are not outages.
      if (o.outcome === 'fail' && !/^(NOT_FOUND|FORBIDDEN|INVALID|USERNAME_TAKEN):/.test(o.error ?? '')) c.unavailable++;
    }
    counts.forEach((c, i) => {
      const total = c.ok + c.fail + c.unknown;
      if (!total) return;
      const color = c.unknown ? '#d62728' : c.unavailable ? '#ffbb33' : '#9bd19b';
      parts.push(`<rect x="${x(i * binMs)}" y="${y + 3}" width="${binW}" height="14" fill="${color}"><title>${escapeHtml(w)} ${sec(i * binMs)}–${sec((i + 1) * binMs)} s: ${c.ok} ok, ${c.fail} refused (${c.unavailable} for unavailability), ${c.unknown} unknown</title></rect>`);
    });
    y += lane;
  }
  // ---- latency (log scale), per bin: median and max of completed operations; unknowns as red ticks
  y += 14;
  const latTop = y;
  const latH = 150;
  const lo = 1;
  const hi = 30_000;
  const ly = (ms: number) => latTop + latH - ((Math.log10(Math.max(lo, Math.min(hi, ms))) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * latH;
  parts.push(`<text x="${left - 8}" y="${latTop + 10}" text-anchor="end" class="lbl">latency</text>`);
  for (const v of [1, 10, 100, 1000, 10000]) {
    parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${ly(v)}" y2="${ly(v)}" stroke="#eee"/><text x="${left - 8}" y="${ly(v) + 4}" text-anchor="end" class="tiny">${v >= 1000 ? `${v / 1000} s` : `${v} ms`}</text>`);
  }
  const perBin: number[][] = Array.from({ length: bins }, () => []);
  for (const o of r.ops) if (o.outcome !== 'unknown') perBin[Math.floor(o.start / binMs)].push(o.end - o.start);
  // One polyline per run of consecutive bins with operations, so gaps (nothing completed) stay gaps.
  const med: string[][] = [];
  const max: string[][] = [];
  let last = -2;
  perBin.forEach((l, i) => {
    if (!l.length) return;
    if (i !== last + 1) {
      med.push([]);
      max.push([]);
    }
    last = i;
    l.sort((a, b) => a - b);
    const cx = x(i * binMs + binMs / 2).toFixed(1);
    med[med.length - 1].push(`${cx},${ly(l[Math.floor(l.length / 2)]).toFixed(1)}`);
    max[max.length - 1].push(`${cx},${ly(l[l.length - 1]).toFixed(1)}`);
  });
  for (const pts of max) parts.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="#ffb0b0" stroke-width="1"><title>slowest operation per bin</title></polyline>`);
  for (const pts of med) parts.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="#1f77b4" stroke-width="1.5"><title>median latency per bin</title></polyline>`);
  for (const o of r.ops) if (o.outcome === 'unknown') parts.push(`<line x1="${x(o.start)}" x2="${x(o.start)}" y1="${latTop}" y2="${latTop + 6}" stroke="#d62728"><title>unknown ${escapeHtml(o.op)} #${o.n} by ${escapeHtml(o.user)}: ${escapeHtml(o.error ?? '')}</title></line>`);
  y = latTop + latH + 10;
  // ---- axis
  const step = niceStep(t1 / 1000);
  for (let s = 0; s * 1000 <= t1; s += step) {
    parts.push(`<line x1="${x(s * 1000)}" x2="${x(s * 1000)}" y1="${y}" y2="${y + 5}" stroke="#666"/><text x="${x(s * 1000)}" y="${y + 17}" text-anchor="middle" class="tiny">${s}s</text>`);
  }
  y += 30;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" viewBox="0 0 ${W} ${y}" role="img" aria-label="timeline">
<style>.lbl{font:12px sans-serif;fill:#333}.tiny{font:10px sans-serif;fill:#555}</style>
<text x="${left}" y="14" class="lbl">leaders (bars, T = term), faults (thin bars), operations per worker (green ok, amber refused as unavailable, red unknown outcome), latency</text>
${parts.join('\n')}
</svg>`;

  const legend = (Object.keys(FAULT_COLOR) as FaultKind[]).map((k) => `<span class="sw" style="background:${FAULT_COLOR[k]}"></span>${k}`).join(' ');
  const figRows = Object.entries(f)
    .filter(([k]) => k !== 'faults')
    .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`)
    .join('');
  const faultCounts = Object.entries(f.faults)
    .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`)
    .join('');
  const faultRows = r.faults
    .map((fl) => `<tr><td>${sec(fl.start)}</td><td>${fl.end === null ? '—' : sec(fl.end)}</td><td>${escapeHtml(fl.kind)}</td><td>${escapeHtml(fl.variant)}</td><td>${escapeHtml(fl.targets.join(', '))}</td><td>${escapeHtml(fl.note ?? '')}</td></tr>`)
    .join('');
  const violations = r.check.violations.length
    ? `<ol>${r.check.violations.map((v) => `<li><b>${escapeHtml(v.kind)}</b>: ${escapeHtml(v.detail)}${v.ops ? ` (ops ${escapeHtml(v.ops.join(', '))})` : ''}</li>`).join('')}</ol>`
    : '<p>None.</p>';
  const terms = new Map<number, { leaders: Set<string>; first: number; last: number }>();
  for (const o of r.observations) {
    const who = o.role === 'leader' ? o.replica : o.leader;
    if (!who) continue;
    let e = terms.get(o.term);
    if (!e) terms.set(o.term, (e = { leaders: new Set(), first: o.t, last: o.t }));
    e.leaders.add(who);
    e.first = Math.min(e.first, o.t);
    e.last = Math.max(e.last, o.t);
  }
  const termRows = [...terms.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([t, e]) => `<tr${e.leaders.size > 1 ? ' class="bad"' : ''}><td>${t}</td><td>${escapeHtml([...e.leaders].join(', '))}</td><td>${sec(e.first)}</td><td>${sec(e.last)}</td></tr>`)
    .join('');

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Quorum chaos run ${escapeHtml(f.seed)}: ${pass ? 'PASS' : 'FAIL'}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#222;max-width:1160px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}
.verdict{display:inline-block;padding:3px 12px;border-radius:4px;color:#fff;background:${pass ? '#2a8f3c' : '#c62828'};font-weight:bold}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;font-weight:normal}th{background:#fafafa}
.grid{display:flex;gap:32px;flex-wrap:wrap;align-items:flex-start}.sw{display:inline-block;width:12px;height:8px;margin:0 4px 0 10px}
code{background:#f3f3f3;padding:1px 4px}tr.bad td{background:#fdd}.small{color:#666;font-size:12px}
</style></head><body>
<h1>Quorum chaos run <span class="verdict">${pass ? 'PASS' : 'FAIL'}</span></h1>
<p>Seed <b>${escapeHtml(f.seed)}</b>, ${escapeHtml(f.replicas)} replicas on ${escapeHtml(f.hosts)}, ${escapeHtml(f.workers)} client workers, ${escapeHtml(f.durationSeconds)} s of faults, started ${escapeHtml(r.startedAt)}.<br>
Replay: <code>${escapeHtml(r.replay)}</code></p>
${r.problems.length ? `<p><b>Problems:</b></p><ul>${r.problems.map((p) => `<li>${escapeHtml(p)}</li>`).join('')}</ul>` : ''}
${r.notes.length ? `<ul class="small">${r.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>` : ''}
${r.kept ? `<p>Data folders, replica logs and the history were kept in <code>${escapeHtml(r.kept)}</code>.</p>` : ''}
<h2>Timeline</h2>
<p class="small">Faults: ${legend}. Hover for details.</p>
${svg}
<h2>Figures</h2>
<div class="grid"><table>${figRows}</table><table><tr><th colspan="2"><b>faults injected</b></th></tr>${faultCounts}</table></div>
<h2>Refusals and unknown outcomes</h2>
<table><tr><th>outcome:code</th><th>operations</th></tr>${Object.entries(r.errorsByCode).sort((a, b) => b[1] - a[1]).map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td>${v}</td></tr>`).join('') || '<tr><td colspan="2">none</td></tr>'}</table>
<p class="small">fail = a definite refusal that changed nothing (e.g. NOT_FOUND for a message that does not exist, or any error of a read-only
operation); unknown = a write whose outcome the client could not learn before giving up (it may have been applied, once).</p>
<h2>Checker</h2>
<p>Every acknowledged message is stored exactly once and read exactly once by its recipient (${escapeHtml(r.figures.groupMessages)} group
messages: by every member but the sender, each member in the group's order); each sender's messages keep their order;
every acknowledged edit (${escapeHtml(r.figures.edits)}) is the text every replica stores unless a later edit replaced it, and no text
comes back after another replaced it (${escapeHtml(r.check.editViolations)} edit violations); an operation with an unknown outcome is applied once or not at all (${escapeHtml(r.check.unknownApplied)} applied,
${escapeHtml(r.check.unknownNotApplied)} not); no read misses a write acknowledged before it began; message times follow the real
time of their sends and rise along the log (${escapeHtml(r.check.clockViolations)} out of bounds); at most one leader per term;
all replicas end with the same state hash.</p>
${violations}
<h2>Faults</h2>
<table><tr><th>start s</th><th>healed s</th><th>kind</th><th>variant</th><th>targets</th><th>note</th></tr>${faultRows}</table>
<h2>Terms</h2>
<table><tr><th>term</th><th>leader(s) reported</th><th>first seen s</th><th>last seen s</th></tr>${termRows}</table>
</body></html>
`;
}

function niceStep(seconds: number): number {
  for (const s of [1, 2, 5, 10, 15, 30, 60, 120, 300, 600]) if (seconds / s <= 20) return s;
  return 1200;
}
