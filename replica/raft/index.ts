/** The pure Raft consensus core. */
export * from './types.js';
export * from './errors.js';
export { Raft, TRANSFER_CONTEXT, SNAPSHOT_NEEDED_CONTEXT, type RaftStatus, type ProgressStatus } from './raft.js';
export { MemoryStorage } from './memory-storage.js';
export { encodeConfChange, decodeConfChange, applyToConf, confChangeProblem, quorumSize } from './conf.js';
export type { ProgressState } from './progress.js';
