/**
 * The outbox: messages written here and not yet committed by the cluster. They go out one at a time, in order. Each
 * entry is handed to the client library exactly once per run; the library resends it across reconnects with the same
 * session seq, so the cluster applies it once. Entries are kept on the device (AppEnv.outboxStore) with the session
 * the library gave them, so after a reload or restart they go out again in that same session: still applied once.
 * Only a definite refusal (which changed nothing) puts an entry back in the queue.
 */
import { LIMITS } from '../../../replica/protocol/limits.js';
import type { ClientSession } from '../../../replica/protocol/client.js';
import type { ChatMessage, KeptWrite } from '../net/api.js';
import { QuorumError } from '../../../replica/protocol/errors.js';
import { groupOf } from './messages.js';
import { errorCode, isRetryableRefusal, sendError } from '../errors.js';
import type { GetState, KeptOutboxEntry, SetState, SliceDeps } from './store-deps.js';

/** A message written here and not yet committed by the cluster. */
export interface OutboxEntry {
  /** Unique on this device (kept entries outlive the run that made them). */
  localId: string;
  /** Position in the outbox: entries go out in this order. */
  order: number;
  to: string;
  text: string;
  createdAt: number;
  /** queued: waiting (or being resent by the client library); failed: refused, needs the user. */
  state: 'queued' | 'failed';
  /** True once handed to the client library in this run: from then on only the library resends it (same session seq). */
  handedOver: boolean;
  /**
   * The session the client library gave it (kept before it went out): a later run, or a Retry, sends it in this same
   * session so the cluster applies it at most once. Absent: never handed over.
   */
  session?: ClientSession;
  /** What went wrong last (the client library's message), for the person. */
  error?: string;
  /** The code of that error: TIMEOUT and SESSION_EXPIRED mean "not confirmed" (it may have been applied). */
  errorCode?: string;
}

/** The entry as kept on the device. */
function kept(entry: OutboxEntry): KeptOutboxEntry {
  const { handedOver: _handedOver, ...rest } = entry;
  return rest;
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
  loadKept(user: string): Promise<void>;
}

export function createOutboxSlice(set: SetState, get: GetState, { api, env, login, ops }: SliceDeps): [OutboxState & OutboxActions, OutboxOps] {
  let nextOrder = 1;
  const store = env.outboxStore;

  /** Writes the entry to the device; a failing store is said once (the outbox then lives in memory). */
  const keep = (owner: string, entry: OutboxEntry): Promise<void> =>
    store ? store.put(owner, kept(entry)).catch((err: unknown) => env.onStorageError?.(err)) : Promise.resolve();
  const unkeep = (owner: string, localId: string) => void store?.remove(owner, localId).catch((err: unknown) => env.onStorageError?.(err));
  const patch = (localId: string, change: Partial<OutboxEntry>) => {
    set((st) => ({ outbox: st.outbox.map((e) => (e.localId === localId ? { ...e, ...change } : e)) }));
    const me = get().user;
    const entry = get().outbox.find((e) => e.localId === localId);
    return me && entry ? keep(me, entry) : Promise.resolve();
  };

  const loadKept = async (user: string) => {
    const epoch = login.epoch;
    let entries: KeptOutboxEntry[] = [];
    try {
      entries = store ? await store.load(user) : [];
    } catch (err) {
      env.onStorageError?.(err);
    }
    if (epoch !== login.epoch) return;
    login.keptLoaded = true;
    if (entries.length) {
      set((st) => {
        const here = new Set(st.outbox.map((e) => e.localId));
        const loaded: OutboxEntry[] = entries.filter((e) => !here.has(e.localId)).map((e) => ({ ...e, handedOver: false }));
        return { outbox: [...loaded, ...st.outbox].sort((a, b) => a.order - b.order) };
      });
    }
    nextOrder = Math.max(nextOrder, ...get().outbox.map((e) => e.order + 1));
    sendNext();
  };

  const sendNext = () => {
    if (login.inFlight || login.resuming || !login.keptLoaded) return;
    const s = get();
    if (!s.user || s.conn.status === 'closed') return;
    const next = s.outbox.find((e) => e.state === 'queued');
    if (!next) return;
    // Do not hammer a read-only cluster: a refused entry waits for the next state change.
    if (s.conn.readOnly && next.handedOver === false && next.error) return;
    login.inFlight = next.localId;
    const epoch = login.epoch;
    const me = s.user;
    set((st) => ({ outbox: st.outbox.map((e) => (e.localId === next.localId ? { ...e, handedOver: true, error: undefined, errorCode: undefined } : e)) }));
    // `#name` is a group: the same write, through groupSend.
    const group = groupOf(next.to);
    const sendOne = (kept: KeptWrite) =>
      group === null
        ? api.send(next.to, next.text, kept)
        : api.team
          ? api.team.sendToGroup(group, next.text, kept)
          : Promise.reject(new QuorumError('UNSUPPORTED_BY_CLUSTER', 'this connection cannot send to groups'));
    const sending = next.session
      ? sendOne({ session: next.session })
      : sendOne({
          // Kept on the device before the library sends it: a reload then sends this same write again.
          keepSession: (session) => (epoch === login.epoch ? patch(next.localId, { session }) : Promise.resolve()),
        });
    sending.then(
      (r) => {
        if (epoch !== login.epoch) return;
        login.inFlight = null;
        set((st) => ({ outbox: st.outbox.filter((e) => e.localId !== next.localId) }));
        unkeep(me, next.localId);
        ops.addCommitted({ id: r.id, from: me, to: next.to, text: next.text, sentAt: r.sentAt, deliveredAt: null, readAt: null, ...(group !== null ? { group } : {}) });
        sendNext();
      },
      (err) => {
        if (epoch !== login.epoch) return;
        login.inFlight = null;
        const retry = isRetryableRefusal(err);
        void patch(next.localId, { state: retry ? 'queued' : 'failed', handedOver: false, error: sendError(err), errorCode: errorCode(err) ?? undefined });
        // A refused entry is retried on the next connection state change (or shortly); later ones wait behind it.
        if (retry) env.setTimeout(sendNext, 2000);
        else sendNext();
      },
    );
  };

  const dropEcho = (m: ChatMessage) => {
    const s = get();
    const sending = login.inFlight && s.user && m.from === s.user ? s.outbox.find((e) => e.localId === login.inFlight) : undefined;
    if (sending && sending.to === m.to && sending.text === m.text) {
      set((st) => ({ outbox: st.outbox.filter((e) => e.localId !== sending.localId) }));
      unkeep(s.user!, sending.localId);
    }
  };

  const slice: OutboxState & OutboxActions = {
    outbox: [],

    send(to, text) {
      const me = get().user;
      if (text.trim() === '' || !me) return false;
      if (text.length > LIMITS.textMax) {
        get().toast(`Messages can have at most ${LIMITS.textMax} characters.`, 'error');
        return false;
      }
      // Ordered by the clock (so kept entries of an earlier run come first), strictly increasing within this run.
      const order = Math.max(env.now(), nextOrder);
      nextOrder = order + 1;
      const entry: OutboxEntry = { localId: newLocalId(env.now()), order, to, text, createdAt: env.now(), state: 'queued', handedOver: false };
      set((s) => ({ outbox: [...s.outbox, entry], drafts: { ...s.drafts, [to]: '' } }));
      void keep(me, entry);
      ops.sentIn(to);
      sendNext();
      return true;
    },

    retry(localId) {
      const entry = get().outbox.find((e) => e.localId === localId && e.state === 'failed');
      if (!entry) return;
      // The same session again, so a write that was applied after all is not applied twice; an expired session
      // cannot say, so the person (who checked) sends it as a new write.
      const session = entry.errorCode === 'SESSION_EXPIRED' ? undefined : entry.session;
      void patch(localId, { state: 'queued', error: undefined, errorCode: undefined, session });
      sendNext();
    },

    discard(localId) {
      const me = get().user;
      if (login.inFlight === localId || !me) return;
      set((s) => ({ outbox: s.outbox.filter((e) => e.localId !== localId) }));
      unkeep(me, localId);
    },
  };
  return [slice, { sendNext, dropEcho, loadKept }];
}

let localCounter = 0;

/** An id no other entry on this device has: time, a counter and randomness (kept entries outlive this run). */
function newLocalId(now: number): string {
  localCounter += 1;
  const random = Math.floor(Math.random() * 0x1_0000_0000).toString(36);
  return `local-${now.toString(36)}-${localCounter}-${random}`;
}
