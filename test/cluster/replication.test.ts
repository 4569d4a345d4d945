// Real replica processes on loopback: failover, SIGSTOP'd leaders, full restarts, catch-up by snapshot.
import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { client, closeClients, conversationTexts } from '../helpers/clients.js';
import { Cluster, waitConverged, waitFor } from '../helpers/cluster.js';
import { RawConn } from '../helpers/raw-client.js';

const PW = 'password-123';
let cluster: Cluster | null = null;

afterEach(async () => {
  closeClients();
  await cluster?.destroy();
  cluster = null;
});



describe('replication on real processes', () => {
  it('3 replicas: SIGKILL of the leader elects another; no acknowledged message is lost; the old leader rejoins', async () => {
    cluster = await Cluster.start({ size: 3 });
    const alice = client(cluster.addresses);
    await alice.signup('alice', PW);
    await alice.signup('bob', PW);
    await alice.login('alice', PW);
    const acked: string[] = [];
    for (let i = 0; i < 20; i++) {
      await alice.send('bob', `before-${i}`);
      acked.push(`before-${i}`);
    }
    const old = await cluster.leader();
    await old.kill();
    const next = await cluster.leader();
    expect(next.id).not.toBe(old.id);
    // Both of the dead leader's connections with a survivor closed: it elected without waiting for the leader's silence.
    const survivors = cluster.replicas.filter((r) => r !== old);
    await waitFor('a survivor saying the leader is gone both ways', () =>
      survivors.some((r) => readFileSync(r.options.logFile, 'utf8').includes("the leader's connections closed both ways")),
    );
    for (let i = 0; i < 20; i++) {
      await alice.send('bob', `after-${i}`);
      acked.push(`after-${i}`);
    }
    const bob = client(cluster.addresses);
    await bob.login('bob', PW);
    expect(await conversationTexts(bob, 'alice')).toEqual(acked);

    old.start();
    await old.waitHealthy();
    await waitConverged(cluster.addresses);
  });

  it('5 replicas survive SIGKILL of two (the leader among them) and keep every acknowledged message', async () => {
    cluster = await Cluster.start({ size: 5 });
    const c = client(cluster.addresses);
    await c.signup('carol', PW);
    await c.signup('dave', PW);
    await c.login('carol', PW);
    const acked: string[] = [];
    for (let i = 0; i < 10; i++) acked.push((await c.send('dave', `x${i}`), `x${i}`));
    const leader = await cluster.leader();
    const other = cluster.replicas.find((r) => r !== leader)!;
    await Promise.all([leader.kill(), other.kill()]);
    await cluster.leader();
    for (let i = 10; i < 20; i++) acked.push((await c.send('dave', `x${i}`), `x${i}`));
    const d = client(cluster.addresses);
    await d.login('dave', PW);
    expect(await conversationTexts(d, 'carol')).toEqual(acked);
  });

  it('a SIGSTOPped leader, resumed after the others elected, accepts no write as leader', async () => {
    cluster = await Cluster.start({ size: 3 });
    const setup = client(cluster.addresses);
    await setup.signup('erin', PW);
    await setup.signup('frank', PW);
    const old = await cluster.leader();
    // A connection to the old leader, logged in before the pause.
    const conn = await RawConn.open(old.address);
    await conn.login('erin');
    const oldTerm = (await old.status()).term;
    old.signal('SIGSTOP');
    try {
      const next = await waitFor('a new leader among the others', async () => {
        for (const r of cluster!.replicas) {
          if (r === old) continue;
          const st = await r.status().catch(() => null);
          if (st?.role === 'leader' && st.quorum) return st;
        }
        return null;
      });
      // A new election: the new leader's term is above the paused leader's.
      expect(next.term).toBeGreaterThan(oldTerm);
      // Queued while paused: processed by the old leader as soon as it resumes.
      const pending = conn.request({ op: 'send', to: 'frank', text: 'from-the-past', session: conn.session() });
      old.signal('SIGCONT');
      const resp = await pending;
      expect(resp.ok).toBe(false);
      expect(['NOT_LEADER', 'NO_QUORUM', 'TIMEOUT', 'CLOSED']).toContain(resp.error?.code);
      const st = await waitFor('old leader to step down', async () => {
        const s = await old.status();
        return s.role !== 'leader' ? s : null;
      });
      expect(st.leader?.id).toBe(next.id);
      // The old leader learned the newer term (it did not keep leading in its own).
      expect(st.term).toBeGreaterThanOrEqual(next.term);
    } finally {
      old.signal('SIGCONT');
      conn.close();
    }
    const f = client(cluster.addresses);
    await f.login('frank', PW);
    expect(await conversationTexts(f, 'erin')).not.toContain('from-the-past');
    await waitConverged(cluster.addresses);
  });

  it('a full restart of every replica keeps everything', async () => {
    cluster = await Cluster.start({ size: 3 });
    const c = client(cluster.addresses);
    await c.signup('gina', PW);
    await c.signup('hank', PW);
    await c.login('gina', PW);
    const acked: string[] = [];
    for (let i = 0; i < 30; i++) acked.push((await c.send('hank', `r${i}`), `r${i}`));
    c.close();
    await cluster.stopAll();
    for (const r of cluster.replicas) r.start();
    await Promise.all(cluster.replicas.map((r) => r.waitHealthy()));
    await cluster.leader();
    const h = client(cluster.addresses);
    await h.login('hank', PW);
    expect(await conversationTexts(h, 'gina')).toEqual(acked);
    await waitConverged(cluster.addresses);
  });

  it('a replica that was down while the log was compacted catches up by snapshot', async () => {
    cluster = await Cluster.start({ size: 3, extraArgs: ['--compact-every', '100', '--keep-entries', '20'] });
    const c = client(cluster.addresses);
    await c.signup('ivy', PW);
    await c.signup('jack', PW);
    await c.login('ivy', PW);
    const leader = await cluster.leader();
    const lagging = cluster.replicas.find((r) => r !== leader)!;
    await lagging.kill();
    await Promise.all(Array.from({ length: 8 }, async (_, w) => {
      for (let i = 0; i < 40; i++) await c.send('jack', `w${w}-${i}`);
    }));
    lagging.start();
    await lagging.waitHealthy();
    await waitConverged(cluster.addresses);
    const log = readFileSync(lagging.options.logFile, 'utf8');
    expect(log).toMatch(/installing snapshot/);
  });
});
