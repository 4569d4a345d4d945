/**
 * The outbox: messages written here and not yet committed by the cluster. They go out one at a time, in order. Each
 * entry is handed to the client library exactly once; the library resends it across reconnects with the same session
 * seq, so the cluster applies it once. Only a definite refusal (which changed nothing) puts an entry back in the queue.
 */
import { LIMITS } from '../../../replica/protocol/limits.js';
import type { ChatMessage } from '../net/api.js';
import { isRetryableRefusal, readableError } from '../errors.js';
import type { GetState, SetState, SliceDeps } from './store-deps.js';

/** A message written here and not yet committed by the cluster. */
export interface OutboxEntry {
  localId: string;
  to: string;
  text: string;
  createdAt: number;
  /** queued: waiting (or being resent by the client library); failed: refused, needs the user. */
  state: 'queued' | 'failed';
  /** True once handed to the client library: from then on only the library resends it (same session seq). */
  handedOver: boolean;
  error?: string;
}

export interface OutboxState {
  outbox: OutboxEntry[];
}

export interface OutboxActions {
  /** Queues a message (false if there is nothing to send, nobody is logged in, or it is too long). */
  send(to: string, text: string): boolean;
  /** Queues a refused message again. */
  retry(localId: string): void;
  /** Drops a message that is not in flight. */
  discard(localId: string): void;
}

export interface OutboxOps {
  sendNext(): void;
  /**
   * The cluster pushes my own messages to my connections too (other devices), often before it answers the send: the
   * in-flight entry is then committed; drop it now, or the message shows twice (queued and sent).
   */
  dropEcho(m: ChatMessage): void;
}

export function createOutboxSlice(set: SetState, get: GetState, { api, env, login, ops }: SliceDeps): [OutboxState & OutboxActions, OutboxOps] {
  let nextLocal = 1;

  const sendNext = () => {
    if (login.inFlight) return;
    const s = get();
    if (!s.user || s.conn.status === 'closed') return;
    const next = s.outbox.find((e) => e.state === 'queued');
    if (!next) return;
    // Do not hammer a read-only cluster: a refused entry waits for the next state change.
    if (s.conn.readOnly && next.handedOver === false && next.error) return;
    login.inFlight = next.localId;
    const epoch = login.epoch;
    set((st) => ({ outbox: st.outbox.map((e) => (e.localId === next.localId ? { ...e, handedOver: true, error: undefined } : e)) }));
    api.send(next.to, next.text).then(
      (r) => {
        if (epoch !== login.epoch) return;
        login.inFlight = null;
        const me = get().user!;
        set((st) => ({ outbox: st.outbox.filter((e) => e.localId !== next.localId) }));
        ops.addCommitted({ id: r.id, from: me, to: next.to, text: next.text, sentAt: r.sentAt, deliveredAt: null, readAt: null });
        sendNext();
      },
      (err) => {
        if (epoch !== login.epoch) return;
        login.inFlight = null;
        const retry = isRetryableRefusal(err);
        set((st) => ({
          outbox: st.outbox.map((e) =>
            e.localId === next.localId ? { ...e, state: retry ? 'queued' : 'failed', handedOver: false, error: readableError(err) } : e,
          ),
        }));
        // A refused entry is retried on the next connection state change (or shortly); later ones wait behind it.
        if (retry) env.setTimeout(sendNext, 2000);
        else sendNext();
      },
    );
  };

  const dropEcho = (m: ChatMessage) => {
    const s = get();
    const sending = login.inFlight && s.user && m.from === s.user ? s.outbox.find((e) => e.localId === login.inFlight) : undefined;
    if (sending && sending.to === m.to && sending.text === m.text) set((st) => ({ outbox: st.outbox.filter((e) => e.localId !== sending.localId) }));
  };

  const slice: OutboxState & OutboxActions = {
    outbox: [],

    send(to, text) {
      if (text.trim() === '' || !get().user) return false;
      if (text.length > LIMITS.textMax) {
        get().toast(`Messages can have at most ${LIMITS.textMax} characters.`, 'error');
        return false;
      }
      const entry: OutboxEntry = { localId: `local-${nextLocal++}`, to, text, createdAt: env.now(), state: 'queued', handedOver: false };
      set((s) => ({ outbox: [...s.outbox, entry], drafts: { ...s.drafts, [to]: '' } }));
      sendNext();
      return true;
    },

    retry(localId) {
      set((s) => ({ outbox: s.outbox.map((e) => (e.localId === localId && e.state === 'failed' ? { ...e, state: 'queued', error: undefined } : e)) }));
      sendNext();
    },

    discard(localId) {
      if (login.inFlight === localId) return;
      set((s) => ({ outbox: s.outbox.filter((e) => e.localId !== localId) }));
    },
  };
  return [slice, { sendNext, dropEcho }];
}
