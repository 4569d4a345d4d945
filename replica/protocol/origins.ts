/** Origins every replica knows. Isomorphic: no Node or DOM imports. */

/** The desktop app's renderer is served from this origin (main/app-protocol.ts); its WebSockets carry it. */
export const DESKTOP_APP_ORIGIN = 'app://quorum';
