import { describe, expect, it } from 'vitest';
import { ConfChangeError, NotLeaderError } from '../../replica/raft/raft.js';
import { encodeConfChange } from '../../replica/raft/conf.js';
import type { ConfChange } from '../../replica/raft/types.js';
import { TestNetwork, TestNode } from '../sim/harness.js';
import { demotedLeaderAhead } from '../helpers/raft-scenarios.js';

function change(net: TestNetwork, leader: string, cc: ConfChange): number {
  const index = net.raft(leader).proposeConfChange(cc);
  net.send(net.node(leader).drain());
  net.tickAll(2);
  return index;
}

describe('raft learners', () => {
  it('a learner receives the log but never votes in quorums nor campaigns', () => {
    const net = new TestNetwork(['a', 'b', 'c', 'd'], { voters: ['a', 'b', 'c'], learners: ['d'], electionTick: 5 });
    net.campaign('a');
    net.propose('a', 'x');
    net.tickAll(1);
    expect(net.node('d').appliedData()).toEqual(['x']);
    expect(net.raft('a').status().progress!.d).toMatchObject({ isLearner: true });

    // With b and c gone, a + learner d are not a quorum: nothing commits.
    net.isolate('b');
    net.isolate('c');
    const before = net.raft('a').status().commit;
    net.raft('a').propose('y');
    net.send(net.node('a').drain());
    net.tick('a');
    expect(net.raft('a').status().commit).toBe(before);
    expect(net.node('d').raft.status().lastIndex).toBeGreaterThan(before); // d has it, but d does not count

    // A learner never campaigns, however long it hears nothing.
    net.recover();
    net.isolate('d');
    net.tick('d', 100);
    expect(net.raft('d').status()).toMatchObject({ role: 'follower', term: 1 });
  });

  it('a learner vote is not counted', () => {
    const net = new TestNetwork(['a', 'b', 'c', 'd'], { voters: ['a', 'b', 'c'], learners: ['d'] });
    net.isolate('b');
    net.isolate('c');
    net.campaign('a');
    expect(net.raft('a').status().role).not.toBe('leader');
  });
});

describe('raft configuration changes', () => {
  it('addLearner then promote: the new replica joins by snapshot, then counts toward quorum', () => {
    const net = new TestNetwork(['a', 'b', 'c']);
    net.campaign('a');
    net.propose('a', 'x');
    const d = net.addNode('d'); // fresh replica: no configuration
    change(net, 'a', { op: 'addLearner', id: 'd', address: 'host-d:1' });
    for (const id of ['a', 'b', 'c', 'd']) expect(net.raft(id).status().conf).toEqual({ voters: ['a', 'b', 'c'], learners: ['d'] });
    // d had no configuration, so it took a snapshot instead of replaying the log from index 1.
    expect(net.delivered.some((m) => m.type === 'snap' && m.to === 'd')).toBe(true);
    expect(d.raft.status().commit).toBe(net.raft('a').status().commit);

    change(net, 'a', { op: 'promote', id: 'd' });
    expect(net.raft('a').status().conf).toEqual({ voters: ['a', 'b', 'c', 'd'], learners: [] });
    // Four voters: quorum is three. With b and c gone, a + d cannot commit.
    net.isolate('b');
    net.isolate('c');
    const before = net.raft('a').status().commit;
    net.propose('a', 'y');
    expect(net.raft('a').status().commit).toBe(before);
    net.recover();
    net.tickAll(2);
    expect(net.raft('a').status().commit).toBeGreaterThan(before);
  });

  it.each([
    { cc: { op: 'demote', id: 'c' } as ConfChange, conf: { voters: ['a', 'b'], learners: ['c'] } },
    { cc: { op: 'remove', id: 'c' } as ConfChange, conf: { voters: ['a', 'b'], learners: [] } },
    { cc: { op: 'addVoter', id: 'd', address: 'x' } as ConfChange, conf: { voters: ['a', 'b', 'c', 'd'], learners: [] } },
  ])('$cc.op $cc.id takes effect on every replica when applied', ({ cc, conf }) => {
    const net = new TestNetwork(['a', 'b', 'c']);
    if (cc.op === 'addVoter') net.addNode('d');
    net.campaign('a');
    change(net, 'a', cc);
    for (const n of net.nodes.values()) if (conf.voters.includes(n.id) || conf.learners.includes(n.id)) expect(n.raft.status().conf).toEqual(conf);
  });

  it('a conf entry carries exactly the ConfChange as JSON, and the change applies only when committed', () => {
    const net = new TestNetwork(['a', 'b', 'c']);
    net.campaign('a');
    net.isolate('b');
    net.isolate('c');
    const cc: ConfChange = { op: 'addLearner', id: 'd', address: 'host:1' };
    const index = net.raft('a').proposeConfChange(cc);
    net.send(net.node('a').drain());
    const entry = net.raft('a').raftLog.slice(index, index + 1, 1 << 20)[0];
    expect(entry).toMatchObject({ type: 'conf', data: encodeConfChange(cc) });
    expect(JSON.parse(entry.data)).toEqual(cc);
    expect(net.raft('a').status().conf.learners).toEqual([]); // not committed: not in effect
    net.recover();
    net.tickAll(2);
    expect(net.raft('a').status().conf.learners).toEqual(['d']);
  });

  it('only one change at a time: refused while the previous conf entry is not applied', () => {
    const net = new TestNetwork(['a', 'b', 'c']);
    net.campaign('a');
    net.isolate('b');
    net.isolate('c');
    net.raft('a').proposeConfChange({ op: 'addLearner', id: 'd', address: 'x' });
    try {
      net.raft('a').proposeConfChange({ op: 'addLearner', id: 'e', address: 'y' });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfChangeError);
      expect((e as ConfChangeError).code).toBe('CONF_CHANGE_PENDING');
      expect((e as Error).message).toMatch(/pending/);
    }
    net.recover();
    net.send(net.node('a').drain());
    net.tickAll(2);
    expect(() => net.raft('a').proposeConfChange({ op: 'addLearner', id: 'e', address: 'y' })).not.toThrow();
  });

  it('a new leader accepts no change until its no-op (and everything before) is applied', () => {
    const node = new TestNode('a', { voters: ['a'], learners: [] }, {}, 1);
    node.raft.campaign();
    expect(node.raft.status().role).toBe('leader');
    expect(() => node.raft.proposeConfChange({ op: 'addLearner', id: 'b', address: 'x' })).toThrow(ConfChangeError);
    node.drain();
    expect(() => node.raft.proposeConfChange({ op: 'addLearner', id: 'b', address: 'x' })).not.toThrow();
  });

  it.each([
    { cc: { op: 'addLearner', id: 'b', address: 'x' } as ConfChange, why: /already a member/ },
    { cc: { op: 'addVoter', id: 'b', address: 'x' } as ConfChange, why: /already a voter/ },
    { cc: { op: 'promote', id: 'b' } as ConfChange, why: /not a learner/ },
    { cc: { op: 'promote', id: 'z' } as ConfChange, why: /not a learner/ },
    { cc: { op: 'demote', id: 'z' } as ConfChange, why: /not a voter/ },
    { cc: { op: 'remove', id: 'z' } as ConfChange, why: /not a member/ },
  ])('refuses $cc.op $cc.id ($why)', ({ cc, why }) => {
    const net = new TestNetwork(['a', 'b', 'c']);
    net.campaign('a');
    try {
      net.raft('a').proposeConfChange(cc);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfChangeError);
      expect((e as ConfChangeError).code).toBe('INVALID_CONF_CHANGE');
      expect((e as Error).message).toMatch(why);
    }
    expect(net.raft('a').status().lastIndex).toBe(1); // nothing appended
  });

  it('refuses to remove or demote the last voter', () => {
    const node = new TestNode('a', { voters: ['a'], learners: [] }, {}, 1);
    node.raft.campaign();
    node.drain();
    expect(() => node.raft.proposeConfChange({ op: 'remove', id: 'a' })).toThrow(/last voter/);
    expect(() => node.raft.proposeConfChange({ op: 'demote', id: 'a' })).toThrow(/last voter/);
  });

  it('followers cannot propose changes', () => {
    const net = new TestNetwork(['a', 'b', 'c']);
    net.campaign('a');
    expect(() => net.raft('b').proposeConfChange({ op: 'remove', id: 'c' })).toThrow(NotLeaderError);
  });

  it.each(['remove', 'demote'] as const)('the leader cannot %s itself: it must transfer leadership first', (op) => {
    const net = new TestNetwork(['a', 'b', 'c']);
    net.campaign('a');
    expect(() => net.raft('a').proposeConfChange({ op, id: 'a' })).toThrow(/transfer leadership first/);
    net.raft('a').transferLeadership('b');
    net.send(net.node('a').drain());
    change(net, 'b', { op, id: 'a' });
    for (const n of net.nodes.values()) expect(n.raft.status().conf.voters).toEqual(['b', 'c']);
  });

  it('a leader that applies its own removal (inherited from an earlier leader) hands leadership to a caught-up voter', () => {
    const net = new TestNetwork(['a', 'b', 'c'], { electionTick: 5 });
    net.campaign('a');
    net.isolate('c');
    net.propose('a', 'x'); // b has it, c does not
    net.recover();
    net.ignore('app');
    net.raft('a').applyConfChange({ op: 'remove', id: 'a' });
    const st = net.raft('a').status();
    // Still leading (not counting itself), refusing proposals, handing over to b (the most caught-up voter).
    expect(st).toMatchObject({ role: 'leader', leadTransferee: 'b', conf: { voters: ['b', 'c'], learners: [] } });
    expect(() => net.raft('a').propose('y')).toThrow(/transfer/);
    net.recover();
    net.send(net.node('a').drain());
    net.tickAll(2);
    expect(net.leaders().map((n) => n.id)).toEqual(['b']);
    // The removed replica never campaigns again.
    net.isolate('a');
    const term = net.raft('a').status().term;
    net.tick('a', 100);
    expect(net.raft('a').status()).toMatchObject({ role: 'follower', term });
  });

  it('a removed leader whose hand-over cannot complete steps down after an election timeout', () => {
    const net = new TestNetwork(['a', 'b', 'c'], { electionTick: 5, checkQuorum: false });
    net.campaign('a');
    net.isolate('a');
    net.raft('a').applyConfChange({ op: 'remove', id: 'a' });
    expect(net.raft('a').status().role).toBe('leader');
    net.tick('a', 5);
    expect(net.raft('a').status()).toMatchObject({ role: 'follower', lead: null });
  });

  it('a replica with a committed but unapplied conf entry does not campaign', () => {
    const node = new TestNode('a', { voters: ['a', 'b', 'c'], learners: [] }, {}, 1);
    node.storage.append([
      { index: 1, term: 1, type: 'normal', data: '' },
      { index: 2, term: 1, type: 'conf', data: encodeConfChange({ op: 'addLearner', id: 'd', address: 'x' }) },
    ]);
    node.storage.setHardState({ term: 1, vote: null, commit: 2 });
    node.restart();
    node.raft.campaign();
    expect(node.raft.status()).toMatchObject({ role: 'follower', term: 1 });
    node.drain(); // applies the conf entry
    expect(node.raft.status().conf.learners).toEqual(['d']);
    node.raft.campaign();
    expect(node.raft.status().role).toBe('preCandidate');
  });

  it('re-applying an already applied change (replay after a restart) is harmless', () => {
    const node = new TestNode('a', { voters: ['a', 'b'], learners: ['c'] }, {}, 1);
    expect(node.raft.applyConfChange({ op: 'addLearner', id: 'c', address: 'x' })).toEqual({ voters: ['a', 'b'], learners: ['c'] });
    expect(node.raft.applyConfChange({ op: 'remove', id: 'z' })).toEqual({ voters: ['a', 'b'], learners: ['c'] });
  });
});

describe('raft configuration changes during an election', () => {
  it('a candidate removed mid-election abandons its candidacy and never leads', () => {
    const net = new TestNetwork(['a', 'b', 'c', 'd', 'e'], { preVote: false });
    net.ignore('voteResp');
    net.campaign('a');
    expect(net.raft('a').status().role).toBe('candidate');
    // The removal of a commits elsewhere and a applies it while its vote requests are out.
    net.raft('a').applyConfChange({ op: 'remove', id: 'a' });
    expect(net.raft('a').status().role).toBe('follower');
    net.recover();
    for (const id of ['b', 'c', 'd']) net.raft('a').step({ type: 'voteResp', from: id, to: 'a', term: 1, reject: false });
    expect(net.raft('a').status().role).toBe('follower');
  });
});

describe('raft: a departed leader helps stale voters (etcd-io/etcd#10563)', () => {
  it('a stale voter that needs the vote of a replica which already left (and is ahead) still gets a leader', () => {
    const net = new TestNetwork(['a', 'b'], { electionTick: 5 });
    // a led term 1, committed and applied its own demotion (index 2), appended 3 and 4, and crashed; b never learned
    // that 2 committed and lacks 4. b still runs the old configuration {a, b}: it needs a's vote, a's log is ahead.
    demotedLeaderAhead(net);
    const [a, b] = [net.node('a'), net.node('b')];
    expect(a.raft.status()).toMatchObject({ role: 'follower', conf: { voters: ['b'], learners: ['a'] } });

    net.tickAll(40);
    expect(net.leaders().map((n) => n.id)).toEqual(['b']);
    expect(b.raft.status().conf).toEqual({ voters: ['b'], learners: ['a'] });
    expect(b.logTerms().slice(0, 4)).toEqual([1, 1, 1, 1]);
    expect(a.raft.status().role).toBe('follower');
  });
});
