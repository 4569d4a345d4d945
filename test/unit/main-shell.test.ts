// The desktop conventions of main that need no replica: one instance, macOS activate, Windows' app user model id and
// session end, closing to the tray only where a tray is shown, the application menu and the right-click menu with
// spelling suggestions. Electron's app, window and webContents are faked at their event/method edge.
import { describe, expect, it } from 'vitest';
import { closeHidesToTray, installAppLifecycle, quitOnSessionEnd, type LifecycleApp } from '../../main/app-lifecycle.js';
import { appMenuTemplate, contextMenuTemplate, installContextMenu, type ContextMenuParams, type MenuItemSpec } from '../../main/menus.js';
import type { WindowLike } from '../../main/window.js';

function fakeApp(lock = true) {
  const calls: string[] = [];
  const listeners = new Map<string, () => void>();
  const app: LifecycleApp = {
    requestSingleInstanceLock: () => lock,
    setAppUserModelId: (id) => calls.push(`appUserModelId:${id}`),
    on: (event, l) => listeners.set(event, l),
    quit: () => calls.push('quit'),
  };
  return { app, calls, fire: (e: string) => listeners.get(e)!() };
}

function fakeWindow(calls: string[], state = { destroyed: false, minimized: false }) {
  return {
    isDestroyed: () => state.destroyed,
    isMinimized: () => state.minimized,
    restore: () => calls.push('restore'),
    show: () => calls.push('show'),
    focus: () => calls.push('focus'),
  } as unknown as WindowLike;
}

describe('app lifecycle', () => {
  it('a second instance quits at once; the first brings its window forward (restored from minimized)', () => {
    const second = fakeApp(false);
    expect(installAppLifecycle(second.app, { platform: 'linux', appId: 'org.quorum.chat', window: () => null, createWindow: () => {}, isReady: () => true })).toBe(false);
    expect(second.calls).toEqual(['quit']);

    const first = fakeApp(true);
    const calls: string[] = [];
    const win = fakeWindow(calls, { destroyed: false, minimized: true });
    expect(installAppLifecycle(first.app, { platform: 'linux', appId: 'org.quorum.chat', window: () => win, createWindow: () => calls.push('create'), isReady: () => true })).toBe(true);
    first.fire('second-instance');
    expect(calls).toEqual(['restore', 'show', 'focus']);
  });

  it('macOS: the app outlives its window; activate re-creates a closed window or shows the hidden one', () => {
    const { app, calls, fire } = fakeApp();
    const state = { destroyed: true, minimized: false };
    let win: WindowLike | null = fakeWindow(calls, state);
    installAppLifecycle(app, { platform: 'darwin', appId: 'org.quorum.chat', window: () => win, createWindow: () => calls.push('create'), isReady: () => true });
    fire('window-all-closed');
    expect(calls).toEqual([]); // no quit
    fire('activate');
    expect(calls).toEqual(['create']);
    state.destroyed = false;
    fire('activate');
    expect(calls).toEqual(['create', 'show', 'focus']);
    win = null;
    fire('second-instance');
    expect(calls.at(-1)).toBe('create');
    expect(calls).not.toContain('appUserModelId:org.quorum.chat');
  });

  it('before the app is ready, a second launch creates no window (the ready handler will)', () => {
    const { app, calls, fire } = fakeApp();
    installAppLifecycle(app, { platform: 'linux', appId: 'x', window: () => null, createWindow: () => calls.push('create'), isReady: () => false });
    fire('second-instance');
    expect(calls).toEqual([]);
  });

  it('Windows: sets the app user model id; closing the last window quits; the session end quits (hand-over path)', () => {
    const { app, calls, fire } = fakeApp();
    installAppLifecycle(app, { platform: 'win32', appId: 'org.quorum.chat', window: () => null, createWindow: () => {}, isReady: () => true });
    expect(calls).toEqual(['appUserModelId:org.quorum.chat']);
    fire('window-all-closed');
    expect(calls).toEqual(['appUserModelId:org.quorum.chat', 'quit']);
    let end: (() => void) | null = null;
    const quits: string[] = [];
    quitOnSessionEnd({ on: (_e, l) => (end = l) }, () => quits.push('quit'));
    end!();
    expect(quits).toEqual(['quit']);
  });

  it('closing hides to the tray only where a tray is shown (never on stock GNOME or macOS, or without a tray)', () => {
    expect(closeHidesToTray({ platform: 'win32', hasTray: true, desktop: undefined })).toBe(true);
    expect(closeHidesToTray({ platform: 'win32', hasTray: false, desktop: undefined })).toBe(false);
    expect(closeHidesToTray({ platform: 'darwin', hasTray: true, desktop: undefined })).toBe(false);
    expect(closeHidesToTray({ platform: 'linux', hasTray: true, desktop: 'GNOME' })).toBe(false);
    expect(closeHidesToTray({ platform: 'linux', hasTray: true, desktop: 'Pantheon' })).toBe(false);
    expect(closeHidesToTray({ platform: 'linux', hasTray: true, desktop: 'ubuntu:GNOME' })).toBe(true);
    expect(closeHidesToTray({ platform: 'linux', hasTray: true, desktop: 'KDE' })).toBe(true);
    expect(closeHidesToTray({ platform: 'linux', hasTray: true, desktop: 'XFCE' })).toBe(true);
    expect(closeHidesToTray({ platform: 'linux', hasTray: true, desktop: '' })).toBe(false);
    expect(closeHidesToTray({ platform: 'linux', hasTray: false, desktop: 'KDE' })).toBe(false);
  });
});

function roles(items: MenuItemSpec[] | undefined): string[] {
  return (items ?? []).map((i) => i.role ?? i.label ?? i.type ?? '?');
}

describe('application menu', () => {
  it('macOS: the app menu first, with about, hide and quit; Edit with the clipboard roles; Help opens the logs folder', () => {
    let opened = 0;
    const menu = appMenuTemplate({ platform: 'darwin', appName: 'Quorum', devTools: false, openLogsFolder: () => opened++ });
    expect(menu.map((m) => m.label)).toEqual(['Quorum', '&File', '&Edit', '&View', '&Window', '&Help']);
    expect(roles(menu[0].submenu)).toEqual(['about', 'separator', 'services', 'separator', 'hide', 'hideOthers', 'unhide', 'separator', 'quit']);
    expect(roles(menu[2].submenu)).toEqual(['undo', 'redo', 'separator', 'cut', 'copy', 'paste', 'pasteAndMatchStyle', 'delete', 'selectAll']);
    expect(roles(menu[3].submenu)).not.toContain('toggleDevTools');
    menu[5].submenu!.find((i) => i.label === 'Open logs folder')!.click!();
    expect(opened).toBe(1);
  });

  it('Windows and Linux: Quit in File, no app menu; developer tools only in development', () => {
    const menu = appMenuTemplate({ platform: 'linux', appName: 'Quorum', devTools: true, openLogsFolder: () => {} });
    expect(menu.map((m) => m.label)).toEqual(['&File', '&Edit', '&View', '&Window', '&Help']);
    expect(menu[0].submenu!.find((i) => i.role === 'quit')).toMatchObject({ label: 'Quit Quorum' });
    expect(roles(menu[1].submenu)).not.toContain('pasteAndMatchStyle');
    expect(roles(menu[2].submenu)).toContain('toggleDevTools');
    expect(roles(menu[4].submenu)).toEqual(['Open logs folder', 'separator', 'about']);
  });
});

const flags = { canCut: true, canCopy: true, canPaste: true, canSelectAll: true };
function params(over: Partial<ContextMenuParams>): ContextMenuParams {
  return { isEditable: false, selectionText: '', misspelledWord: '', dictionarySuggestions: [], editFlags: flags, ...over };
}

describe('right-click menu', () => {
  it('a misspelled word in the composer: suggestions replace it, "Add to dictionary" learns it, then cut/copy/paste', () => {
    const wcCalls: string[] = [];
    let listener: ((e: unknown, p: ContextMenuParams) => void) | null = null;
    const popups: MenuItemSpec[][] = [];
    installContextMenu(
      {
        on: (_e, l) => (listener = l),
        replaceMisspelling: (w) => wcCalls.push(`replace:${w}`),
        session: { addWordToSpellCheckerDictionary: (w) => (wcCalls.push(`learn:${w}`), true) },
      },
      (t) => popups.push(t),
    );
    listener!({}, params({ isEditable: true, misspelledWord: 'helo', dictionarySuggestions: ['hello', 'help', 'hero', 'halo', 'hell', 'helot'] }));
    const menu = popups[0];
    expect(menu.map((i) => i.label ?? i.role ?? i.type)).toEqual(['hello', 'help', 'hero', 'halo', 'hell', 'Add to dictionary', 'separator', 'cut', 'copy', 'paste', 'separator', 'selectAll']);
    menu[0].click!();
    menu[5].click!();
    expect(wcCalls).toEqual(['replace:hello', 'learn:helo']);
    // Plain text with nothing selected: no menu at all.
    listener!({}, params({}));
    expect(popups).toHaveLength(1);
  });

  it('says when there is no suggestion; disables what the page cannot do; selected text offers Copy', () => {
    const none = contextMenuTemplate(params({ isEditable: true, misspelledWord: 'qwzx', editFlags: { ...flags, canPaste: false, canCut: false } }), { replaceMisspelling: () => {}, addToDictionary: () => {} });
    expect(none[0]).toEqual({ label: 'No spelling suggestions', enabled: false });
    expect(none.find((i) => i.role === 'paste')).toMatchObject({ enabled: false });
    expect(none.find((i) => i.role === 'cut')).toMatchObject({ enabled: false });
    expect(contextMenuTemplate(params({ selectionText: 'some words' }), { replaceMisspelling: () => {}, addToDictionary: () => {} })).toEqual([{ role: 'copy', enabled: true }]);
  });
});
