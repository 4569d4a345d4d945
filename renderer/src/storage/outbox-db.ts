/**
 * The outbox kept on this device (IndexedDB, in the web client and the desktop window alike), so a reload, a closed
 * tab or an app restart loses no queued message. Each entry belongs to an account and to the tab that wrote it; a tab
 * holds a Web Lock named after itself for as long as it lives, so entries whose tab is gone (closed, or the app
 * restarted) are adopted by the next tab of that account, and two open tabs never send the same entry.
 */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { KeptOutboxEntry, OutboxStore } from '../store/store-deps.js';

interface StoredEntry extends KeptOutboxEntry {
  /** The account the entry belongs to. */
  owner: string;
  /** The tab that holds it (adopted by another tab once this one is gone). */
  tab: string;
}

interface OutboxSchema extends DBSchema {
  outbox: { key: [string, string]; value: StoredEntry; indexes: { owner: string } };
}

/** The part of the Web Locks API used here (navigator.locks); absent: every entry of the account is this tab's. */
export interface LocksLike {
  request(name: string, options: { ifAvailable?: boolean }, callback: (lock: unknown) => Promise<unknown>): Promise<unknown>;
  query(): Promise<{ held?: { name?: string }[] }>;
}

const DB_NAME = 'quorum';
const TAB_LOCK = 'quorum-tab:';
const ADOPT_LOCK = 'quorum-outbox-adopt';

/** 128 random bits in hex. getRandomValues, not randomUUID: a web client opened over plain http from another machine is not a secure context. */
function randomTabId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Where a tab keeps its id so it survives the tab's reloads (sessionStorage). */
export interface TabIdStore {
  get(): string | null;
  set(id: string): void;
}

/**
 * The id of this tab, and its lock held until the page goes away. A tab duplicated by the browser copies its
 * sessionStorage, id included: the copy finds the lock taken and picks a new id.
 */
async function claimTab(ids: TabIdStore, locks: LocksLike | null, newId: () => string): Promise<string> {
  let id = ids.get();
  if (!id) {
    id = newId();
    ids.set(id);
  }
  if (!locks) return id;
  const hold = (name: string, ifAvailable: boolean) =>
    new Promise<boolean>((resolve) => {
      void locks
        .request(TAB_LOCK + name, { ifAvailable }, (lock) => {
          resolve(lock !== null);
          // Never released while the page lives: the browser releases it when the tab closes or reloads.
          return lock === null ? Promise.resolve() : new Promise(() => {});
        })
        .catch(() => resolve(false));
    });
  if (await hold(id, true)) return id;
  id = newId();
  ids.set(id);
  await hold(id, true);
  return id;
}

/** Opens the kept outbox of this tab (its id kept in `ids`); `locks` is navigator.locks where there is one. */
export function openOutboxStore(ids: TabIdStore, locks: LocksLike | null, newId: () => string = randomTabId): OutboxStore {
  const claimed = claimTab(ids, locks, newId);
  let db: Promise<IDBPDatabase<OutboxSchema>> | null = null;
  const database = () =>
    (db ??= openDB<OutboxSchema>(DB_NAME, 1, {
      upgrade(upgrading) {
        const store = upgrading.createObjectStore('outbox', { keyPath: ['owner', 'localId'] });
        store.createIndex('owner', 'owner');
      },
    }).catch((err: unknown) => {
      db = null;
      throw err;
    }));
  const liveTabs = async (): Promise<Set<string> | null> => {
    if (!locks) return null;
    const { held = [] } = await locks.query();
    return new Set(held.map((l) => l.name ?? '').filter((n) => n.startsWith(TAB_LOCK)).map((n) => n.slice(TAB_LOCK.length)));
  };

  const adopt = async (owner: string): Promise<KeptOutboxEntry[]> => {
    const tab = await claimed;
    const d = await database();
    const live = await liveTabs();
    const mine: StoredEntry[] = [];
    for (const entry of await d.getAllFromIndex('outbox', 'owner', owner)) {
      if (entry.tab === tab || !live || !live.has(entry.tab)) mine.push(entry.tab === tab ? entry : { ...entry, tab });
    }
    const tx = d.transaction('outbox', 'readwrite');
    await Promise.all([...mine.map((e) => tx.store.put(e)), tx.done]);
    return mine.sort((a, b) => a.order - b.order).map(({ owner: _owner, tab: _tab, ...entry }) => entry);
  };

  return {
    async load(owner) {
      // One tab adopts at a time, so two tabs starting together never both take the same orphaned entries.
      if (!locks) return adopt(owner);
      let result: KeptOutboxEntry[] = [];
      await locks.request(ADOPT_LOCK, {}, async () => {
        result = await adopt(owner);
      });
      return result;
    },
    async put(owner, entry) {
      const tab = await claimed;
      await (await database()).put('outbox', { ...entry, owner, tab });
    },
    async remove(owner, localId) {
      await (await database()).delete('outbox', [owner, localId]);
    },
    async clear(owner) {
      const tab = await claimed;
      const d = await database();
      const tx = d.transaction('outbox', 'readwrite');
      const entries = await tx.store.index('owner').getAll(owner);
      await Promise.all([...entries.filter((e) => e.tab === tab).map((e) => tx.store.delete([owner, e.localId])), tx.done]);
    },
  };
}
