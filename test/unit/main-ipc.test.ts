import { describe, expect, it, vi } from 'vitest';
import { registerIpcHandlers, validateInvoke, type InvokeHandlers, type InvokeEventLike } from '../../main/ipc-handlers.js';
import { INVOKE_CHANNELS, IPC_EVENTS } from '../../main/ipc-contract.js';
import { silentLog } from '../helpers/main-fakes.js';

vi.mock('electron', () => ({
  contextBridge: { exposeInMainWorld: vi.fn() },
  ipcRenderer: { invoke: vi.fn(async () => ({ ok: true, result: null })), on: vi.fn(), removeListener: vi.fn() },
}));

const trusted: InvokeEventLike = { senderFrame: { url: 'app://quorum/index.html' }, sender: 'main-window' };

function setup() {
  const registered = new Map<string, (event: InvokeEventLike, ...args: unknown[]) => unknown>();
  const calls: [string, unknown][] = [];
  const handler = (name: string) => (arg: unknown) => {
    calls.push([name, arg]);
    return null;
  };
  const handlers = Object.fromEntries(INVOKE_CHANNELS.map((c) => [c, handler(c)])) as unknown as InvokeHandlers;
  handlers['team:copyInvite'] = () => {
    throw Object.assign(new Error('the local replica is not running'), { code: 'UNAVAILABLE' });
  };
  handlers['app:info'] = () => {
    throw new TypeError('boom');
  };
  registerIpcHandlers({ handle: (ch, l) => registered.set(ch, l) }, handlers, {
    isTrustedSender: (e) => e.sender === 'main-window' && e.senderFrame?.url.startsWith('app://quorum/') === true,
    log: silentLog,
  });
  const invoke = (ch: string, event: InvokeEventLike, ...args: unknown[]) => registered.get(ch)!(event, ...args);
  return { registered, calls, invoke };
}

describe('IPC validation in main', () => {
  it('registers exactly the listed channels', () => {
    const { registered } = setup();
    expect([...registered.keys()].sort()).toEqual([...INVOKE_CHANNELS].sort());
  });

  it('passes valid input to the handler', async () => {
    const { invoke, calls } = setup();
    expect(await invoke('unread:set', trusted, { count: 3 })).toEqual({ ok: true, result: null });
    expect(await invoke('replica:setConfig', trusted, { enabled: true, dataDir: '/home/a/q', port: 7420 })).toEqual({ ok: true, result: null });
    expect(calls).toEqual([
      ['unread:set', { count: 3 }],
      // Settings of a version before autopilot: the replica's defaults are filled in.
      ['replica:setConfig', { enabled: true, dataDir: '/home/a/q', port: 7420, autopilot: { enabled: true, voters: 5, stabilizeSeconds: 10, deadAfterSeconds: 300 } }],
    ]);
  });

  it.each([
    ['unread:set', [{ count: -1 }]],
    ['unread:set', [{ count: 1.5 }]],
    ['unread:set', [{ count: '3' }]],
    ['unread:set', [{ count: 3, extra: true }]],
    ['unread:set', []],
    ['replica:setConfig', [{ enabled: true, dataDir: '', port: 7420 }]],
    ['replica:setConfig', [{ enabled: true, dataDir: '/x', port: 70000 }]],
    ['replica:setConfig', [{ enabled: 'yes', dataDir: '/x', port: 1 }]],
    ['replica:setConfig', [{ enabled: true, dataDir: 'a\0b', port: 1 }]],
    ['team:join', [{ inviteCode: 'short' }]],
    ['team:join', [{ inviteCode: 'quorum1 <script>alert(1)</script>' }]],
    ['team:planJoin', [{ inviteCode: 'x'.repeat(5000) }]],
    ['team:discover', [{ timeoutSeconds: 0 }]],
    ['team:discover', [{ timeoutSeconds: 3600 }]],
    ['replica:setConfig', [{ enabled: true, dataDir: '/x', port: 1, autopilot: { enabled: true, voters: 4, stabilizeSeconds: 10, deadAfterSeconds: 300 } }]],
    ['replica:setConfig', [{ enabled: true, dataDir: '/x', port: 1, autopilot: { enabled: true, voters: 5, stabilizeSeconds: 0, deadAfterSeconds: 300 } }]],
    ['replica:setConfig', [{ enabled: true, dataDir: '/x', port: 1, autopilot: { enabled: true, voters: 5, stabilizeSeconds: 10 } }]],
    ['login:keep', [{ token: 'short', user: 'ann' }]],
    ['login:keep', [{ token: 'a b c d e f g h i j k l m n o p', user: 'ann' }]],
    ['login:keep', [{ token: 'x'.repeat(43) }]],
    ['login:keep', [{ token: 'x'.repeat(43), user: '../ann' }]],
    ['cluster:transfer', [{ to: '../x' }]],
    ['notify:message', [{ conversation: 'bob', from: 'bob', text: '' }]],
    ['notify:message', [{ conversation: '../../etc', from: 'bob', text: 'hi' }]],
    ['app:info', [{ anything: 1 }]],
    ['unread:set', [{ count: 1 }, { count: 2 }]],
  ])('%s refuses %j with INVALID and never calls the handler', async (channel, args) => {
    const { invoke, calls } = setup();
    const r = (await invoke(channel, trusted, ...args)) as { ok: boolean; error?: { code: string; message: string } };
    expect(r.ok).toBe(false);
    expect(r.error?.code).toBe('INVALID');
    expect(r.error?.message.length).toBeGreaterThan(0);
    expect(calls).toEqual([]);
  });

  it('refuses frames that are not our window', async () => {
    const { invoke, calls } = setup();
    const r = await invoke('unread:set', { senderFrame: { url: 'https://evil.example/' }, sender: 'main-window' }, { count: 1 });
    expect(r).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(await invoke('unread:set', { senderFrame: { url: 'app://quorum/x' }, sender: 'other' }, { count: 1 })).toMatchObject({ ok: false });
    expect(calls).toEqual([]);
  });

  it('returns a handler refusal with its code, and an unexpected throw as INTERNAL', async () => {
    const { invoke } = setup();
    expect(await invoke('team:copyInvite', trusted)).toEqual({ ok: false, error: { code: 'UNAVAILABLE', message: 'the local replica is not running' } });
    expect(await invoke('app:info', trusted)).toMatchObject({ ok: false, error: { code: 'INTERNAL' } });
  });

  it('validateInvoke refuses unknown channels', () => {
    expect(validateInvoke('fs:readFile', [{ path: '/etc/passwd' }])).toMatchObject({ ok: false });
    expect(validateInvoke('__proto__', [])).toMatchObject({ ok: false });
  });
});

describe('preload', () => {
  it('lists exactly the channels of main/ipc-contract.ts and forwards only those', async () => {
    const electron = await import('electron');
    const preload = await import('../../main/preload.js');
    expect([...preload.PRELOAD_INVOKE_CHANNELS].sort()).toEqual([...INVOKE_CHANNELS].sort());
    expect([...preload.PRELOAD_EVENT_CHANNELS].sort()).toEqual([...IPC_EVENTS].sort());
    const expose = electron.contextBridge.exposeInMainWorld as unknown as ReturnType<typeof vi.fn>;
    expect(expose).toHaveBeenCalledTimes(1);
    const [name, api] = expose.mock.calls[0] as [string, { invoke(c: string, a?: unknown): Promise<unknown>; on(c: string, l: () => void): () => void }];
    expect(name).toBe('quorum');
    expect(Object.keys(api).sort()).toEqual(['invoke', 'on']);
    expect(await api.invoke('shell:openExternal', 'file:///etc')).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(electron.ipcRenderer.invoke).not.toHaveBeenCalled();
    await api.invoke('unread:set', { count: 2 });
    expect(electron.ipcRenderer.invoke).toHaveBeenCalledWith('unread:set', { count: 2 });
    api.on('some:other', () => {});
    expect(electron.ipcRenderer.on).not.toHaveBeenCalled();
    const off = api.on('replica:status', () => {});
    expect(electron.ipcRenderer.on).toHaveBeenCalledTimes(1);
    off();
    expect(electron.ipcRenderer.removeListener).toHaveBeenCalledTimes(1);
  });
});
