// Decoding a `send` entry at every boundary of its schema (replica/chat/commands.ts): the hand-written fast path and
// the schema must agree value for value, one past each limit is refused with the field named, and every other command
// kind refuses a missing field, an extra field and a wrong type.
import { describe, expect, it } from 'vitest';
import { Command, decodeCommand, encodeCommand } from '../../replica/chat/commands.js';
import { LIMITS } from '../../replica/protocol/limits.js';

const SEND = {
  at: 5,
  session: { clientId: 'abcdefgh', seq: 1 },
  kind: 'send',
  tokenHash: 'a'.repeat(16),
  to: 'bob',
  text: 'hi',
};
type Send = typeof SEND & Record<string, unknown>;
const variant = (over: Record<string, unknown>, session?: Record<string, unknown>): Send =>
  ({ ...SEND, ...over, ...(session ? { session: { ...SEND.session, ...session } } : {}) }) as Send;

describe('a send at its boundaries', () => {
  const accepted: [string, Send][] = [
    ['at 0', variant({ at: 0 })],
    ['the largest safe at', variant({ at: Number.MAX_SAFE_INTEGER })],
    ['a client id of 8', variant({}, { clientId: 'A1_-b2c3' })],
    [`a client id of ${LIMITS.clientIdMax}`, variant({}, { clientId: 'c'.repeat(LIMITS.clientIdMax) })],
    ['seq 1 with startIndex 0', variant({}, { seq: 1, startIndex: 0 })],
    ['a large seq and startIndex', variant({}, { seq: Number.MAX_SAFE_INTEGER, startIndex: 123456 })],
    ['a token hash of 16', variant({ tokenHash: 'A-_z'.repeat(4) })],
    ['a token hash of 128', variant({ tokenHash: 't'.repeat(128) })],
    [`a recipient of ${LIMITS.usernameMin}`, variant({ to: 'b'.repeat(LIMITS.usernameMin) })],
    [`a recipient of ${LIMITS.usernameMax} with . - _`, variant({ to: 'a.b-c_'.padEnd(LIMITS.usernameMax, 'x') })],
    [`a text of ${LIMITS.textMin}`, variant({ text: 'x'.repeat(LIMITS.textMin) })],
    [`a text of ${LIMITS.textMax}`, variant({ text: 'é'.repeat(LIMITS.textMax) })],
  ];
  for (const [name, send] of accepted) {
    it(`accepts ${name}, with exactly the schema's value`, () => {
      // Encoded as a leader does: a session stamped with startIndex needs version 2 (`v`).
      const data = encodeCommand(send as unknown as Command);
      const version = (JSON.parse(data) as { v?: number }).v ?? 1;
      expect(version).toBe('startIndex' in send.session ? 2 : 1);
      const decoded = decodeCommand(data);
      expect(decoded).toEqual({ ok: true, value: Command.parse(send), version });
      expect(decoded.ok && decoded.value).toEqual(send);
    });
  }

  const refused: [string, unknown, string][] = [
    ['a negative at', variant({ at: -1 }), 'at'],
    ['a fractional at', variant({ at: 1.5 }), 'at'],
    ['an unsafe at', variant({ at: Number.MAX_SAFE_INTEGER + 2 }), 'at'],
    ['a string at', variant({ at: '5' }), 'at'],
    ['no session', { ...SEND, session: undefined }, 'session'],
    ['a null session', variant({ session: null }), 'session'],
    ['an array session', variant({ session: [] }), 'session'],
    ['a session with an extra field', variant({}, { extra: 1 }), 'session'],
    ['a client id of 7', variant({}, { clientId: 'abcdefg' }), 'session.clientId'],
    [`a client id of ${LIMITS.clientIdMax + 1}`, variant({}, { clientId: 'c'.repeat(LIMITS.clientIdMax + 1) }), 'session.clientId'],
    ['a client id with a dot', variant({}, { clientId: 'abcd.efgh' }), 'session.clientId'],
    ['a numeric client id', variant({}, { clientId: 12345678 }), 'session.clientId'],
    ['seq 0', variant({}, { seq: 0 }), 'session.seq'],
    ['a fractional seq', variant({}, { seq: 1.5 }), 'session.seq'],
    ['a string seq', variant({}, { seq: '1' }), 'session.seq'],
    ['a negative startIndex', variant({}, { startIndex: -1 }), 'session.startIndex'],
    ['a fractional startIndex', variant({}, { startIndex: 0.5 }), 'session.startIndex'],
    ['a token hash of 15', variant({ tokenHash: 'a'.repeat(15) }), 'tokenHash'],
    ['a token hash of 129', variant({ tokenHash: 'a'.repeat(129) }), 'tokenHash'],
    ['a token hash with "="', variant({ tokenHash: 'a'.repeat(15) + '=' }), 'tokenHash'],
    ['a numeric token hash', variant({ tokenHash: 1234567890123456 }), 'tokenHash'],
    ['an empty recipient', variant({ to: '' }), 'to'],
    [`a recipient of ${LIMITS.usernameMax + 1}`, variant({ to: 'b'.repeat(LIMITS.usernameMax + 1) }), 'to'],
    ['a recipient with a space', variant({ to: 'bo b' }), 'to'],
    ['a numeric recipient', variant({ to: 7 }), 'to'],
    ['an empty text', variant({ text: '' }), 'text'],
    [`a text of ${LIMITS.textMax + 1}`, variant({ text: 'x'.repeat(LIMITS.textMax + 1) }), 'text'],
    ['a numeric text', variant({ text: 5 }), 'text'],
    ['an extra field', variant({ extra: true }), 'command'],
    ['no text', { ...SEND, text: undefined }, 'text'],
  ];
  for (const [name, send, field] of refused) {
    it(`refuses ${name}, naming ${field}`, () => {
      const decoded = decodeCommand(JSON.stringify(send));
      expect(decoded.ok).toBe(false);
      expect(Command.safeParse(send).success).toBe(false);
      if (!decoded.ok) expect(decoded.message).toMatch(new RegExp(`^malformed command: ${field.replace('.', '\\.')}: `));
    });
  }

  it('refuses a send that declares a version it does not need, and an entry that is not an object', () => {
    expect(decodeCommand(JSON.stringify({ ...SEND, v: 3 }))).toMatchObject({
      ok: false,
      message: 'malformed command: it declares version 3 but needs 1',
      session: SEND.session,
    });
    expect(decodeCommand('[1,2]')).toMatchObject({ ok: false, message: expect.stringMatching(/^malformed command: command: /) });
    expect(decodeCommand('"send"')).toMatchObject({ ok: false });
    expect(decodeCommand('{')).toEqual({ ok: false, message: 'command is not JSON' });
  });
});
