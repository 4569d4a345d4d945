/** The unread count outside the window: OS badge (dock / launcher), tray tooltip and (macOS) tray title. */
export interface BadgeApp {
  setBadgeCount(count?: number): boolean;
}
export interface TrayLike {
  setToolTip(toolTip: string): void;
  setTitle?(title: string): void;
  setImage?(image: unknown): void;
  isDestroyed?(): boolean;
}

export class UnreadIndicator {
  private count = 0;
  constructor(
    private readonly app: BadgeApp,
    private readonly tray: TrayLike | null,
    private readonly opts: { platform: string; icons?: { normal: unknown; unread: unknown } },
  ) {}

  get value(): number {
    return this.count;
  }

  set(count: number): void {
    const n = Math.max(0, Math.floor(count));
    if (n === this.count) return;
    this.count = n;
    this.app.setBadgeCount(n);
    const tray = this.tray;
    if (!tray || tray.isDestroyed?.()) return;
    tray.setToolTip(n === 0 ? 'Quorum' : `Quorum — ${n} unread ${n === 1 ? 'message' : 'messages'}`);
    if (this.opts.platform === 'darwin') tray.setTitle?.(n === 0 ? '' : String(n > 99 ? '99+' : n));
    if (this.opts.icons) tray.setImage?.(n === 0 ? this.opts.icons.normal : this.opts.icons.unread);
  }
}
