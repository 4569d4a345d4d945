import { createContext, useContext } from 'react';
import { useStore } from 'zustand';
import type { AppState, AppActions, AppStore } from '../store/store.js';
import type { ChatApi } from '../net/api.js';

export interface AppContextValue {
  store: AppStore;
  api: ChatApi;
  /** Where the web client was served from (null in the desktop app). */
  servedBy: string | null;
}

export const AppContext = createContext<AppContextValue | null>(null);

export function useAppContext(): AppContextValue {
  const v = useContext(AppContext);
  if (!v) throw new Error('AppContext missing');
  return v;
}

export function useApp<T>(selector: (s: AppState & AppActions) => T): T {
  return useStore(useAppContext().store, selector);
}
