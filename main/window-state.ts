/** The main window's remembered size and place: JSON in the userData folder, validated on load. */
import * as z from 'zod';

export const WindowStateSchema = z.object({
  width: z.number().int().min(200).max(20_000),
  height: z.number().int().min(200).max(20_000),
  x: z.number().int().min(-100_000).max(100_000).optional(),
  y: z.number().int().min(-100_000).max(100_000).optional(),
  maximized: z.boolean().optional(),
});
export type WindowState = z.infer<typeof WindowStateSchema>;

export const DEFAULT_WINDOW_STATE: WindowState = { width: 1100, height: 760 };
export const MIN_WIDTH = 480;
export const MIN_HEIGHT = 400;

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface FileAccess {
  readFile(path: string): string | null;
  writeFile(path: string, text: string): void;
}

/** Parses saved state; anything unreadable falls back to the default. Drops a position no display shows. */
export function parseWindowState(text: string | null, workAreas: Rect[]): WindowState {
  if (!text) return { ...DEFAULT_WINDOW_STATE };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ...DEFAULT_WINDOW_STATE };
  }
  const r = WindowStateSchema.safeParse(raw);
  if (!r.success) return { ...DEFAULT_WINDOW_STATE };
  const s: WindowState = { ...r.data, width: Math.max(MIN_WIDTH, r.data.width), height: Math.max(MIN_HEIGHT, r.data.height) };
  if (s.x === undefined || s.y === undefined || !visibleOnSomeDisplay(s as Required<WindowState>, workAreas)) {
    delete s.x;
    delete s.y;
  }
  return s;
}

/** At least a 100×50 corner of the title bar area must be on some display. */
function visibleOnSomeDisplay(s: { x: number; y: number; width: number }, areas: Rect[]): boolean {
  return areas.some((a) => s.x + 100 > a.x && s.x < a.x + a.width - 100 && s.y >= a.y - 10 && s.y < a.y + a.height - 50);
}

export function loadWindowState(file: string, fs: FileAccess, workAreas: Rect[]): WindowState {
  return parseWindowState(fs.readFile(file), workAreas);
}

export function saveWindowState(file: string, fs: FileAccess, s: WindowState): void {
  fs.writeFile(file, JSON.stringify(s));
}
