/** Desktop notifications for new messages while the window is not focused; a click opens the conversation. */
export interface NotificationLike {
  on(event: 'click', listener: () => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  show(): void;
}
export interface NotificationCtor {
  new (options: { title: string; body: string; silent?: boolean }): NotificationLike;
  isSupported(): boolean;
}

export interface Notifier {
  /** Returns true when a notification was shown. */
  message(m: { conversation: string; from: string; text: string }): boolean;
}

export function createNotifier(deps: {
  Notification: NotificationCtor;
  isFocused(): boolean;
  openConversation(name: string): void;
}): Notifier {
  // Electron notifications are garbage-collected (and their click handlers lost) unless referenced.
  const live = new Set<NotificationLike>();
  return {
    message(m) {
      if (deps.isFocused() || !deps.Notification.isSupported()) return false;
      const body = m.text.length > 200 ? `${m.text.slice(0, 199)}…` : m.text;
      const n = new deps.Notification({ title: m.from, body });
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
