// The clock a leader stamps commands with: corrected by its peers' clocks (PeerClocks), caught up in steps after the
// cluster was down (RequestHandler), so one skewed replica neither stamps messages hours off nor expires sessions.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ClientConn } from '../../replica/net/client-endpoint.js';
import type { ApplyOutcome } from '../../replica/chat/state-machine.js';
import { MAX_CLOCK_STEP_MS } from '../../replica/chat/state-machine.js';
import { FRESH_MS, PeerClocks } from '../../replica/node/peer-clocks.js';
import { RequestHandler } from '../../replica/node/requests.js';
import type { ClientRequest } from '../../replica/protocol/client.js';
import { Harness } from '../helpers/chat-harness.js';
import { harnessRequestContext } from '../helpers/harness-requests.js';
import { encodeCommand } from '../../replica/chat/commands.js';
import { SUPPORTED_VERSION } from '../../replica/chat/versions.js';

const HOUR = 3600 * 1000;
const DAY = 24 * HOUR;

describe('PeerClocks', () => {
  let wall = 0;
  let mono = 0;
  const clocks = () => new PeerClocks(() => wall, () => mono);

  beforeEach(() => {
    wall = 1_700_000_000_000;
    mono = 1000;
  });

  it('a leader whose clock is a day fast stamps the time its peers agree on', () => {
    const c = clocks();
    c.observe('r2', wall - DAY + 3);
    c.observe('r3', wall - DAY - 2);
    expect(c.now()).toBe(wall - DAY + 3);
  });

  it('one follower whose clock is hours off does not move the leader', () => {
    const c = clocks();
    c.observe('r2', wall + 5 * HOUR);
    c.observe('r3', wall - 1);
    expect(c.now()).toBe(wall);
  });

  it('with one peer heard, the earlier of the two clocks is taken', () => {
    const fast = clocks();
    fast.observe('r2', wall - 5 * HOUR);
    expect(fast.now()).toBe(wall - 5 * HOUR);
    const slow = clocks();
    slow.observe('r2', wall + 5 * HOUR);
    expect(slow.now()).toBe(wall);
  });

  it('forgets peers not heard for FRESH_MS, and never goes back', () => {
    const c = clocks();
    c.observe('r2', wall - HOUR);
    c.observe('r3', wall - HOUR);
    expect(c.now()).toBe(wall - HOUR);
    mono += FRESH_MS + 1;
    expect(c.offset()).toBe(0);
    const returned = wall - HOUR;
    wall -= 10 * HOUR; // the system clock is set back
    expect(c.now()).toBe(returned);
  });
});

/** A leader's request handler over a real state machine: proposals apply at once, in order. */
class Leader {
  readonly h = new Harness();
  readonly applied: string[] = [];
  readonly handler: RequestHandler;
  clock: () => number = () => this.h.at;
  private nextRequest = 1;
  private readonly seqs = new Map<string, number>();
  readonly conn: ClientConn = {
    connId: 1,
    remote: '127.0.0.1',
    nonce: 'n'.repeat(64),
    closed: false,
    adminScope: null,
    account: null,
    push: () => {},
    close: () => {},
  };

  constructor(clusterVersion = SUPPORTED_VERSION) {
    if (clusterVersion > 1) this.h.raiseClusterVersion(clusterVersion);
    const propose = (data: string): Promise<ApplyOutcome> => {
      this.applied.push(data);
      return Promise.resolve(this.h.sm.applyEntries([this.h.raw(data)])[0]);
    };
    const context = harnessRequestContext(this.h, {
      driver: { isLeader: true, propose, readBarrier: () => Promise.resolve(this.h.sm.applied().index) },
      now: () => this.clock(),
    });
    this.handler = new RequestHandler(context);
  }

  /** A write of client `clientId` (each client's seqs count from 1). */
  frame(op: string, fields: Record<string, unknown>, clientId = 'client-leader-test', startIndex?: number): ClientRequest {
    const seq = (this.seqs.get(clientId) ?? 0) + 1;
    this.seqs.set(clientId, seq);
    const session = { clientId, seq, ...(startIndex === undefined ? {} : { startIndex }) };
    return { id: this.nextRequest++, op, ...fields, session } as unknown as ClientRequest;
  }

  send<T>(req: ClientRequest): Promise<T> {
    return this.handler.handle(this.conn, req) as Promise<T>;
  }

  request<T>(op: string, fields: Record<string, unknown>, clientId?: string, startIndex?: number): Promise<T> {
    return this.send<T>(this.frame(op, fields, clientId, startIndex));
  }

  async loggedIn(): Promise<void> {
    await this.request('signup', { username: 'ann', password: 'password-ann' });
    await this.request('signup', { username: 'bob', password: 'password-bob' });
    await this.request('login', { username: 'ann', password: 'password-ann', token: 't'.repeat(43) });
  }
}

describe('the leader stamps writes', () => {
  let leader: Leader;
  beforeEach(() => {
    leader = new Leader();
  });
  afterEach(() => leader.h.dispose());

  it('after the cluster was down for ten hours, a write applies at its own time (clock commands in steps before it)', async () => {
    await leader.loggedIn();
    const before = leader.h.sm.appliedClock();
    const later = before + 10 * HOUR + 5000;
    leader.clock = () => later;
    const sent = await leader.request<{ id: number; sentAt: number }>('send', { to: 'bob', text: 'morning' });
    expect(sent.sentAt).toBe(later);
    const clocks = leader.applied.filter((d) => JSON.parse(d).kind === 'clock');
    expect(clocks.length).toBe(10);
    for (const [i, data] of clocks.entries()) expect(JSON.parse(data).at).toBe(before + (i + 1) * MAX_CLOCK_STEP_MS);
    // No more once the clock caught up.
    leader.clock = () => later + 1000;
    await leader.request('send', { to: 'bob', text: 'again' });
    expect(leader.applied.filter((d) => JSON.parse(d).kind === 'clock').length).toBe(10);
  });

  it('under cluster version 1 it writes by the older rules: sessions unstamped, no clock commands', async () => {
    const old = new Leader(1);
    try {
      await old.loggedIn();
      const before = old.h.sm.appliedClock();
      old.clock = () => before + 10 * HOUR;
      const sent = await old.send<{ sentAt: number }>(old.frame('send', { to: 'bob', text: 'hi' }, 'client-a', 1));
      expect(sent.sentAt).toBe(before + 10 * HOUR);
      const data = JSON.parse(old.applied[old.applied.length - 1]);
      expect(data.session).toEqual({ clientId: expect.any(String), seq: 1 });
      expect(data.v).toBeUndefined();
      expect(old.applied.some((d) => JSON.parse(d).kind === 'clock')).toBe(false);
    } finally {
      old.h.dispose();
    }
  });

  it('a leader whose clock is a day fast, corrected by its peers, neither stamps the future nor expires a session', async () => {
    await leader.loggedIn();
    const real = leader.h.sm.appliedClock();
    const clocks = new PeerClocks(() => real + DAY + HOUR, () => 0);
    clocks.observe('r2', real);
    clocks.observe('r3', real - 1);
    leader.clock = () => clocks.now();
    const frame = leader.frame('send', { to: 'bob', text: 'one' }, 'client-a', 1);
    const first = await leader.send<{ id: number; sentAt: number }>(frame);
    expect(first.sentAt).toBe(real);
    // Another client's writes up to the expiry check at index 1000; then the first write is retried.
    while (leader.h.sm.applied().index < 1000) await leader.request('delivered', { upTo: 1 }, 'client-b', 1);
    expect(leader.h.sm.appliedClock()).toBe(real);
    expect(leader.applied.some((d) => JSON.parse(d).kind === 'clock')).toBe(false);
    await expect(leader.send(frame)).resolves.toEqual(first);
    const history = leader.h.sm.history(leader.h.sm.account('ann')!.id, 'bob', 10);
    expect(history.map((m) => m.sentAt)).toEqual([real]);
  });
});

describe('a clock command', () => {
  it('applies, answers with the clock it set, and moves the applied clock at most one step', () => {
    const h = new Harness();
    try {
      h.sm.bootstrap({ voters: ['r1'], learners: [] }, [{ id: 'r1', address: 'r1:1' }]);
      h.raiseClusterVersion(SUPPORTED_VERSION);
      const before = h.sm.appliedClock();
      const step = h.applyRaw(encodeCommand({ kind: 'clock', at: before + 1000 }));
      expect(step.response).toEqual({ ok: true, result: { at: before + 1000 } });
      expect(h.sm.appliedClock()).toBe(before + 1000);
      const far = h.applyRaw(encodeCommand({ kind: 'clock', at: before + 10 * MAX_CLOCK_STEP_MS }));
      expect(far.response).toEqual({ ok: true, result: { at: before + 1000 + MAX_CLOCK_STEP_MS } });
      expect(far.events).toEqual([]);
    } finally {
      h.dispose();
    }
  });
});
