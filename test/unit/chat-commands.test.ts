import { describe, expect, it } from 'vitest';
import { decodeCommand, decodeConfChange, encodeCommand } from '../../replica/chat/commands.js';
import { applyConfChange } from '../../replica/chat/conf.js';

const session = { clientId: 'client-123', seq: 1 };
const tokenHash = 'ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0';

describe('commands', () => {
  it('round-trips every command kind', () => {
    const cmds = [
      { kind: 'signup', at: 1, session, username: 'ann', passwordHash: 'scrypt$1$2$3$4$5' },
      { kind: 'login', at: 1, session, username: 'ann', passwordHash: 'h', tokenHash },
      { kind: 'logout', at: 1, session, tokenHash },
      { kind: 'send', at: 1, session, tokenHash, to: 'bob', text: 'hi' },
      { kind: 'read', at: 1, session, tokenHash, limit: 50 },
      { kind: 'markRead', at: 1, session, tokenHash, with: 'bob', upTo: 9 },
      { kind: 'delivered', at: 1, session, tokenHash, upTo: 9 },
      { kind: 'delete', at: 1, session, tokenHash, ids: [1, 2] },
      { kind: 'deleteAccount', at: 1, session, tokenHash, passwordHash: 'h' },
      { kind: 'member', at: 1, id: 'n1', address: '10.0.0.1:7000' },
    ] as const;
    for (const c of cmds) expect(decodeCommand(encodeCommand(c as never))).toEqual({ ok: true, value: c });
  });

  it('rejects malformed commands with a message, keeping the session when readable', () => {
    expect(decodeCommand('nope')).toEqual({ ok: false, message: 'command is not JSON' });
    const r = decodeCommand(JSON.stringify({ kind: 'send', at: 1, session, tokenHash, to: 'bob', text: '' }));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.message).toMatch(/text/);
      expect(r.session).toEqual(session);
    }
    expect(decodeCommand(JSON.stringify({ kind: 'send', at: 1, session, tokenHash, to: 'bob', text: 'x', extra: 1 })).ok).toBe(false);
    expect(decodeCommand(JSON.stringify({ kind: 'read', at: -1, session, tokenHash, limit: 5 })).ok).toBe(false);
    expect(decodeCommand(JSON.stringify({ kind: 'read', at: 1, session, tokenHash, limit: 501 })).ok).toBe(false);
    expect(decodeCommand(JSON.stringify({ kind: 'signup', at: 1, session, username: 'bad name', passwordHash: 'h' })).ok).toBe(false);
    expect(decodeCommand('null').ok).toBe(false);
  });

  it('parses conf changes and applies them with single-server rules', () => {
    expect(decodeConfChange('{"op":"promote","id":"n2"}')).toEqual({ ok: true, value: { op: 'promote', id: 'n2' } });
    expect(decodeConfChange('{"op":"addVoter","id":"n2"}').ok).toBe(false);
    let c = { voters: ['n1'], learners: [] as string[] };
    c = applyConfChange(c, { op: 'addLearner', id: 'n2', address: 'a' });
    expect(c).toEqual({ voters: ['n1'], learners: ['n2'] });
    c = applyConfChange(c, { op: 'promote', id: 'n2' });
    expect(c).toEqual({ voters: ['n1', 'n2'], learners: [] });
    expect(() => applyConfChange(c, { op: 'promote', id: 'n2' })).toThrow();
    c = applyConfChange(c, { op: 'demote', id: 'n1' });
    expect(c).toEqual({ voters: ['n2'], learners: ['n1'] });
    c = applyConfChange(c, { op: 'remove', id: 'n1' });
    expect(c).toEqual({ voters: ['n2'], learners: [] });
    expect(() => applyConfChange(c, { op: 'remove', id: 'n1' })).toThrow();
  });
});
