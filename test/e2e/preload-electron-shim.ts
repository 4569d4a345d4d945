/**
 * The `electron` module as main/preload.ts sees it, for running the real preload in a plain Chromium page
 * (test/e2e/desktop-window.ts bundles the preload with this in place of electron). Only the edge is replaced:
 * ipcRenderer.invoke goes to a Playwright binding that runs the desktop's registered IPC handlers in the test
 * process, and events main sends (webContents.send) arrive through deliver(). contextBridge puts the API on window as
 * Electron's does (minus the isolated world: a plain page has only one).
 */
type Listener = (event: unknown, payload: unknown) => void;

interface Bridge {
  /** Playwright binding (page.exposeBinding): the desktop's ipcMain handler for this channel, its envelope back. */
  __quorumIpcInvoke?: (channel: string, args: unknown[]) => Promise<unknown>;
  /** Called by the test for main's webContents.send(channel, payload). */
  __quorumIpcDeliver?: (channel: string, payload: unknown) => void;
}

const bridge = globalThis as unknown as Bridge & Record<string, unknown>;
const listeners = new Map<string, Set<Listener>>();

bridge.__quorumIpcDeliver = (channel, payload) => {
  for (const l of listeners.get(channel) ?? []) l({}, payload);
};

export const ipcRenderer = {
  invoke(channel: string, ...args: unknown[]): Promise<unknown> {
    const invoke = bridge.__quorumIpcInvoke;
    if (!invoke) return Promise.reject(new Error('no IPC bridge in this page'));
    return invoke(channel, args);
  },
  on(channel: string, listener: Listener): void {
    let set = listeners.get(channel);
    if (!set) listeners.set(channel, (set = new Set()));
    set.add(listener);
  },
  removeListener(channel: string, listener: Listener): void {
    listeners.get(channel)?.delete(listener);
  },
};

export const contextBridge = {
  exposeInMainWorld(key: string, api: unknown): void {
    bridge[key] = Object.freeze(api);
  },
};
