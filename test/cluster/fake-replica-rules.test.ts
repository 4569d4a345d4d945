// Pins the client tests' FakeCluster (test/helpers/fake-replica.ts) to the real replica: the same requests, sent to
// a real in-process replica and to the fake, get the same refusals (code and wording), the same exactly-once replays
// and the same result shapes. When the real replica changes a rule or a message, this fails until the fake follows,
// so the client tests never assert behaviour only the fake has.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReplica, type ReplicaHandle } from '../../replica/node/replica.js';
import { SESSION_EVICT_EVERY } from '../../replica/chat/sessions.js';
import { SESSION_WINDOW } from '../../replica/protocol/limits.js';
import { FakeCluster } from '../helpers/fake-replica.js';
import { RawConn, type Resp } from '../helpers/raw-client.js';

/** One observable step of a scenario: a refusal's code and message, or the sorted keys of a result (values vary). */
type Seen = { step: string; error: { code: string; message: string } } | { step: string; resultKeys: string[] } | { step: string; same: boolean };

/** `named` replaces ids that differ between the two (message ids) with a name in refusal messages. */
function seen(step: string, r: Resp, named: Record<string, number> = {}): Seen {
  if (!r.ok) {
    let message = String(r.error?.message);
    for (const [name, id] of Object.entries(named)) message = message.replace(new RegExp(`\\b${id}\\b`, 'g'), name);
    return { step, error: { code: String(r.error?.code), message } };
  }
  return { step, resultKeys: Object.keys(r.result as object).sort() };
}

/** The scenario, written once and run against both replicas. */
async function scenario(address: string): Promise<Seen[]> {
  const out: Seen[] = [];
  const alice = await RawConn.open(address);
  const bob = await RawConn.open(address);
  try {
    const first = alice.session();
    const signup = await alice.request({ op: 'signup', username: 'alice', password: 'password-123', session: first });
    out.push(seen('signup', signup));
    out.push(seen('signup taken', await alice.request({ op: 'signup', username: 'alice', password: 'password-123', session: alice.session() })));
    // Exactly-once: the same (clientId, seq) answers what it answered the first time, even for another op.
    const replay = await alice.request({ op: 'signup', username: 'alice', password: 'password-123', session: first });
    out.push({ step: 'signup replay', same: JSON.stringify(replay) === JSON.stringify(signup) });
    out.push(seen('send before login', await alice.request({ op: 'send', to: 'alice', text: 'hi', session: alice.session() })));
    out.push(seen('bad password', await alice.request({ op: 'login', username: 'alice', password: 'wrong-password', token: 'a'.repeat(43), session: alice.session() })));
    out.push(seen('no such account', await alice.request({ op: 'login', username: 'nobody', password: 'password-123', token: 'b'.repeat(43), session: alice.session() })));
    out.push(seen('login', await alice.request({ op: 'login', username: 'alice', password: 'password-123', token: 'c'.repeat(43), session: alice.session() })));
    await bob.signup('bob');
    await bob.login('bob');
    out.push(seen('send to nobody', await alice.request({ op: 'send', to: 'nobody', text: 'hi', session: alice.session() })));
    const sendSession = alice.session();
    const sent = await alice.request({ op: 'send', to: 'bob', text: 'hello bob', session: sendSession });
    out.push(seen('send', sent));
    const again = await alice.request({ op: 'send', to: 'bob', text: 'hello bob', session: sendSession });
    out.push({ step: 'send replay', same: JSON.stringify(again) === JSON.stringify(sent) });
    const reply = await bob.ok({ op: 'send', to: 'alice', text: 'hello alice', session: bob.session() });
    out.push(seen('delete foreign', await alice.request({ op: 'delete', ids: [reply.id], session: alice.session() })));
    const carol = await RawConn.open(address);
    try {
      await carol.signup('carol');
      await carol.login('carol');
      out.push(seen('delete a stranger\'s message', await carol.request({ op: 'delete', ids: [reply.id], session: carol.session() }), { REPLY: reply.id }));
    } finally {
      carol.close();
    }
    out.push(seen('delete missing', await alice.request({ op: 'delete', ids: [reply.id, 999], session: alice.session() })));
    out.push(seen('history', await alice.request({ op: 'history', with: 'bob' })));
    out.push(seen('read', await bob.request({ op: 'read', session: bob.session() })));
    out.push(seen('delete account, wrong password', await alice.request({ op: 'deleteAccount', password: 'wrong-password', session: alice.session() })));
    // A seq far past the window evicts the old responses in one batch (replica/chat/sessions.ts); a seq at or below
    // the new floor is refused (its outcome is unknown), never applied again. The fake's table evicts the same way.
    const far = { clientId: bob.clientId, seq: SESSION_WINDOW + SESSION_EVICT_EVERY + 1 };
    out.push(seen('send far ahead', await bob.request({ op: 'send', to: 'alice', text: 'far', session: far })));
    out.push(seen('below the floor', await bob.request({ op: 'send', to: 'alice', text: 'old', session: { clientId: bob.clientId, seq: 3 } })));
    out.push(seen('logout', await bob.request({ op: 'logout', session: { clientId: bob.clientId, seq: far.seq + 1 } })));
  } finally {
    alice.close();
    bob.close();
  }
  return out;
}

describe('the fake cluster of the client tests follows the real replica', () => {
  let dir: string;
  let real: ReplicaHandle;
  let fake: FakeCluster;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'quorum-fake-rules-'));
    real = await startReplica({ id: 'r1', dataDir: dir, listen: '127.0.0.1:0', webRoot: null, log: pino({ level: 'silent' }) });
    fake = await FakeCluster.start(1);
  });
  afterAll(async () => {
    await real?.stop();
    await fake?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers the same requests with the same refusals, replays and result shapes', async () => {
    const fromReal = await scenario(real.address);
    const fromFake = await scenario(fake.addresses[0]);
    console.log(`real replica: ${JSON.stringify(fromReal)}`);
    expect(fromFake).toEqual(fromReal);
  });
});
