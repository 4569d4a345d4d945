/**
 * The RequestContext a RequestHandler (replica/node/requests.ts) gets when it runs over a Harness's state machine as
 * a lone leader: writes are applied at once, read barriers answer the applied index, nothing else is used unless a
 * test gives it in `overrides`. Not a test file itself.
 */
import pino from 'pino';
import type { ApplyOutcome } from '../../replica/chat/state-machine.js';
import type { RequestContext } from '../../replica/node/requests.js';
import { LoginThrottle } from '../../replica/security/login-throttle.js';
import type { Harness } from './chat-harness.js';

export function harnessRequestContext(h: Harness, overrides: Record<string, unknown> = {}): RequestContext {
  return {
    id: 'r1',
    address: '127.0.0.1:1',
    log: pino({ level: 'silent' }),
    driver: {
      isLeader: true,
      propose: (data: string): Promise<ApplyOutcome> => Promise.resolve(h.sm.applyEntries([h.raw(data)])[0]),
      readBarrier: () => Promise.resolve(h.sm.applied().index),
    },
    sm: () => h.sm,
    metrics: { requests: { inc: () => {} } },
    leaderHint: () => null,
    status: () => {
      throw new Error('not used');
    },
    now: () => h.at,
    pushBacklog: () => {},
    serving: () => true,
    diverged: () => false,
    secret: null,
    loginThrottle: new LoginThrottle(),
    transfer: () => Promise.reject(new Error('not used')),
    ...overrides,
  } as unknown as RequestContext;
}
