/** The event half of a fake ChatApi for renderer store tests (not a test file itself). */
import type { ClientEvents } from '../../renderer/src/net/api.js';

export class FakeApiEvents {
  private readonly listeners = new Map<string, Set<(p: unknown) => void>>();
  on<K extends keyof ClientEvents>(event: K, l: (p: ClientEvents[K]) => void) {
    const set = this.listeners.get(event) ?? new Set();
    set.add(l as (p: unknown) => void);
    this.listeners.set(event, set);
    return () => set.delete(l as (p: unknown) => void);
  }
  emit<K extends keyof ClientEvents>(event: K, p: ClientEvents[K]) {
    for (const l of this.listeners.get(event) ?? []) l(p);
  }
}
