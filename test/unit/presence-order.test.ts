// The order a watcher learns presence in, through the production path: RequestHandler (requests.ts) on a real chat
// state machine, ClientEndpoint sending answers and pushes, Presence. A `presence` answer is computed when the watch
// begins and sent a few promise steps later; a login that finishes in those steps (its read barrier settles in the same
// turn as the watch's, as one ReadIndex round answers both) must not reach the watcher as a push ahead of that answer:
// the client takes the later frame for the newer one, and would show the person offline until they next change.
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ClientEndpoint } from '../../replica/net/client-endpoint.js';
import type { ApplyOutcome } from '../../replica/chat/state-machine.js';
import { RequestHandler } from '../../replica/node/requests.js';
import { Presence } from '../../replica/node/presence.js';
import { Harness } from '../helpers/chat-harness.js';
import { harnessRequestContext } from '../helpers/harness-requests.js';
import { FakeWs } from '../helpers/fake-ws.js';

const harnesses: Harness[] = [];
afterEach(() => {
  for (const h of harnesses.splice(0)) h.dispose();
});

const turn = () => new Promise((r) => setImmediate(r));

function setup() {
  const h = new Harness();
  harnesses.push(h);
  /** While set, read barriers wait for it (one ReadIndex round that answers every barrier asked meanwhile). */
  let round: { promise: Promise<number>; settle: () => void } | null = null;
  const presence: Presence = new Presence((id) => endpoint.connectionsOf(id));
  const context = harnessRequestContext(h, {
    driver: {
      isLeader: true,
      propose: (data: string): Promise<ApplyOutcome> => Promise.resolve(h.sm.applyEntries([h.raw(data)])[0]),
      readBarrier: () => round?.promise ?? Promise.resolve(h.sm.applied().index),
    },
    presence,
  });
  const handler = new RequestHandler(context);
  const endpoint: ClientEndpoint = new ClientEndpoint({
    log: pino({ level: 'silent' }),
    handler,
    onPresence: (id, username, online) => presence.changed(id, username, online),
  });
  let seq = 0;
  let nextId = 1;
  const connect = () => {
    const ws = new FakeWs();
    endpoint.accept(ws as never, '127.0.0.1');
    return ws;
  };
  /** Sends a request on `ws`; resolves with its answer once one arrives. */
  const ask = async (ws: FakeWs, op: string, fields: Record<string, unknown>, write: boolean) => {
    const id = nextId++;
    ws.frame(JSON.stringify({ id, op, ...fields, ...(write ? { session: { clientId: 'c-presence-order', seq: ++seq } } : {}) }));
    // Password hashing runs on libuv's pool: poll, with a bound.
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
      const answer = ws.sent.find((f) => f.type === 'response' && f.id === id);
      if (answer) return answer;
      await new Promise((r) => setTimeout(r, 2));
    }
    throw new Error(`no answer to ${op}: ${JSON.stringify(ws.sent.slice(-3))}`);
  };
  const holdBarriers = () => {
    let settle!: () => void;
    const promise = new Promise<number>((resolve) => (settle = () => resolve(h.sm.applied().index)));
    round = { promise, settle };
    return () => {
      round = null;
      settle();
    };
  };
  return { connect, ask, holdBarriers };
}

describe('presence answers and pushes', () => {
  it('a login finishing in the turn a watch begins reaches the watcher after its answer, so the last word is "online"', async () => {
    const { connect, ask, holdBarriers } = setup();
    const ann = connect();
    for (const user of ['ann', 'cy']) expect((await ask(ann, 'signup', { username: user, password: `password-${user}` }, true)).ok).toBe(true);
    expect((await ask(ann, 'login', { username: 'ann', password: 'password-ann', token: 'a'.repeat(43) }, true)).ok).toBe(true);
    const cyFirst = connect();
    expect((await ask(cyFirst, 'login', { username: 'cy', password: 'password-cy', token: 'c'.repeat(43) }, true)).ok).toBe(true);
    cyFirst.close(1000, 'gone');
    await turn();

    // ann watches cy while cy's client resumes on a new connection; one barrier round answers both.
    const cy = connect();
    const release = holdBarriers();
    const watching = ask(ann, 'presence', { users: ['cy'] }, false);
    const resuming = ask(cy, 'resume', { token: 'c'.repeat(43) }, false);
    await turn();
    release();
    expect((await resuming).ok).toBe(true);
    expect((await watching).ok).toBe(true);
    await turn();

    // What ann heard of cy, in the order it arrived: the last says online.
    const heard = ann.sent
      .filter((f) => (f.type === 'push' && f.event === 'presence') || (f.type === 'response' && f.result?.presence))
      .flatMap((f) => (f.type === 'push' ? [{ via: 'push', online: f.online }] : f.result.presence.map((e: { online: boolean }) => ({ via: 'answer', online: e.online }))));
    expect(heard.at(-1)).toEqual({ via: expect.any(String), online: true });
    expect(heard[0].via).toBe('answer');
  });
});
