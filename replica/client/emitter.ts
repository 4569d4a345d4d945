/** A small typed event emitter. A throwing listener is logged and never breaks the emitter or other listeners. */
import type { ClientLogger } from './types.js';
import { clientLog, type ClientLog } from './log.js';

export type Listener<T> = (payload: T) => void;

export class Emitter<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<Listener<never>>>();

  private readonly log: ClientLog;

  constructor(log?: ClientLogger) {
    this.log = clientLog(log);
  }

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener as Listener<never>);
    return () => this.off(event, listener);
  }

  off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): void {
    this.listeners.get(event)?.delete(listener as Listener<never>);
  }

  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as Listener<Events[K]>)(payload);
      } catch (err) {
        this.log.error({ event: String(event), err: errorText(err) }, 'client event listener threw');
      }
    }
  }

  removeAll(): void {
    this.listeners.clear();
  }
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
