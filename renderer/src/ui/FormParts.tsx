/** Pieces several screens share: a form's error line and a full view's header with its way back to the chat. */
import { useApp } from './context.js';

/** The form's error, announced to screen readers; nothing when there is none. */
export function FormError({ error }: { error: string | null | undefined }) {
  if (!error) return null;
  return (
    <p className="error" role="alert">
      {error}
    </p>
  );
}

/** The header of a full view (cluster, settings): its title (the screen's level-one heading), labelling the view, and "Back to chat". */
export function ViewHeader({ id, title }: { id: string; title: string }) {
  const setView = useApp((s) => s.setView);
  return (
    <header className="view-header">
      <h1 id={id}>{title}</h1>
      <button type="button" className="ghost" onClick={() => setView('chat')}>
        Back to chat
      </button>
    </header>
  );
}
