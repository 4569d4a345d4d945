/** Types of scripts/web-client.mjs for the TypeScript that imports it (test/e2e/support.ts). */
export declare const BUILT_WEB_CLIENT: string;
/** Builds dist/renderer if it is stale (`before(why)` told first); returns why it built, or null; throws when vite fails. */
export declare function buildWebClient(before?: (why: string) => void): string | null;
