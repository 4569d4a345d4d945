// Replicas compare their state (issue 11): three in-process replicas hash their state at every 20th index and tell
// each other. One replica's state database is altered while it is stopped (a disk that changed data): after its
// restart the next comparison names it on the others and on itself (log line, status), and `resync` (the admin request
// `cluster resync` sends) replaces its state by the leader's, after which its hashes agree again. While diverged it
// refuses client requests (STATE_DIVERGED) and still answers status; after the resync it serves again.
import { afterAll, describe, expect, it, onTestFailed } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import { startReplica, type ReplicaHandle } from '../../replica/node/replica.js';
import type { ReplicaOptions } from '../../replica/node/options.js';
import { adminRequest } from '../../replica/net/admin-client.js';
import { freePort, waitFor } from '../helpers/cluster.js';
import { RawConn } from '../helpers/raw-client.js';
import { printLogTimeline } from '../helpers/log-timeline.js';

const EVERY = 20;

describe('state check and resync (in-process replicas)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorum-statecheck-'));
  const secret = randomBytes(32);
  const lines = new Map<string, string[]>();
  const replicas = new Map<string, ReplicaHandle>();
  const options = new Map<string, ReplicaOptions>();

  const start = async (id: string) => {
    const r = await startReplica(options.get(id)!);
    replicas.set(id, r);
    return r;
  };
  const leader = () => [...replicas.values()].find((r) => r.status().role === 'leader');
  let conn: RawConn | null = null;
  const write = async (n: number) => {
    for (let i = 0; i < n; i++) {
      for (;;) {
        try {
          if (!conn) {
            const c = await RawConn.open((await waitFor('a leader', leader)).address);
            await c.login('alice');
            conn = c;
          }
          await conn.ok({ op: 'send', to: 'bob', text: `note ${i}`, session: conn.session() });
          break;
        } catch {
          conn?.close();
          conn = null;
        }
      }
    }
  };

  afterAll(async () => {
    conn?.close();
    await Promise.all([...replicas.values()].map((r) => r.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('names a replica whose state was altered, and resync repairs it', async () => {
    onTestFailed(() => printLogTimeline(Object.fromEntries(lines)));
    const ids = ['r1', 'r2', 'r3'];
    const ports = await Promise.all(ids.map(() => freePort()));
    const initialCluster = ids.map((id, i) => ({ id, address: `127.0.0.1:${ports[i]}` }));
    for (const [i, id] of ids.entries()) {
      const out: string[] = [];
      lines.set(id, out);
      options.set(id, {
        id,
        dataDir: join(dir, id),
        listen: `127.0.0.1:${ports[i]}`,
        initialCluster,
        secret,
        security: { peerLinks: 'plain', allowPlainClients: true },
        webRoot: null,
        autopilot: false,
        stateCheckEvery: EVERY,
        log: pino({ level: 'info' }, { write: (s: string) => void out.push(s) }),
      });
    }
    await Promise.all(ids.map(start));
    const first = await RawConn.open((await waitFor('a leader', leader)).address);
    await first.signup('alice');
    await first.signup('bob');
    await first.login('alice');
    conn = first;
    await write(EVERY);
    const r1 = replicas.get('r1')!;
    await waitFor('a first comparison everywhere', () => ids.every((id) => (replicas.get(id)!.status().stateCheck?.index ?? 0) >= EVERY));
    expect(ids.flatMap((id) => replicas.get(id)!.status().stateCheck!.diverged)).toEqual([]);

    // r3's disk changes a stored message while r3 is down.
    if (replicas.get('r3')!.status().role === 'leader') await replicas.get('r3')!.transferLeadership();
    await replicas.get('r3')!.stop();
    conn?.close();
    conn = null;
    const db = new Database(join(dir, 'r3', 'state.db'));
    expect(db.prepare("UPDATE messages SET text = 'altered on disk' WHERE id = (SELECT min(id) FROM messages WHERE event IS NULL)").run().changes).toBe(1);
    db.close();
    await start('r3');
    await write(2 * EVERY);
    await waitFor('r3 named diverged on r1, r2 and itself', () => ids.every((id) => replicas.get(id)!.status().stateCheck!.diverged.includes('r3')), 30_000);
    const named = lines.get('r1')!.filter((l) => l.includes('state hash mismatch'));
    // One line per comparison that found r3 different (one per index: 20 indices of writes past the restart).
    expect(named.length).toBeGreaterThan(0);
    expect(JSON.parse(named[0]).msg).toMatch(/^state hash mismatch at index \d+: replica r3 holds \w+, a majority of the 3 members hold \w+: its state diverged; rebuild it: .* resync r3$/);
    expect(lines.get('r3')!.some((l) => l.includes('this replica (r3) holds'))).toBe(true);
    expect(r1.status().members.find((m) => m.id === 'r3')!.stateCheck!.agrees).toBe(false);
    expect(r1.status().stateCheck!.mismatches).toBeGreaterThan(0);

    // r3 stops serving: any client request (a read or a write; before leadership or login is looked at) is refused.
    const r3Address = initialCluster.find((m) => m.id === 'r3')!.address;
    const onR3 = await RawConn.open(r3Address);
    for (const req of [
      { op: 'login', username: 'alice', password: 'password-123', token: randomBytes(32).toString('base64url'), session: onR3.session() },
      { op: 'conversations' },
    ]) {
      const refused = await onR3.request(req);
      expect(refused.ok).toBe(false);
      expect(refused.error!.code).toBe('STATE_DIVERGED');
      expect(refused.error!.message).toBe("this replica's state differs from the cluster's; use another replica (an operator runs `npm run cluster -- resync r3`)");
    }
    // Status (which names the divergence) is still answered.
    expect((await onR3.ok({ op: 'status' })).stateCheck.diverged).toContain('r3');
    onR3.close();

    // Resync r3 from the leader (as `npm run cluster -- resync r3` does), then its next hashes agree.
    const servers = initialCluster.filter((m) => m.id !== 'r3').map((m) => m.address);
    const r = await adminRequest<{ resync: string; index: number }>(servers, secret, { op: 'resync', replica: 'r3' }, { timeoutMs: 20_000 });
    expect(r.resync).toBe('r3');
    await waitFor('r3 resynced', () => lines.get('r3')!.some((l) => l.includes("this replica's state was replaced by the leader's")), 20_000);
    await write(2 * EVERY);
    await waitFor('r3 agrees again everywhere', () => ids.every((id) => replicas.get(id)!.status().stateCheck!.diverged.length === 0 && replicas.get(id)!.status().members.every((m) => m.stateCheck?.agrees !== false)), 30_000);
    const applied = await waitFor('the same applied index', () => {
      const a = ids.map((id) => replicas.get(id)!.status().appliedIndex);
      return a.every((x) => x === a[0]) && a[0];
    });
    expect(applied).toBeGreaterThan(0);
    expect(new Set(ids.map((id) => replicas.get(id)!.stateHash())).size).toBe(1);

    // r3 serves again: made leader, it takes a login and a send, and reads its own state back.
    await (await waitFor('a leader', leader)).transferLeadership('r3');
    await waitFor('r3 leads', () => replicas.get('r3')!.status().role === 'leader');
    const again = await RawConn.open(r3Address);
    await again.login('alice');
    await again.ok({ op: 'send', to: 'bob', text: 'after resync', session: again.session() });
    expect((await again.ok({ op: 'history', with: 'bob', limit: 1 })).messages[0].text).toBe('after resync');
    again.close();
  }, 120_000);
});
