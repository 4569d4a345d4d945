import { describe, expect, it } from 'vitest';
import { SNAPSHOT_NEEDED_CONTEXT } from '../../replica/raft/raft.js';
import type { Message } from '../../replica/raft/types.js';
import { TestNetwork, TestNode } from '../sim/harness.js';

const CONF3 = { voters: ['a', 'b', 'c'], learners: [] };

function compact(net: TestNetwork, id: string): number {
  const n = net.node(id);
  n.storage.compact(n.appliedIndex, n.storage.term(n.appliedIndex), n.smConf);
  return n.appliedIndex;
}

describe('raft snapshots', () => {
  it('a follower that needs compacted entries receives a snapshot, then the rest of the log', () => {
    const net = new TestNetwork(['a', 'b', 'c']);
    net.campaign('a');
    net.isolate('c');
    for (let k = 0; k < 10; k++) net.propose('a', `x${k}`);
    const upTo = compact(net, 'a');
    expect(net.node('a').storage.firstIndex()).toBe(upTo + 1);
    net.recover();
    net.tickAll(3);
    expect(net.delivered.filter((m) => m.type === 'snap' && m.to === 'c')).toHaveLength(1);
    const c = net.node('c');
    expect(c.storage.snapshotMeta().index).toBe(upTo);
    net.propose('a', 'after');
    expect(c.raft.status().commit).toBe(net.raft('a').status().commit);
    expect(c.appliedData()).toEqual(['after']); // earlier entries came in the snapshot
    expect(c.appliedIndex).toBe(net.node('a').appliedIndex);
  });

  it('the follower is paused while its snapshot is in flight; a failed transfer is retried', () => {
    const net = new TestNetwork(['a', 'b', 'c']);
    net.autoReportSnapshot = false;
    net.campaign('a');
    net.isolate('c');
    for (let k = 0; k < 3; k++) net.propose('a', `x${k}`);
    compact(net, 'a');
    net.recover();
    net.ignore('snap'); // the transfer fails silently
    net.tickAll(2);
    expect(net.raft('a').status().progress!.c.state).toBe('snapshot');
    const appsBefore = net.delivered.filter((m) => m.type === 'app' && m.to === 'c').length;
    net.propose('a', 'y');
    net.tickAll(3);
    expect(net.delivered.filter((m) => m.type === 'app' && m.to === 'c').length).toBe(appsBefore);

    net.raft('a').reportSnapshot('c', false);
    expect(net.raft('a').status().progress!.c.state).toBe('probe');
    net.recover();
    net.autoReportSnapshot = true;
    net.tickAll(3);
    expect(net.raft('c').status().commit).toBe(net.raft('a').status().commit);
    expect(net.node('c').appliedIndex).toBe(net.node('a').appliedIndex);
  });

  it('installs a snapshot beyond its commit: Ready.snapshot, log reset, configuration from the snapshot', () => {
    const node = new TestNode('c', CONF3, {}, 1);
    node.preload([1, 1, 1], { term: 1, commit: 1 }, 1);
    const snap = { index: 7, term: 2, conf: { voters: ['a', 'b', 'c'], learners: ['d'] } };
    node.raft.step({ type: 'snap', from: 'a', to: 'c', term: 2, snapshot: snap });
    const rd = node.raft.ready();
    expect(rd.snapshot).toEqual(snap);
    expect(rd.committedEntries).toEqual([]);
    expect(rd.messages).toEqual([{ type: 'snapResp', from: 'c', to: 'a', term: 2, index: 7 }]);
    expect(node.raft.status()).toMatchObject({ commit: 7, lastIndex: 7, firstIndex: 8, conf: snap.conf });
    node.storage.applySnapshot(rd.snapshot!);
    node.appliedIndex = 7;
    node.raft.advance(rd);
    expect(node.raft.status().applied).toBe(7);
    // A restart from storage continues from the snapshot.
    node.restart();
    expect(node.raft.status()).toMatchObject({ commit: 7, lastIndex: 7, conf: snap.conf });
  });

  it('ignores a snapshot at or below its commit index (answers with its commit)', () => {
    const node = new TestNode('c', CONF3, {}, 1);
    node.preload([1, 1, 1, 1, 1], { term: 1, commit: 5 }, 5);
    node.raft.step({ type: 'snap', from: 'a', to: 'c', term: 1, snapshot: { index: 3, term: 1, conf: CONF3 } });
    const rd = node.raft.ready();
    expect(rd.snapshot).toBeUndefined();
    expect(rd.messages).toEqual([{ type: 'snapResp', from: 'c', to: 'a', term: 1, index: 5 }]);
  });

  it('a snapshot whose last entry it already has only advances its commit', () => {
    const node = new TestNode('c', CONF3, {}, 1);
    node.preload([1, 1, 1, 1, 1], { term: 1, commit: 2 }, 2);
    node.raft.step({ type: 'snap', from: 'a', to: 'c', term: 1, snapshot: { index: 4, term: 1, conf: CONF3 } });
    const rd = node.raft.ready();
    expect(rd.snapshot).toBeUndefined();
    expect(rd.committedEntries.map((e) => e.index)).toEqual([3, 4]);
    expect(node.raft.status()).toMatchObject({ commit: 4, lastIndex: 5 });
  });

  it('a replica with no configuration refuses log entries and asks for a snapshot', () => {
    const node = new TestNode('d', { voters: [], learners: [] }, {}, 1);
    const app: Message = { type: 'app', from: 'a', to: 'd', term: 1, index: 0, logTerm: 0, commit: 1, entries: [{ index: 1, term: 1, type: 'normal', data: '' }] };
    node.raft.step(app);
    const rd = node.raft.ready();
    expect(rd.entries).toEqual([]);
    expect(rd.messages).toEqual([
      { type: 'appResp', from: 'd', to: 'a', term: 1, index: 0, reject: true, rejectHint: 0, logTerm: 0, context: SNAPSHOT_NEEDED_CONTEXT },
    ]);
  });

  it('joins a cluster bootstrapped with a snapshot at index 1 (the replica bootstrap)', () => {
    const net = new TestNetwork(['a', 'b', 'c']);
    for (const id of ['a', 'b', 'c']) {
      const n = net.node(id);
      n.storage.applySnapshot({ index: 1, term: 1, conf: CONF3 });
      n.appliedIndex = 1;
      n.restart();
    }
    net.campaign('a');
    net.propose('a', 'x');
    net.addNode('d');
    net.raft('a').proposeConfChange({ op: 'addLearner', id: 'd', address: 'x' });
    net.send(net.node('a').drain());
    net.tickAll(3);
    expect(net.node('d').raft.status().conf).toEqual({ voters: ['a', 'b', 'c'], learners: ['d'] });
    expect(net.node('d').appliedIndex).toBe(net.node('a').appliedIndex);
  });
});
