/**
 * Resolves once every promise continuation queued so far, and every one those queue in turn, has run: Node drains the
 * microtask queue completely before the next macrotask (setImmediate). For code whose timers and I/O are injected
 * fakes (the renderer store with its AppEnv), that is the condition "it has done everything it will do now", so a
 * negative check after it cannot pass only because the work was still queued (unlike awaiting a fixed number of turns).
 */
export function settled(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
