// Regressions from review: a reused session seq must never log a connection in as someone else, nor replay another
// login's stored answers; a member address with an impossible port is refused and cannot stop a replica.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { startReplica, type ReplicaHandle } from '../../replica/node/replica.js';
import { RawConn } from '../helpers/raw-client.js';

describe('session safety (in-process replica)', () => {
  let dir: string;
  let r: ReplicaHandle;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'quorum-sess-'));
    r = await startReplica({ id: 'r1', dataDir: dir, listen: '127.0.0.1:0', webRoot: null, log: pino({ level: 'silent' }) });
  });
  afterAll(async () => {
    await r.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a login that reuses a session seq with a wrong password is refused and binds nothing', async () => {
    const a = await RawConn.open(r.address);
    await a.signup('alice');
    await a.login('alice');
    await a.ok({ op: 'send', to: 'alice', text: 'private note', session: a.session() });
    a.close();

    const m = await RawConn.open(r.address);
    const first = m.session();
    await m.ok({ op: 'signup', username: 'mallory', password: 'password-123', session: first });
    // Replaying signup's (clientId, seq) as a login for alice, without her password.
    const forged = await m.request({ op: 'login', username: 'alice', password: 'wrong-password', token: 'x'.repeat(43), after: 0, session: first });
    expect(forged.ok).toBe(false);
    expect(forged.error?.code).toBe('BAD_CREDENTIALS');
    const peek = await m.request({ op: 'history', with: 'alice' });
    expect(peek.error?.code).toBe('UNAUTHENTICATED');
    expect(m.pushes).toHaveLength(0);
    // With her own password she logs in as herself (a login's session is keyed by its token too), and only herself.
    const own = await m.request({ op: 'login', username: 'mallory', password: 'password-123', token: 'y'.repeat(43), session: first });
    expect(own.ok, JSON.stringify(own)).toBe(true);
    expect(own.result.user).toBe('mallory');
    const hist = await m.ok({ op: 'history', with: 'alice' });
    expect(hist.messages).toEqual([]);
    m.close();
  });

  it('a stored answer is only replayed to the login that made it', async () => {
    const a = await RawConn.open(r.address);
    await a.signup('carol');
    await a.signup('dave');
    await a.login('dave');
    const seq = a.session();
    const sent = await a.ok({ op: 'send', to: 'carol', text: 'once', session: seq });
    // The same (clientId, seq) retried by the same login: the first answer, nothing applied twice.
    const again = await a.ok({ op: 'send', to: 'carol', text: 'once', session: seq });
    expect(again.id).toBe(sent.id);
    // Another login reusing that clientId and seq gets a session of its own: a new message, not dave's answer.
    const b = await RawConn.open(r.address);
    await b.login('carol');
    const other = await b.ok({ op: 'send', to: 'dave', text: 'mine', session: seq });
    expect(other.id).not.toBe(sent.id);
    a.close();
    b.close();
  });
});
