/** Size limits shared by the server, the client library and the UI. Isomorphic: no Node or DOM imports. */
export const LIMITS = {
  /** Largest client frame the server accepts (bytes of UTF-8 JSON). */
  maxClientFrameBytes: 64 * 1024,
  /** Largest peer frame (an append batch or a snapshot chunk). */
  maxPeerFrameBytes: 8 * 1024 * 1024,
  usernameMin: 1,
  usernameMax: 32,
  passwordMin: 8,
  passwordMax: 256,
  textMin: 1,
  textMax: 4000,
  /** Largest page a list request may ask for. */
  pageMax: 500,
  /** Default page size when a request gives none. */
  pageDefault: 50,
  /** Most message ids one delete request may name. */
  deleteMax: 500,
  patternMax: 64,
  groupNameMax: 32,
  /** Most members of one group (its creator included). */
  groupMembersMax: 256,
  /** Longest search query (characters). */
  searchQueryMax: 200,
  /** Most words of a search query that count (the rest are ignored). */
  searchWordsMax: 16,
  tokenMax: 128,
  clientIdMax: 64,
} as const;

/** How many of a client's latest session responses the state machine keeps for deduplication. */
export const SESSION_WINDOW = 4096;
