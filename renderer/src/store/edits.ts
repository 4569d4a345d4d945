/**
 * Editing one's own messages in place: which message is being edited, the Up arrow's "edit my last message", and
 * saving (the cluster pushes the new text to everyone who sees it; threads.ts applies it).
 */
import { MessageText } from '../../../replica/protocol/client.js';
import { LIMITS } from '../../../replica/protocol/limits.js';
import { teamError } from '../errors.js';
import type { GetState, SetState, SliceDeps } from './store-deps.js';

export interface EditsState {
  /** The message being edited, in which conversation; null when none. */
  editing: { name: string; id: number } | null;
  /** Why the last save failed (shown under the edit box). */
  editError: string | null;
}

export interface EditsActions {
  /** Edits message `id` of conversation `name` (only one's own, and only on a cluster that runs edits). */
  startEdit(name: string, id: number): void;
  /** Edits the newest own message of the conversation (the Up arrow in an empty composer); false when there is none. */
  editLast(name: string): boolean;
  cancelEdit(): void;
  /** Saves the new text; false when it was refused (editError says why). */
  saveEdit(text: string): Promise<boolean>;
}

export function initialEditsState(): EditsState {
  return { editing: null, editError: null };
}

export function createEditsSlice(set: SetState, get: GetState, { api, env, ops }: SliceDeps): EditsState & EditsActions {
  const ownMessage = (name: string, id: number) => {
    const me = get().user;
    return get().threads[name]?.messages.find((m) => m.id === id && m.from === me && m.event === undefined && !m.fromDeleted);
  };

  return {
    ...initialEditsState(),

    startEdit(name, id) {
      if (!ops.teamOn() || !ownMessage(name, id)) return;
      set({ editing: { name, id }, editError: null, selection: [] });
    },

    editLast(name) {
      if (!ops.teamOn()) return false;
      const me = get().user;
      const list = get().threads[name]?.messages ?? [];
      for (let i = list.length - 1; i >= 0; i--) {
        const m = list[i];
        if (m.from === me && m.event === undefined) {
          set({ editing: { name, id: m.id }, editError: null, selection: [] });
          return true;
        }
      }
      return false;
    },

    cancelEdit() {
      set({ editing: null, editError: null });
    },

    async saveEdit(text) {
      const editing = get().editing;
      if (!editing || !api.team) return false;
      const m = ownMessage(editing.name, editing.id);
      if (!m) {
        set({ editing: null, editError: null });
        return false;
      }
      if (text === m.text) {
        set({ editing: null, editError: null });
        return true;
      }
      if (!MessageText.safeParse(text).success || text.trim() === '') {
        set({ editError: text.trim() === '' ? 'A message cannot be empty. To remove it, delete it instead.' : `Messages can have at most ${LIMITS.textMax} characters.` });
        return false;
      }
      try {
        const r = await api.team.edit(editing.id, text);
        ops.applyEdit({ ...m, text, editedAt: r.editedAt ?? env.now() });
        if (get().editing?.id === editing.id) set({ editing: null, editError: null });
        return true;
      } catch (err) {
        set({ editError: `Not saved. ${teamError(err)}` });
        return false;
      }
    },
  };
}
