/** Types of scripts/web-client.mjs for the TypeScript that imports it (test/global-setup.ts, test/e2e/measure-100k.ts). */
/** Builds dist/renderer if it is stale (`before(why)` told first); returns why it built, or null; throws when vite fails. */
export declare function buildWebClient(before?: (why: string) => void): string | null;
