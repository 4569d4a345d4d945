/**
 * One time-ordered digest of several machines' replica logs (pino JSON lines), for a multi-machine test that failed:
 * CI deletes its clone, so what the replicas said has to reach the test's own output. Each line: seconds since the
 * first entry, the machine, the level when above info, the message and its fields (shortened).
 */
import { existsSync, readFileSync } from 'node:fs';

const LEVELS: Record<number, string> = { 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const OMIT = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'replica']);

/** `files`: machine name → its log file, or its log lines as kept in memory. The last `lastLines` lines of the merged timeline. */
export function logTimeline(files: Record<string, string | string[]>, lastLines = 250): string {
  const entries: { time: number; text: string }[] = [];
  for (const [machine, file] of Object.entries(files)) {
    if (typeof file === 'string' && !existsSync(file)) continue;
    for (const line of typeof file === 'string' ? readFileSync(file, 'utf8').split('\n') : file.flatMap((l) => l.split('\n'))) {
      if (!line.trim()) continue;
      let e: Record<string, unknown>;
      try {
        e = JSON.parse(line) as Record<string, unknown>;
      } catch {
        entries.push({ time: Number.NaN, text: `${machine} ${line.slice(0, 300)}` });
        continue;
      }
      const fields = Object.fromEntries(Object.entries(e).filter(([k]) => !OMIT.has(k)));
      const extra = Object.keys(fields).length ? ` ${JSON.stringify(fields).slice(0, 300)}` : '';
      const level = LEVELS[e.level as number] ? ` ${LEVELS[e.level as number]}` : '';
      entries.push({ time: typeof e.time === 'number' ? e.time : Number.NaN, text: `${machine}${level} ${String(e.msg)}${extra}` });
    }
  }
  const timed = entries.filter((e) => !Number.isNaN(e.time)).sort((x, y) => x.time - y.time);
  const t0 = timed[0]?.time ?? 0;
  const lines = [...timed.map((e) => `${((e.time - t0) / 1000).toFixed(2).padStart(7)} ${e.text}`), ...entries.filter((e) => Number.isNaN(e.time)).map((e) => `      ? ${e.text}`)];
  const shown = lines.slice(-lastLines);
  return `${lines.length > shown.length ? `(${lines.length - shown.length} earlier lines left out)\n` : ''}${shown.join('\n')}`;
}

/** Prints the merged timeline with its heading: for a failing test's output (`onTestFailed` or a failed afterEach). */
export function printLogTimeline(files: Record<string, string | string[]>): void {
  console.log(`replica logs, merged:\n${logTimeline(files)}`);
}
