/**
 * Desktop notifications for new messages while the window is not focused; a click opens the conversation.
 * Electron notifications are garbage-collected (and their click handlers lost) unless referenced, so the notifier
 * keeps the ones on screen — at most MAX_LIVE_NOTIFICATIONS: some platforms never report 'close' for a notification
 * the user ignored, and a long session must not grow without bound (the oldest is closed and forgotten first).
 * On Linux the notification server reads the body as markup (libnotify's subset of HTML): escaped, so a message
 * "<b>" shows as written, not bold, and a stray "<" does not blank the body.
 */
export interface NotificationLike {
  on(event: 'click', listener: () => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  show(): void;
  close(): void;
}
export interface NotificationCtor {
  new (options: { title: string; body: string; silent?: boolean }): NotificationLike;
  isSupported(): boolean;
}

export interface Notifier {
  /** Returns true when a notification was shown. */
  message(m: { conversation: string; from: string; text: string }): boolean;
  /** How many notifications are kept referenced now (at most MAX_LIVE_NOTIFICATIONS). */
  readonly live: number;
}

/** Most notifications kept referenced at once (a notification center rarely shows more). */
export const MAX_LIVE_NOTIFICATIONS = 20;

/** Longest body shown (the notification shows the start of the message; the window has the rest). */
const BODY_MAX = 200;

/** Escapes what a Linux notification server would read as markup. */
export function escapeNotificationMarkup(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&${{ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": 'apos' }[c]};`);
}

export function createNotifier(deps: {
  Notification: NotificationCtor;
  isFocused(): boolean;
  openConversation(name: string): void;
  platform: string;
}): Notifier {
  // Insertion order: the first is the oldest.
  const live = new Set<NotificationLike>();
  return {
    get live() {
      return live.size;
    },
    message(m) {
      if (deps.isFocused() || !deps.Notification.isSupported()) return false;
      const cut = m.text.length > BODY_MAX ? `${m.text.slice(0, BODY_MAX - 1)}…` : m.text;
      const body = deps.platform === 'linux' ? escapeNotificationMarkup(cut) : cut;
      const n = new deps.Notification({ title: m.from, body });
      while (live.size >= MAX_LIVE_NOTIFICATIONS) {
        const oldest = live.values().next().value!;
        live.delete(oldest);
        oldest.close();
      }
      live.add(n);
      n.on('click', () => {
        live.delete(n);
        deps.openConversation(m.conversation);
      });
      n.on('close', () => live.delete(n));
      n.show();
      return true;
    },
  };
}
