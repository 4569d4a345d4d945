/** The desktop app's preload API (window.quorum), or null in a browser. */
import type { DesktopApi, InvokeChannel, InvokeResults, InvokeArg } from '../../main/ipc-contract.js';

export const desktop: DesktopApi | null = (globalThis as { quorum?: DesktopApi }).quorum ?? null;

/** Calls main and throws the refusal (with its code) instead of returning the envelope. */
export async function call<C extends InvokeChannel>(channel: C, ...arg: InvokeArg<C> extends undefined ? [] : [InvokeArg<C>]): Promise<InvokeResults[C]> {
  if (!desktop) throw Object.assign(new Error('only in the desktop app'), { code: 'UNAVAILABLE' });
  const r = await desktop.invoke(channel, ...arg);
  if (!r.ok) throw Object.assign(new Error(r.error.message), { code: r.error.code });
  return r.result;
}
