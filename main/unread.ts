/**
 * The unread count outside the window: OS badge (dock / launcher), tray tooltip and (macOS) tray title, and on Windows
 * an overlay icon on the taskbar button (Signal does this; setBadgeCount shows nothing there), described for screen
 * readers with the count.
 */
export interface BadgeApp {
  setBadgeCount(count?: number): boolean;
}
export interface TrayLike {
  setToolTip(toolTip: string): void;
  setTitle?(title: string): void;
  setImage?(image: unknown): void;
  isDestroyed?(): boolean;
}

/** The part of a BrowserWindow the Windows taskbar overlay uses (the window may be closed and re-created). */
export interface OverlayWindow {
  setOverlayIcon(icon: unknown, description: string): void;
  isDestroyed(): boolean;
}

export class UnreadIndicator {
  private count = 0;
  constructor(
    private readonly app: BadgeApp,
    private readonly tray: TrayLike | null,
    private readonly opts: { platform: string; icons?: { normal: unknown; unread: unknown }; overlay?: { window(): OverlayWindow | null; icon: unknown } },
  ) {}

  get value(): number {
    return this.count;
  }

  set(count: number): void {
    const n = Math.max(0, Math.floor(count));
    if (n === this.count) return;
    this.count = n;
    this.app.setBadgeCount(n);
    this.showOverlay();
    const tray = this.tray;
    if (!tray || tray.isDestroyed?.()) return;
    tray.setToolTip(n === 0 ? 'Quorum' : `Quorum — ${n} unread ${n === 1 ? 'message' : 'messages'}`);
    if (this.opts.platform === 'darwin') tray.setTitle?.(n === 0 ? '' : String(n > 99 ? '99+' : n));
    if (this.opts.icons) tray.setImage?.(n === 0 ? this.opts.icons.normal : this.opts.icons.unread);
  }

  /** Windows: the taskbar overlay for the current count (also for a window made again after it was closed). */
  showOverlay(): void {
    const overlay = this.opts.overlay;
    if (this.opts.platform !== 'win32' || !overlay) return;
    const win = overlay.window();
    if (!win || win.isDestroyed()) return;
    const n = this.count;
    win.setOverlayIcon(n === 0 ? null : overlay.icon, n === 0 ? '' : `${n} unread ${n === 1 ? 'message' : 'messages'}`);
  }
}
