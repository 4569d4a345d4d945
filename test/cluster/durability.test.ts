// A single real replica process, SIGKILLed while writes are in flight, loses no acknowledged write; on a damaged
// raft.db it refuses to start, saying why in one line (exit status 5, DAMAGED).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReplicaProc, singleReplica, waitFor } from '../helpers/cluster.js';
import { RawConn } from '../helpers/raw-client.js';
import { EXIT_STATUS } from '../../replica/node/exit-status.js';

describe('single replica durability', () => {
  let r: ReplicaProc;
  let destroy: () => Promise<void>;

  beforeAll(async () => {
    ({ replica: r, destroy } = await singleReplica('quorum-dur-'));
  });
  afterAll(() => destroy());

  it('keeps every acknowledged message across SIGKILL mid-write and restart', async () => {
    const a = await RawConn.open(r.address);
    await a.signup('alice');
    await a.signup('bob');
    await a.login('alice');

    // Pipeline sends continuously; SIGKILL once a good number has been acknowledged.
    const acked: { id: number; text: string }[] = [];
    let sent = 0;
    let killed = false;
    const pump = async () => {
      while (!killed) {
        const text = `m${sent++}`;
        const resp = await a.request({ op: 'send', to: 'bob', text, session: a.session() });
        if (resp.ok) acked.push({ id: resp.result.id, text });
        else if (resp.error?.code === 'CLOSED') return;
      }
    };
    const pumps = Array.from({ length: 16 }, pump);
    await waitFor('200 acknowledged sends', () => acked.length >= 200, 30_000);
    killed = true;
    await r.kill();
    await Promise.all(pumps);
    expect(acked.length).toBeGreaterThanOrEqual(200);

    r.start();
    await r.waitHealthy();
    const b = await RawConn.open(r.address);
    await b.login('bob');
    const seen = new Map<number, string>();
    let before: number | undefined;
    for (;;) {
      const page = await b.ok({ op: 'history', with: 'alice', limit: 500, ...(before ? { before } : {}) });
      for (const m of page.messages) seen.set(m.id, m.text);
      if (page.messages.length < 500) break;
      before = page.messages[0].id;
    }
    for (const m of acked) expect(seen.get(m.id), `acknowledged message ${m.id}`).toBe(m.text);
    // Nothing is duplicated: texts are unique per send.
    const texts = [...seen.values()];
    expect(new Set(texts).size).toBe(texts.length);
    b.close();
  });

  it('refuses to start on a damaged raft.db, with one line naming the file and the entry', async () => {
    expect(await r.stop()).toBe(0);
    const file = join(r.options.dataDir, 'raft.db');
    const db = new Database(file);
    const [table] = (db.prepare("SELECT name FROM sqlite_master WHERE name GLOB 'entries_*' ORDER BY name DESC").all() as { name: string }[]).map((t) => t.name);
    const { idx } = db.prepare(`SELECT max(idx) AS idx FROM "${table}"`).get() as { idx: number };
    db.prepare(`UPDATE "${table}" SET data = data || ' ' WHERE idx = ?`).run(idx);
    db.close();
    const logged = readFileSync(r.options.logFile, 'utf8').length;
    r.start();
    expect(await r.exited).toBe(EXIT_STATUS.DAMAGED);
    const output = readFileSync(r.options.logFile, 'utf8').slice(logged);
    const lines = output.trimEnd().split('\n').filter((l) => !l.startsWith('{'));
    expect(lines).toEqual([
      `DAMAGED: cannot start replica r1: ${file}: log entry ${idx} is damaged (its checksum does not match), so this replica's log cannot be trusted; ` +
        'rebuild the replica as "A damaged replica" in docs/operations.md says',
    ]);
    expect(output).not.toMatch(/^\s+at /m);
  });
});
