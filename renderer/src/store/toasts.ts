/** Toasts: short messages at the corner of the window that go away by themselves (errors stay longer). */
import type { GetState, SetState, SliceDeps } from './store-deps.js';

export interface Toast {
  id: number;
  text: string;
  tone: 'info' | 'error';
}

export interface ToastsState {
  /** The newest four, oldest first. */
  toasts: Toast[];
}

export interface ToastsActions {
  toast(text: string, tone?: Toast['tone']): void;
  dismissToast(id: number): void;
}

export function createToastsSlice(set: SetState, get: GetState, { env }: SliceDeps): ToastsState & ToastsActions {
  let nextToast = 1;
  return {
    toasts: [],

    toast(text, tone = 'info') {
      const id = nextToast++;
      set((s) => ({ toasts: [...s.toasts.slice(-3), { id, text, tone }] }));
      env.setTimeout(() => get().dismissToast(id), tone === 'error' ? 8000 : 4000);
    },

    dismissToast(id) {
      set((s) => ({ toasts: s.toasts.filter((t) => t.id !== id) }));
    },
  };
}
