/** Types of scripts/replica-build.mjs for the TypeScript that imports it (test/global-setup.ts, the chaos run). */
export declare const BUILT_REPLICA: string;
/** Builds dist/replica/cli.js if it is stale (or always, with force); resolves with why it built, or null. */
export declare function buildReplica(force?: boolean): Promise<string | null>;
/** Why the build of `sources` (project paths) into `outputs` (files) is stale, or null when it is not. */
export declare function staleness(outputs?: string[], sources?: string[]): string | null;
/** A launcher's outputs: itself and, once built, the bundle it names (dist/replica/cli.js, dist/main/replica-process.js). */
export declare function launcherOutputs(entry: string): string[];
/** Deletes the files in `dir` (a build's chunks folder) that no build has written for a day. */
export declare function pruneOldChunks(dir: string): void;
