import { describe, expect, it } from 'vitest';
import { UnreadIndicator } from '../../main/unread.js';
import { createNotifier, MAX_LIVE_NOTIFICATIONS, type NotificationCtor } from '../../main/notify.js';
import { createTray, type TrayElectron, type TrayMenuItem } from '../../main/tray.js';

function fakeTray() {
  const calls: string[] = [];
  return {
    calls,
    tray: {
      setToolTip: (t: string) => calls.push(`tooltip:${t}`),
      setTitle: (t: string) => calls.push(`title:${t}`),
      setImage: (i: unknown) => calls.push(`image:${String(i)}`),
    },
  };
}

describe('unread badge and tray', () => {
  it('sets the OS badge and tray tooltip and icon, only when the count changes', () => {
    const badge: number[] = [];
    const { tray, calls } = fakeTray();
    const u = new UnreadIndicator({ setBadgeCount: (n) => (badge.push(n ?? 0), true) }, tray, { platform: 'linux', icons: { normal: 'N', unread: 'U' } });
    u.set(3);
    u.set(3);
    u.set(1);
    u.set(0);
    expect(badge).toEqual([3, 1, 0]);
    expect(calls).toEqual([
      'tooltip:Quorum — 3 unread messages',
      'image:U',
      'tooltip:Quorum — 1 unread message',
      'image:U',
      'tooltip:Quorum',
      'image:N',
    ]);
  });

  it('shows the count as the tray title on macOS and works without a tray', () => {
    const { tray, calls } = fakeTray();
    new UnreadIndicator({ setBadgeCount: () => true }, tray, { platform: 'darwin' }).set(120);
    expect(calls).toContain('title:99+');
    const badge: number[] = [];
    new UnreadIndicator({ setBadgeCount: (n) => (badge.push(n ?? 0), true) }, null, { platform: 'win32' }).set(2);
    expect(badge).toEqual([2]);
  });
});

describe('Windows taskbar overlay', () => {
  it('shows the overlay icon with the count for screen readers, clears it at zero, and only on Windows', () => {
    const calls: [unknown, string][] = [];
    let win: { setOverlayIcon(i: unknown, d: string): void; isDestroyed(): boolean } | null = { setOverlayIcon: (i, d) => calls.push([i, d]), isDestroyed: () => false };
    const u = new UnreadIndicator({ setBadgeCount: () => true }, null, { platform: 'win32', overlay: { window: () => win, icon: 'DOT' } });
    u.set(2);
    u.set(1);
    u.set(0);
    expect(calls).toEqual([
      ['DOT', '2 unread messages'],
      ['DOT', '1 unread message'],
      [null, ''],
    ]);
    // No window (closed): nothing to draw on; a new window gets the count when it is shown.
    win = null;
    u.set(5);
    win = { setOverlayIcon: (i, d) => calls.push([i, d]), isDestroyed: () => false };
    u.showOverlay();
    expect(calls.at(-1)).toEqual(['DOT', '5 unread messages']);
    const mac: [unknown, string][] = [];
    new UnreadIndicator({ setBadgeCount: () => true }, null, { platform: 'darwin', overlay: { window: () => ({ setOverlayIcon: (i, d) => mac.push([i, d]), isDestroyed: () => false }), icon: 'DOT' } }).set(3);
    expect(mac).toEqual([]);
  });
});

describe('notifications', () => {
  function setup(focused: boolean, supported = true, platform = 'darwin') {
    const shown: { title: string; body: string; click?: () => void; closed: boolean }[] = [];
    class FakeNotification {
      static isSupported = () => supported;
      private rec: { title: string; body: string; click?: () => void; closed: boolean };
      constructor(o: { title: string; body: string }) {
        this.rec = { title: o.title, body: o.body, closed: false };
      }
      on(event: string, l: () => void) {
        if (event === 'click') this.rec.click = l;
        return this;
      }
      show() {
        shown.push(this.rec);
      }
      close() {
        this.rec.closed = true;
      }
    }
    const opened: string[] = [];
    const n = createNotifier({ Notification: FakeNotification as unknown as NotificationCtor, isFocused: () => focused, openConversation: (c) => opened.push(c), platform });
    return { n, shown, opened };
  }

  it('keeps at most MAX_LIVE_NOTIFICATIONS referenced over a long session, closing the oldest first', () => {
    const { n, shown } = setup(false);
    for (let i = 0; i < 1000; i++) n.message({ conversation: 'bob', from: 'bob', text: `m${i}` });
    expect(n.live).toBe(MAX_LIVE_NOTIFICATIONS);
    expect(shown.filter((x) => !x.closed).map((x) => x.body)).toEqual(Array.from({ length: MAX_LIVE_NOTIFICATIONS }, (_, i) => `m${1000 - MAX_LIVE_NOTIFICATIONS + i}`));
    // A click forgets the clicked one.
    shown.at(-1)!.click!();
    expect(n.live).toBe(MAX_LIVE_NOTIFICATIONS - 1);
  });

  it('escapes markup in the body on Linux (libnotify reads it as markup), not elsewhere', () => {
    const text = '<b>bold</b> & <a href="x">link</a>';
    const linux = setup(false, true, 'linux');
    linux.n.message({ conversation: 'bob', from: 'bob', text });
    expect(linux.shown[0].body).toBe('&lt;b&gt;bold&lt;/b&gt; &amp; &lt;a href=&quot;x&quot;&gt;link&lt;/a&gt;');
    const mac = setup(false, true, 'darwin');
    mac.n.message({ conversation: 'bob', from: 'bob', text });
    expect(mac.shown[0].body).toBe(text);
  });

  it('notifies while unfocused; a click opens the conversation', () => {
    const { n, shown, opened } = setup(false);
    expect(n.message({ conversation: 'bob', from: 'bob', text: 'x'.repeat(300) })).toBe(true);
    expect(shown[0].title).toBe('bob');
    expect(shown[0].body.length).toBe(200);
    shown[0].click!();
    expect(opened).toEqual(['bob']);
  });

  it('stays quiet while focused or where notifications are unsupported', () => {
    expect(setup(true).n.message({ conversation: 'bob', from: 'bob', text: 'hi' })).toBe(false);
    expect(setup(false, false).n.message({ conversation: 'bob', from: 'bob', text: 'hi' })).toBe(false);
  });
});

describe('tray icon', () => {
  function fakeElectron(fail = false) {
    const made: { tooltip?: string; menu?: TrayMenuItem[]; click?: () => void }[] = [];
    const electron: TrayElectron = {
      Tray: class {
        private readonly record: (typeof made)[number] = {};
        constructor() {
          if (fail) throw new Error('StatusNotifier unavailable');
          made.push(this.record);
        }
        setToolTip(text: string) {
          this.record.tooltip = text;
        }
        setContextMenu(menu: unknown) {
          this.record.menu = menu as TrayMenuItem[];
        }
        on(_event: 'click', listener: () => void) {
          this.record.click = listener;
        }
      },
      buildMenu: (template) => template,
    };
    return { electron, made };
  }

  it('opens the window on a click or "Open Quorum", quits on "Quit Quorum"', () => {
    const { electron, made } = fakeElectron();
    const actions: string[] = [];
    const tray = createTray(electron, { icon: 'I', open: () => actions.push('open'), quit: () => actions.push('quit'), log: { warn: () => {} } });
    expect(tray).not.toBeNull();
    expect(made[0].tooltip).toBe('Quorum');
    made[0].click!();
    made[0].menu!.find((item) => item.label === 'Open Quorum')!.click!();
    made[0].menu!.find((item) => item.label === 'Quit Quorum')!.click!();
    expect(actions).toEqual(['open', 'open', 'quit']);
  });

  it('is null, with a warning, on a desktop without a tray', () => {
    const warnings: string[] = [];
    const tray = createTray(fakeElectron(true).electron, { icon: 'I', open: () => {}, quit: () => {}, log: { warn: (_obj, msg) => warnings.push(msg ?? '') } });
    expect(tray).toBeNull();
    expect(warnings).toEqual(['no tray on this desktop']);
  });
});
