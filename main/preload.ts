/**
 * The only bridge between the sandboxed page and main: `window.quorum` with invoke (listed channels only) and on
 * (listed events only). No Node, no ipcRenderer, no event objects cross into the page. Inputs are validated in main.
 * Bundled to one CommonJS file (sandboxed preloads cannot load other modules).
 * Keep these lists equal to main/ipc-contract.ts (a unit test checks).
 */
import { contextBridge, ipcRenderer } from 'electron';

export const PRELOAD_INVOKE_CHANNELS = [
  'app:info',
  'app:setLaunchAtLogin',
  'replica:getStatus',
  'replica:setConfig',
  'replica:chooseDataDir',
  'replica:retry',
  'team:planJoin',
  'team:planCreate',
  'team:join',
  'team:create',
  'team:copyInvite',
  'team:discover',
  'cluster:change',
  'cluster:transfer',
  'login:keep',
  'login:kept',
  'login:forget',
  'unread:set',
  'notify:message',
] as const;
export const PRELOAD_EVENT_CHANNELS = ['replica:status', 'nav:conversation'] as const;

const invokeAllowed = new Set<string>(PRELOAD_INVOKE_CHANNELS);
const eventAllowed = new Set<string>(PRELOAD_EVENT_CHANNELS);

const api = {
  invoke(channel: string, arg?: unknown): Promise<unknown> {
    if (!invokeAllowed.has(channel)) return Promise.resolve({ ok: false, error: { code: 'FORBIDDEN', message: `no channel ${channel}` } });
    return arg === undefined ? ipcRenderer.invoke(channel) : ipcRenderer.invoke(channel, arg);
  },
  on(channel: string, listener: (payload: unknown) => void): () => void {
    if (!eventAllowed.has(channel) || typeof listener !== 'function') return () => {};
    const wrapped = (_event: unknown, payload: unknown) => listener(payload);
    ipcRenderer.on(channel, wrapped);
    return () => {
      ipcRenderer.removeListener(channel, wrapped);
    };
  },
};

if (typeof contextBridge?.exposeInMainWorld === 'function') contextBridge.exposeInMainWorld('quorum', api);
