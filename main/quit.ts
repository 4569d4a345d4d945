/**
 * Quitting while this machine leads: hand leadership to another voter first, then stop the replica gracefully,
 * then let the app quit. The first `before-quit` is held (preventDefault) until both steps are done; the
 * final `app.quit()` passes straight through. `onQuitting` hears each step, so the window can say what happens
 * ("handing leadership over…") while it takes. Windows' session end runs the same steps (main/shell.ts).
 */
import { drop } from './drop.js';

export interface QuitApp {
  on(event: 'before-quit', listener: (event: { preventDefault(): void }) => void): unknown;
  quit(): void;
}

export interface QuitHost {
  isLeader(): boolean;
  transferLeadership(timeoutMs: number): Promise<boolean>;
  /** The last stop: the replica is not started again afterwards (no respawn while the app quits). */
  shutdown(): Promise<void>;
}

export interface QuitLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** What quitting is doing: handing leadership over (this machine leads), then stopping the replica. */
export type QuitStep = 'handingOver' | 'stopping';

export function installQuitHandler(
  app: QuitApp,
  host: QuitHost,
  log: QuitLogger,
  opts: { transferTimeoutMs?: number; onQuitting?: (step: QuitStep) => void } = {},
): { readonly phase: 'running' | 'closing' | 'done' } {
  const state = { phase: 'running' as 'running' | 'closing' | 'done' };
  app.on('before-quit', (event) => {
    if (state.phase === 'done') return;
    event.preventDefault();
    if (state.phase === 'closing') return;
    state.phase = 'closing';
    drop(
      (async () => {
        try {
          if (host.isLeader()) {
            opts.onQuitting?.('handingOver');
            log.info({}, 'this machine leads: transferring leadership before quitting');
            const ok = await host.transferLeadership(opts.transferTimeoutMs ?? 5_000);
            log.info({ ok }, ok ? 'leadership transferred' : 'leadership transfer failed; quitting anyway');
          }
          opts.onQuitting?.('stopping');
          await host.shutdown();
        } catch (err) {
          log.warn({ err }, 'shutdown step failed; quitting anyway');
        } finally {
          state.phase = 'done';
          app.quit();
        }
      })(),
    );
  });
  return state;
}
