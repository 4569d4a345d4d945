/**
 * Notifications of the web client (the browser's Notification API; the desktop app has main/notify.ts): one per
 * conversation, replaced by the next message there and closed when the conversation is opened, so at most
 * MAX_SHOWN are kept whatever the length of the session.
 */

/** The part of the browser's Notification the notifier uses. */
export interface NotificationLike {
  onclick: (() => void) | null;
  close(): void;
}
export interface NotificationApi {
  readonly permission: string;
  requestPermission(): Promise<string>;
  new (title: string, options: { body: string; tag: string }): NotificationLike;
}

export interface WebNotifier {
  /** Shows a notification for a message (when the person allowed them). */
  message(conversation: string, from: string, text: string): void;
  /** The conversation was opened: its notification goes. */
  seen(conversation: string): void;
  /** Asks the person for permission once (call from a click: browsers only ask on a user gesture). */
  askPermission(): void;
}

const MAX_SHOWN = 20;
const BODY_MAX = 200;

export function createWebNotifier(api: NotificationApi | null, open: (conversation: string) => void): WebNotifier {
  const shown = new Map<string, NotificationLike>();
  const close = (conversation: string) => {
    shown.get(conversation)?.close();
    shown.delete(conversation);
  };
  return {
    message(conversation, from, text) {
      if (!api || api.permission !== 'granted') return;
      close(conversation);
      // Oldest first in a Map: the one shown longest ago makes room.
      while (shown.size >= MAX_SHOWN) close(shown.keys().next().value!);
      const body = text.length > BODY_MAX ? `${text.slice(0, BODY_MAX - 1)}…` : text;
      const n = new api(from, { body, tag: `quorum-${conversation}` });
      n.onclick = () => {
        close(conversation);
        open(conversation);
      };
      shown.set(conversation, n);
    },
    seen: close,
    askPermission() {
      if (api && api.permission === 'default') void api.requestPermission().catch(() => {});
    },
  };
}
