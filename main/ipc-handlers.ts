/**
 * Registers the renderer → main request channels. Every input is validated against its zod schema
 * (main/ipc-contract.ts) before a handler sees it, the sender must be our own window, and every answer is an
 * IpcResult envelope so refusals reach the renderer with a stable code instead of Electron's mangled error text.
 */
import type { z } from 'zod';
import { IPC_INVOKE, INVOKE_CHANNELS, type InvokeChannel, type InvokeResults, type IpcResult } from './ipc-contract.js';

/** The part of a Electron IpcMainInvokeEvent we look at. */
export interface InvokeEventLike {
  senderFrame?: { url: string } | null;
  sender?: unknown;
}

/** The part of Electron's ipcMain used here. */
export interface IpcMainLike {
  handle(channel: string, listener: (event: InvokeEventLike, ...args: unknown[]) => unknown): void;
}

export type InvokeHandlers = {
  [C in InvokeChannel]: (arg: z.output<(typeof IPC_INVOKE)[C]>, event: InvokeEventLike) => InvokeResults[C] | Promise<InvokeResults[C]>;
};

export interface IpcLogger {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Validates one channel's input. Exported for tests and for reuse. */
export function validateInvoke(channel: string, args: unknown[]): { ok: true; arg: unknown } | { ok: false; message: string } {
  if (!Object.hasOwn(IPC_INVOKE, channel)) return { ok: false, message: `unknown channel ${JSON.stringify(channel).slice(0, 80)}` };
  if (args.length > 1) return { ok: false, message: 'expected at most one argument' };
  const schema = IPC_INVOKE[channel as InvokeChannel];
  const r = schema.safeParse(args[0]);
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue && issue.path.length ? `${issue.path.join('.')}: ` : '';
    return { ok: false, message: `${where}${issue?.message ?? 'invalid input'}` };
  }
  return { ok: true, arg: r.data };
}

export function registerIpcHandlers(
  ipcMain: IpcMainLike,
  handlers: InvokeHandlers,
  opts: { isTrustedSender(event: InvokeEventLike): boolean; log: IpcLogger },
): void {
  for (const channel of INVOKE_CHANNELS) {
    ipcMain.handle(channel, async (event, ...args): Promise<IpcResult<unknown>> => {
      if (!opts.isTrustedSender(event)) {
        opts.log.warn({ channel, url: event.senderFrame?.url }, 'refused IPC from an untrusted frame');
        return { ok: false, error: { code: 'FORBIDDEN', message: 'this frame may not use the desktop API' } };
      }
      const v = validateInvoke(channel, args);
      if (!v.ok) {
        opts.log.warn({ channel, message: v.message }, 'refused invalid IPC input');
        return { ok: false, error: { code: 'INVALID', message: v.message } };
      }
      try {
        const handler = handlers[channel] as (arg: unknown, event: InvokeEventLike) => unknown;
        const result = await handler(v.arg, event);
        return { ok: true, result: result ?? null };
      } catch (err) {
        const e = err as { code?: unknown; message?: unknown };
        const code = typeof e.code === 'string' && /^[A-Z_]{2,32}$/.test(e.code) ? e.code : 'INTERNAL';
        if (code === 'INTERNAL') opts.log.error({ channel, err }, 'IPC handler failed');
        return { ok: false, error: { code, message: typeof e.message === 'string' ? e.message : 'failed' } };
      }
    });
  }
}
