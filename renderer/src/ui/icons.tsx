/** Inline SVG icons (decorative: aria-hidden). */
export function Logo({ size = 26 }: { size?: number }) {
  return (
    <svg width={size} height={size} viewBox="0 0 64 64" aria-hidden="true" className="logo">
      <rect width="64" height="64" rx="14" fill="var(--accent)" />
      <circle cx="32" cy="32" r="17" fill="none" stroke="#fff" strokeWidth="5" />
      <circle cx="32" cy="15" r="5.5" fill="#fff" />
      <circle cx="17.3" cy="40.5" r="5.5" fill="#fff" />
      <circle cx="46.7" cy="40.5" r="5.5" fill="#fff" />
      <path d="M42 42l9 9" stroke="#fff" strokeWidth="5" strokeLinecap="round" />
    </svg>
  );
}

const paths: Record<string, string> = {
  queued: 'M8 1.5a6.5 6.5 0 1 0 0 13 6.5 6.5 0 0 0 0-13zm.75 3v3.2l2.2 1.3-.75 1.25L7.25 8.6V4.5z',
  sent: 'M6.2 11.3 2.6 7.7l1.1-1.1 2.5 2.5 6.1-6.1 1.1 1.1z',
  delivered: 'M4.7 11.3 1.1 7.7l1.1-1.1 2.5 2.5 6.1-6.1 1.1 1.1zm4 0-.9-.9 1.1-1.1.1.1 6.1-6.1 1.1 1.1z',
  failed: 'M8 1.5a6.5 6.5 0 1 0 0 13 6.5 6.5 0 0 0 0-13zM7.25 4h1.5v5h-1.5zm0 6.5h1.5V12h-1.5z',
};

export function StateIcon({ state }: { state: 'queued' | 'sent' | 'delivered' | 'read' | 'failed' }) {
  return (
    <svg width="14" height="14" viewBox="0 0 16 16" aria-hidden="true" className={`state-icon s-${state}`}>
      <path d={paths[state === 'read' ? 'delivered' : state]} fill="currentColor" />
    </svg>
  );
}

export function Avatar({ name, size = 36 }: { name: string; size?: number }) {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  const hue = h % 360;
  return (
    <span className="avatar" aria-hidden="true" data-hue={hue} style={{ width: size, height: size, backgroundColor: `hsl(${hue} 55% 45%)`, fontSize: size * 0.42 }}>
      {name.slice(0, 1).toUpperCase()}
    </span>
  );
}
