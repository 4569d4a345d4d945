/** Plain-text tables for terminals: the `status` command and the benchmark's and chaos runs' reports. */

type Cell = string | number | boolean | null | undefined;

export interface TextTableOptions {
  /** Alignment per column; columns without one are left-aligned. Right-align numbers so their digits line up. */
  align?: ('left' | 'right')[];
  /** A line of dashes under the header. */
  rule?: boolean;
}

/** Columns two spaces apart, each as wide as its widest cell; null and undefined print as "-", booleans as yes/no. */
export function textTable(headers: string[], rows: Cell[][], options: TextTableOptions = {}): string {
  const text = (cell: Cell): string => (cell === null || cell === undefined ? '-' : typeof cell === 'boolean' ? (cell ? 'yes' : 'no') : String(cell));
  const cells = rows.map((row) => headers.map((_, i) => text(row[i])));
  const widths = headers.map((header, i) => Math.max(header.length, ...cells.map((row) => row[i].length)));
  const line = (row: string[]) =>
    row
      .map((cell, i) => (options.align?.[i] === 'right' ? cell.padStart(widths[i]) : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  const lines = [line(headers)];
  if (options.rule) lines.push(widths.map((width) => '-'.repeat(width)).join('  '));
  for (const row of cells) lines.push(line(row));
  return lines.join('\n');
}
