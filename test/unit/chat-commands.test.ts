import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Command, decodeCommand, decodeConfChange, encodeCommand } from '../../replica/chat/commands.js';
import { applyConfChange } from '../../replica/chat/conf.js';
import { requiredVersion, SUPPORTED_VERSION } from '../../replica/chat/versions.js';

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
      { kind: 'memberVersion', at: 1, id: 'n1', version: 2 },
      { kind: 'clusterVersion', at: 1, version: 2 },
      { kind: 'clock', at: 1 },
      { kind: 'send', at: 1, session: { ...session, startIndex: 4 }, tokenHash, to: 'bob', text: 'hi' },
    ] as const;
    for (const c of cmds) expect(decodeCommand(encodeCommand(c as never))).toEqual({ ok: true, value: c, version: requiredVersion(c as never) });
    // Version 2 commands say so (`v`); a command that does not say what it needs, or says too much, is malformed.
    expect(JSON.parse(encodeCommand({ kind: 'clock', at: 1 }))).toEqual({ kind: 'clock', at: 1, v: 2 });
    expect(decodeCommand(JSON.stringify({ kind: 'clock', at: 1 }))).toMatchObject({ ok: false, message: expect.stringMatching(/declares version 1 but needs 2/) });
    expect(decodeCommand(JSON.stringify({ kind: 'logout', at: 1, session, tokenHash, v: 2 })).ok).toBe(false);
    expect(decodeCommand(JSON.stringify({ kind: 'logout', at: 1, session, tokenHash, v: 1 })).ok).toBe(false);
  });

  it('reads no further than the version of a command newer than this replica supports', () => {
    const future = SUPPORTED_VERSION + 1;
    const newer = JSON.stringify({ kind: 'createGroup', at: 1, session, v: future, name: 'team' });
    expect(decodeCommand(newer)).toEqual({ ok: false, newer: future, message: `the command needs Quorum version ${future}`, session });
    expect(decodeCommand(encodeCommand({ kind: 'clock', at: 1 }), 1)).toMatchObject({ ok: false, newer: 2 });
    expect(decodeCommand(JSON.stringify({ kind: 'createGroup', at: 1, v: 2 })).ok).toBe(false);
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
    // What a refusal says: which field, and why.
    expect(decodeCommand('{')).toEqual({ ok: false, message: 'command is not JSON' });
    expect(decodeCommand(JSON.stringify({ kind: 'logout', at: 1, session, tokenHash, v: 1 }))).toEqual({
      ok: false,
      message: 'malformed command: v: a version above 1 (absent for 1)',
      session,
    });
    expect(decodeCommand(JSON.stringify({ kind: 'send', at: 1, session, tokenHash, to: 'bob', text: '' }))).toEqual({
      ok: false,
      message: expect.stringMatching(/^malformed command: text: .+/),
      session,
    });
    expect(decodeCommand('[1]')).toEqual({ ok: false, message: expect.stringMatching(/^malformed command: command: .+/) });
    expect(decodeConfChange('{')).toEqual({ ok: false, message: 'conf change is not JSON' });
    expect(decodeConfChange('{"op":"promote"}')).toEqual({ ok: false, message: expect.stringMatching(/^malformed conf change: .+/) });
    const noId = decodeConfChange('{"op":"promote"}');
    expect(noId.ok ? 'decoded' : noId.message).not.toMatch(/invalid$/);
    // A token hash is base64url from its first character to its last.
    for (const bad of [`!${tokenHash}`, `${tokenHash}!`]) {
      expect(decodeCommand(JSON.stringify({ kind: 'logout', at: 1, session, tokenHash: bad })).ok, bad).toBe(false);
    }
  });

  it('parses conf changes and applies them with single-server rules', () => {
    expect(decodeConfChange('{"op":"promote","id":"n2"}')).toEqual({ ok: true, value: { op: 'promote', id: 'n2' } });
    expect(decodeConfChange('{"op":"addVoter","id":"n2"}').ok).toBe(false);
    for (const op of ['promote', 'demote', 'remove']) expect(decodeConfChange(JSON.stringify({ op, id: 'n2' })), op).toEqual({ ok: true, value: { op, id: 'n2' } });
    for (const op of ['addLearner', 'addVoter']) {
      expect(decodeConfChange(JSON.stringify({ op, id: 'n2', address: '10.0.0.2:7000' })), op).toEqual({ ok: true, value: { op, id: 'n2', address: '10.0.0.2:7000' } });
    }
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

  it('decodes a send exactly as the schema does (the hand-written fast path accepts nothing else)', () => {
    const str = (chars: string[], min: number, max: number) => fc.string({ unit: fc.constantFrom(...chars), minLength: min, maxLength: max });
    const idChars = ['a', 'Z', '0', '_', '-'];
    const odd = ['.', ' ', 'é', '😀', '/', '\n'];
    // Mostly valid fields (at the edges of their limits), each sometimes replaced by something else.
    const field = <T>(good: fc.Arbitrary<T>, ...bad: fc.Arbitrary<unknown>[]) =>
      fc.oneof({ arbitrary: good, weight: 12 }, ...bad.map((b) => ({ arbitrary: b, weight: 1 })));
    // An optional key: mostly absent (JSON drops undefined).
    const rarely = (present: fc.Arbitrary<unknown>) => fc.oneof({ arbitrary: fc.constant(undefined), weight: 6 }, { arbitrary: present, weight: 1 });
    const arb = fc.record({
      kind: field(fc.constant('send'), fc.constantFrom('read', 'Send', 1)),
      at: field(fc.constantFrom(0, 1_750_000_000_000, Number.MAX_SAFE_INTEGER), fc.constantFrom(-1, -0, 1.5, Number.MAX_SAFE_INTEGER + 2, '1', null)),
      session: field(
        fc.record(
          {
            clientId: field(str(idChars, 8, 64), str(idChars, 0, 7), str(idChars, 65, 70), str([...idChars, ...odd], 8, 12)),
            seq: field(fc.constantFrom(1, 7, Number.MAX_SAFE_INTEGER), fc.constantFrom(0, -1, 2.5, 2 ** 60, '7')),
            startIndex: rarely(field(fc.constantFrom(0, 12, Number.MAX_SAFE_INTEGER), fc.constantFrom(-1, 1.5, 2 ** 60, '3', null))),
          },
        ),
        fc.anything(),
        fc.constant({ clientId: 'client-123', seq: 1, extra: 1 }),
        fc.constant({ clientId: 'client-123' }),
      ),
      tokenHash: field(str(idChars, 16, 128), str(idChars, 0, 15), str(idChars, 129, 130), str([...idChars, ...odd], 16, 20)),
      to: field(str([...idChars, '.'], 1, 32), fc.constant(''), str(idChars, 33, 34), str([...idChars, ...odd], 1, 5)),
      text: field(fc.string({ minLength: 1, maxLength: 8 }), fc.constantFrom('', 'x'.repeat(4000), 'x'.repeat(4001), '😀'.repeat(2000), '😀'.repeat(2001), 5)),
      v: rarely(fc.constantFrom(2, 2, 1, 3, 2.5, '2')),
    });
    const shapes = fc.constantFrom('as is', 'extra key', 'missing key', '__proto__ key', 'array');
    let accepted = 0;
    fc.assert(
      fc.property(arb, shapes, (cmd, shape) => {
        let data = JSON.stringify(cmd);
        if (shape === 'extra key') data = JSON.stringify({ ...cmd, extra: 1 });
        if (shape === 'missing key') data = JSON.stringify({ ...cmd, to: undefined });
        if (shape === '__proto__ key') data = `{"__proto__":1,${data.slice(1)}`;
        if (shape === 'array') data = `[${data}]`;
        const raw: unknown = JSON.parse(data);
        // What it should be: the schema's verdict on the command without `v`, and `v` saying exactly what it needs.
        const { v, ...body } = (raw && typeof raw === 'object' && !Array.isArray(raw) ? raw : { notAnObject: raw }) as Record<string, unknown>;
        const schema = Command.safeParse(Array.isArray(raw) ? raw : body);
        const sane = (v === undefined || (Number.isSafeInteger(v) && (v as number) >= 2 && (v as number) <= 2)) && schema.success;
        const expected = sane && requiredVersion(schema.data) === (v ?? 1);
        const got = decodeCommand(data);
        expect(got.ok).toBe(expected);
        if (got.ok && schema.success) {
          accepted++;
          expect(got.value).toEqual(schema.data);
          expect(Object.keys(got.value)).toEqual(Object.keys(schema.data));
          expect(Object.keys((got.value as { session: object }).session)).toEqual(Object.keys((schema.data as { session: object }).session));
        }
      }),
      { seed: 77, numRuns: 4000 },
    );
    expect(accepted).toBeGreaterThan(200);
    // The common case takes the fast path and gives the schema's value, keys in the schema's order.
    const sent = { session, text: 'hello', to: 'Bob', tokenHash, kind: 'send', at: 5 };
    const got = decodeCommand(JSON.stringify(sent));
    expect(got).toEqual({ ok: true, value: Command.parse(sent), version: 1 });
    if (got.ok) expect(Object.keys(got.value)).toEqual(['at', 'session', 'kind', 'tokenHash', 'to', 'text']);
  });
});
