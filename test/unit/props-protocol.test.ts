/**
 * Property tests (fast-check, seeded) of the client wire schemas (replica/protocol/client.ts):
 * - any JSON value or JS value: parsing never throws, and what is accepted survives a JSON round trip unchanged;
 * - every well-formed request of every op is accepted as is (no field dropped or rewritten);
 * - an unknown key, a wrongly typed field, an out-of-range number or a prototype-pollution key makes it refused;
 * - nothing a hostile frame contains reaches Object.prototype;
 * - the schema clients use for server frames never throws on anything;
 * - peer frames: well-formed Raft messages pass unchanged, malformed ones never do, MAC comparison never throws.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ClientRequest, ServerFrameSchema, WRITE_OPS } from '../../replica/protocol/client.js';
import { LIMITS } from '../../replica/protocol/limits.js';
import { AuthFrame, MessagesFrame, PeerFrame } from '../../replica/protocol/peer.js';
import { macEqual } from '../../replica/net/peer-auth.js';

const SEED = 0x9e0c01;
const RUNS = 300;
const opts = (numRuns = RUNS) => ({ seed: SEED, numRuns });

// ---------------------------------------------------------------- arbitraries of well-formed requests

const usernameChars = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-'.split(''));
const username = fc.string({ unit: usernameChars, minLength: 1, maxLength: LIMITS.usernameMax });
const password = fc.string({ minLength: LIMITS.passwordMin, maxLength: 64 });
const text = fc.string({ unit: 'binary', minLength: 1, maxLength: 200 });
const messageId = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });
const limit = fc.integer({ min: 1, max: LIMITS.pageMax });
const requestId = fc.oneof(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.string({ minLength: 1, maxLength: 64 }));
const clientIdChars = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-'.split(''));
const session = fc.record({ clientId: fc.string({ unit: clientIdChars, minLength: 8, maxLength: LIMITS.clientIdMax }), seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }) });
const token = fc.string({ unit: clientIdChars, minLength: 32, maxLength: LIMITS.tokenMax });
const pattern = fc.string({ unit: fc.constantFrom('a', 'B', '7', '_', '.', '-', '*', '?'), maxLength: LIMITS.patternMax });
const hex64 = fc.string({ unit: fc.constantFrom(...'0123456789abcdef'.split('')), minLength: 64, maxLength: 64 });
const replicaId = fc.string({ unit: usernameChars, minLength: 1, maxLength: 64 });

/** Optional fields: present or absent (never `undefined`, which JSON cannot carry). */
function withOptional<T extends Record<string, unknown>>(base: fc.Arbitrary<T>, optional: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<T> {
  const keys = Object.keys(optional);
  return fc.tuple(base, fc.record(optional, { requiredKeys: [] }), fc.subarray(keys)).map(([b, o, ks]) => {
    const out: Record<string, unknown> = { ...b };
    for (const k of ks) if (k in o) out[k] = (o as Record<string, unknown>)[k];
    return out as T;
  });
}

const requests: Record<string, fc.Arbitrary<Record<string, unknown>>> = {
  signup: fc.record({ id: requestId, op: fc.constant('signup'), username, password, session }),
  login: withOptional(fc.record({ id: requestId, op: fc.constant('login'), username, password, token, session }), { after: fc.nat() }),
  resume: withOptional(fc.record({ id: requestId, op: fc.constant('resume'), token }), { after: fc.nat() }),
  logout: fc.record({ id: requestId, op: fc.constant('logout'), session }),
  accounts: withOptional(fc.record({ id: requestId, op: fc.constant('accounts') }), { pattern, limit, pageToken: fc.string({ maxLength: 40 }) }),
  send: fc.record({ id: requestId, op: fc.constant('send'), to: username, text, session }),
  read: withOptional(fc.record({ id: requestId, op: fc.constant('read'), session }), { limit }),
  history: withOptional(fc.record({ id: requestId, op: fc.constant('history'), with: username }), { limit, before: messageId }),
  conversations: withOptional(fc.record({ id: requestId, op: fc.constant('conversations') }), { limit }),
  markRead: fc.record({ id: requestId, op: fc.constant('markRead'), with: username, upTo: messageId, session }),
  delivered: fc.record({ id: requestId, op: fc.constant('delivered'), upTo: messageId, session }),
  delete: fc.record({ id: requestId, op: fc.constant('delete'), ids: fc.array(messageId, { minLength: 1, maxLength: LIMITS.deleteMax }), session }),
  deleteAccount: fc.record({ id: requestId, op: fc.constant('deleteAccount'), password, session }),
  status: fc.record({ id: requestId, op: fc.constant('status') }),
  admin: fc.record({ id: requestId, op: fc.constant('admin'), scope: fc.string({ minLength: 1, maxLength: 400 }), mac: hex64 }),
  clusterChange: fc.record({
    id: requestId,
    op: fc.constant('clusterChange'),
    change: fc.oneof(
      fc.record({ op: fc.constantFrom('addLearner', 'addVoter'), id: replicaId, address: fc.tuple(fc.constantFrom('10.0.0.1', 'host.lan', '[::1]'), fc.integer({ min: 1, max: 65535 })).map(([h, p]) => `${h}:${p}`) }),
      fc.record({ op: fc.constantFrom('promote', 'demote', 'remove'), id: replicaId }),
    ),
  }),
  transfer: withOptional(fc.record({ id: requestId, op: fc.constant('transfer') }), { to: replicaId }),
  resync: fc.record({ id: requestId, op: fc.constant('resync'), replica: replicaId }),
};
const anyRequest = fc.oneof(...Object.values(requests));

/** A JSON-ish value of some other type than `v` (for wrong-type mutations). */
function otherType(v: unknown): fc.Arbitrary<unknown> {
  const all: [string, fc.Arbitrary<unknown>][] = [
    ['string', fc.string({ maxLength: 5 })],
    ['number', fc.double({ noNaN: true })],
    ['boolean', fc.boolean()],
    ['null', fc.constant(null)],
    ['array', fc.array(fc.integer(), { maxLength: 3 })],
    ['object', fc.dictionary(fc.string({ maxLength: 3 }), fc.integer(), { maxKeys: 2 })],
  ];
  const t = v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
  return fc.oneof(...all.filter(([k]) => k !== t).map(([, a]) => a));
}

describe('client request schema (property)', () => {
  it('never throws on any JSON value, and what it accepts is a plain JSON round trip of itself', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), anyRequest), (v) => {
        const r = ClientRequest.safeParse(v);
        if (r.success) expect(JSON.parse(JSON.stringify(r.data))).toEqual(r.data);
      }),
      opts(1000),
    );
    fc.assert(
      fc.property(fc.anything({ withBigInt: true, withDate: true, withMap: true, withSet: true, withTypedArray: true, withNullPrototype: true }), (v) => {
        expect(() => ClientRequest.safeParse(v)).not.toThrow();
      }),
      opts(500),
    );
  });

  for (const [op, arb] of Object.entries(requests)) {
    it(`accepts every well-formed ${op} request unchanged`, () => {
      fc.assert(
        fc.property(arb, (req) => {
          const r = ClientRequest.safeParse(JSON.parse(JSON.stringify(req)));
          expect(r.success, JSON.stringify(r.error?.issues?.[0])).toBe(true);
          expect(r.data).toEqual(req);
        }),
        opts(150),
      );
    });
  }

  it('refuses a request with any extra key, at the top or inside the session', () => {
    const extraKey = fc.string({ minLength: 1, maxLength: 12 });
    fc.assert(
      fc.property(anyRequest, extraKey, fc.jsonValue(), (req, key, value) => {
        fc.pre(!(key in req));
        expect(ClientRequest.safeParse({ ...req, [key]: value }).success).toBe(false);
        if (req.session && key !== 'clientId' && key !== 'seq') {
          expect(ClientRequest.safeParse({ ...req, session: { ...(req.session as object), [key]: value } }).success).toBe(false);
        }
      }),
      opts(),
    );
  });

  it('refuses a request when any one field has the wrong type', () => {
    const mutated = anyRequest.chain((req) => {
      const keys = Object.keys(req).filter((k) => k !== 'op');
      return fc.constantFrom(...keys).chain((k) => otherType(req[k]).map((v) => ({ req, k, v })));
    });
    fc.assert(
      fc.property(mutated, ({ req, k, v }) => {
        // A string id that is a number-like string is still a valid id; other type swaps must fail.
        fc.pre(!(k === 'id' && (typeof v === 'string' ? v.length >= 1 && v.length <= 64 : typeof v === 'number' && Number.isSafeInteger(v) && v >= 0)));
        expect(ClientRequest.safeParse({ ...req, [k]: v }).success, `${k} = ${JSON.stringify(v)}`).toBe(false);
      }),
      opts(500),
    );
  });

  it('refuses out-of-range numbers: negative, fractional, beyond 2^53, infinite', () => {
    const bad = fc.oneof(fc.integer({ max: -1 }), fc.double({ min: 0.001, max: 1e6, noInteger: true, noNaN: true }), fc.constantFrom(2 ** 53, 2 ** 60, 1e21, 1e308, Infinity, -Infinity, NaN));
    fc.assert(
      fc.property(bad, session, (n, s) => {
        expect(ClientRequest.safeParse({ id: n, op: 'status' }).success).toBe(false);
        expect(ClientRequest.safeParse({ id: 1, op: 'send', to: 'bob', text: 'x', session: { ...s, seq: n } }).success).toBe(false);
        expect(ClientRequest.safeParse({ id: 1, op: 'history', with: 'bob', limit: n }).success).toBe(false);
        expect(ClientRequest.safeParse({ id: 1, op: 'delete', ids: [n], session: s }).success).toBe(false);
      }),
      opts(),
    );
  });

  it('refuses prototype-pollution keys anywhere, and parsing them pollutes nothing', () => {
    const polluter = fc.constantFrom('__proto__', 'constructor', 'prototype');
    const payload = fc.dictionary(fc.constantFrom('polluted', 'isAdmin', 'toString'), fc.jsonValue(), { minKeys: 1, maxKeys: 2 });
    fc.assert(
      fc.property(anyRequest, polluter, payload, fc.boolean(), (req, key, value, nested) => {
        // Built as text and parsed the way the endpoint does, so "__proto__" is an own key as it would be on the wire.
        const body = JSON.stringify(req);
        const inject = `"${key}":${JSON.stringify(key === 'constructor' ? { prototype: value } : value)}`;
        let wire: string;
        if (nested && req.session) wire = body.replace('"session":{', () => `"session":{${inject},`);
        else wire = `{${inject},${body.slice(1)}`;
        const parsed = JSON.parse(wire);
        expect(ClientRequest.safeParse(parsed).success, wire.slice(0, 120)).toBe(false);
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
        expect(Object.prototype.toString.call({})).toBe('[object Object]');
      }),
      opts(),
    );
  });

  it('write ops need a session, reads must not carry one', () => {
    fc.assert(
      fc.property(anyRequest, session, (req, s) => {
        const isWrite = (WRITE_OPS as readonly string[]).includes(req.op as string);
        if (isWrite) {
          const { session: _, ...without } = req;
          expect(ClientRequest.safeParse(without).success).toBe(false);
        } else if (!('session' in req)) {
          expect(ClientRequest.safeParse({ ...req, session: s }).success).toBe(false);
        }
      }),
      opts(),
    );
  });

  it('enforces the size limits on names, texts, passwords and id lists', () => {
    fc.assert(
      fc.property(session, fc.integer({ min: 1, max: 3 }), (s, extra) => {
        expect(ClientRequest.safeParse({ id: 1, op: 'send', to: 'bob', text: 'x'.repeat(LIMITS.textMax + extra), session: s }).success).toBe(false);
        expect(ClientRequest.safeParse({ id: 1, op: 'send', to: 'b'.repeat(LIMITS.usernameMax + extra), text: 'x', session: s }).success).toBe(false);
        expect(ClientRequest.safeParse({ id: 1, op: 'signup', username: 'bob', password: 'p'.repeat(LIMITS.passwordMax + extra), session: s }).success).toBe(false);
        expect(ClientRequest.safeParse({ id: 1, op: 'signup', username: 'bob', password: 'p'.repeat(LIMITS.passwordMin - extra), session: s }).success).toBe(false);
        expect(ClientRequest.safeParse({ id: 1, op: 'delete', ids: Array.from({ length: LIMITS.deleteMax + extra }, (_, i) => i + 1), session: s }).success).toBe(false);
        expect(ClientRequest.safeParse({ id: 1, op: 'send', to: 'bob', text: '', session: s }).success).toBe(false);
      }),
      opts(20),
    );
  });
});

describe('server frame schema (property)', () => {
  it('never throws on anything a hostile server could send', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.anything()), (v) => {
        expect(() => ServerFrameSchema.safeParse(v)).not.toThrow();
      }),
      opts(1000),
    );
  });

  it('accepts well-formed responses and pushes, refuses ones missing their discriminating fields', () => {
    const chat = fc.record({ id: messageId, from: username, to: username, text, sentAt: fc.nat(), deliveredAt: fc.option(fc.nat()), readAt: fc.option(fc.nat()) });
    const frame = fc.oneof(
      fc.record({ type: fc.constant('response'), id: requestId, ok: fc.constant(true), result: fc.jsonValue() }),
      fc.record({ type: fc.constant('response'), id: requestId, ok: fc.constant(false), error: fc.record({ code: fc.constantFrom('INVALID', 'NOT_LEADER', 'TIMEOUT'), message: fc.string() }) }),
      fc.record({ type: fc.constant('push'), event: fc.constant('message'), message: chat }),
      fc.record({ type: fc.constant('push'), event: fc.constant('deleted'), ids: fc.array(messageId) }),
    );
    fc.assert(
      fc.property(frame, fc.constantFrom('type', 'ok', 'event', 'id'), (f, drop) => {
        expect(ServerFrameSchema.safeParse(f).success).toBe(true);
        if (drop in f && !(drop === 'id' && f.type === 'push')) {
          const { [drop]: _, ...rest } = f as Record<string, unknown>;
          expect(ServerFrameSchema.safeParse(rest).success).toBe(false);
        }
      }),
      opts(),
    );
  });
});

describe('peer frame schemas (property)', () => {
  const nodeId = fc.string({ unit: usernameChars, minLength: 1, maxLength: 64 });
  const index = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
  const entry = fc.record({ index, term: index, type: fc.constantFrom('normal', 'conf'), data: fc.string({ maxLength: 100 }) });
  const raftMessage = withOptional(
    fc.record({ type: fc.constantFrom('preVote', 'vote', 'app', 'appResp', 'heartbeat', 'heartbeatResp', 'snap', 'snapResp', 'timeoutNow', 'readIndex', 'readIndexResp'), from: nodeId, to: nodeId, term: index }),
    { index, logTerm: index, commit: index, reject: fc.boolean(), rejectHint: index, entries: fc.array(entry, { maxLength: 5 }), context: fc.string({ maxLength: 128 }) },
  );

  it('accepts well-formed Raft messages unchanged and refuses negative, fractional or unsafe numbers and unknown keys', () => {
    fc.assert(
      fc.property(raftMessage, fc.constantFrom(-1, 0.5, 2 ** 53, Infinity), fc.string({ minLength: 1, maxLength: 8 }), (m, bad, key) => {
        const ok = MessagesFrame.safeParse({ t: 'msgs', ms: [m] });
        expect(ok.success).toBe(true);
        expect(ok.data!.ms[0]).toEqual(m);
        expect(MessagesFrame.safeParse({ t: 'msgs', ms: [{ ...m, term: bad }] }).success).toBe(false);
        fc.pre(!(key in m));
        expect(MessagesFrame.safeParse({ t: 'msgs', ms: [{ ...m, [key]: 1 }] }).success).toBe(false);
      }),
      opts(),
    );
  });

  it('never throws on anything, before or after authentication', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.anything()), (v) => {
        expect(() => PeerFrame.safeParse(v)).not.toThrow();
        expect(() => AuthFrame.safeParse(v)).not.toThrow();
      }),
      opts(1000),
    );
  });

  it('a MAC comparison never throws and holds only for the same 32 bytes', () => {
    expect(macEqual('', '')).toBe(false);
    fc.assert(
      fc.property(fc.string({ maxLength: 70 }), hex64, hex64, fc.nat(63), fc.integer({ min: 1, max: 15 }), (s, h, other, at, flip) => {
        expect(() => macEqual(s, h)).not.toThrow();
        expect(macEqual(h, h)).toBe(true);
        // MACs reach the comparison as 64 lowercase hex digits (the frame schemas check that): any other such string,
        // including one that differs in a single digit, is refused.
        const near = h.slice(0, at) + ((parseInt(h[at], 16) ^ flip).toString(16)) + h.slice(at + 1);
        expect(macEqual(near, h)).toBe(false);
        if (other !== h) expect(macEqual(other, h)).toBe(false);
      }),
      opts(),
    );
  });
});
