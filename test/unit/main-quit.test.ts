import { describe, expect, it } from 'vitest';
import { installQuitHandler, type QuitHost } from '../../main/quit.js';
import { silentLog } from '../helpers/main-fakes.js';
import { settled } from '../helpers/settled.js';

function setup(leader: boolean, transferResult: Promise<boolean> = Promise.resolve(true)) {
  const events: string[] = [];
  let beforeQuit: ((e: { preventDefault(): void }) => void) | null = null;
  const app = {
    on: (_: 'before-quit', l: (e: { preventDefault(): void }) => void) => {
      beforeQuit = l;
    },
    quit: () => {
      events.push('app.quit');
      fire();
    },
  };
  const fire = () => {
    let prevented = false;
    beforeQuit!({ preventDefault: () => (prevented = true) });
    events.push(prevented ? 'before-quit held' : 'before-quit passed');
  };
  const host: QuitHost = {
    isLeader: () => leader,
    transferLeadership: async (ms) => {
      events.push(`transfer(${ms})`);
      return transferResult;
    },
    shutdown: async () => {
      events.push('stop');
    },
  };
  const state = installQuitHandler(app, host, silentLog, { transferTimeoutMs: 3000 });
  return { events, fire, state };
}

describe('quitting', () => {
  it('when this machine leads: transfer leadership, then stop the replica, then quit', async () => {
    const { events, fire, state } = setup(true);
    fire();
    await settled();
    expect(events).toEqual(['transfer(3000)', 'before-quit held', 'stop', 'app.quit', 'before-quit passed']);
    expect(state.phase).toBe('done');
  });

  it('when it follows: no transfer, stop then quit', async () => {
    const { events, fire } = setup(false);
    fire();
    await settled();
    expect(events).toEqual(['stop', 'before-quit held', 'app.quit', 'before-quit passed']);
  });

  it('a failed transfer still stops and quits', async () => {
    const { events, fire } = setup(true, Promise.resolve(false));
    fire();
    await settled();
    expect(events.filter((e) => !e.startsWith('before'))).toEqual(['transfer(3000)', 'stop', 'app.quit']);
  });

  it('a second quit request while shutting down neither transfers twice nor quits early', async () => {
    let release!: (v: boolean) => void;
    const { events, fire } = setup(true, new Promise<boolean>((r) => (release = r)));
    fire();
    fire();
    await settled();
    expect(events).toEqual(['transfer(3000)', 'before-quit held', 'before-quit held']);
    release(true);
    await settled();
    expect(events.slice(3)).toEqual(['stop', 'app.quit', 'before-quit passed']);
  });
});
