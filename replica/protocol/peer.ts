/**
 * Peer wire protocol: JSON text frames over WebSocket at path /peer, after a mutual HMAC challenge-response keyed
 * by the cluster secret (docs/protocol.md). Isomorphic: no Node or DOM imports.
 */
import * as z from 'zod';
import { HostPortSchema } from './address.js';

export const PEER_PROTOCOL = 'quorum-peer-1';

const NodeId = z.string().min(1).max(64).regex(/^[A-Za-z0-9_.-]+$/);
const Index = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const Nonce = z.string().regex(/^[0-9a-f]{64}$/);
const Mac = z.string().regex(/^[0-9a-f]{64}$/);

const ConfStateSchema = z.strictObject({ voters: z.array(NodeId).max(64), learners: z.array(NodeId).max(64) });
const SnapshotMetaSchema = z.strictObject({ index: Index, term: Index, conf: ConfStateSchema });

export const EntrySchema = z.strictObject({
  index: Index,
  term: Index,
  type: z.enum(['normal', 'conf']),
  data: z.string().max(256 * 1024),
});

export const RaftMessageSchema = z.strictObject({
  type: z.enum([
    'preVote',
    'preVoteResp',
    'vote',
    'voteResp',
    'app',
    'appResp',
    'heartbeat',
    'heartbeatResp',
    'snap',
    'snapResp',
    'timeoutNow',
    'readIndex',
    'readIndexResp',
    'propose',
    'stateHash',
  ]),
  from: NodeId,
  to: NodeId,
  term: Index,
  index: Index.optional(),
  logTerm: Index.optional(),
  entries: z.array(EntrySchema).max(100_000).optional(),
  commit: Index.optional(),
  reject: z.boolean().optional(),
  rejectHint: Index.optional(),
  snapshot: SnapshotMetaSchema.optional(),
  context: z.string().max(128).optional(),
});

/** Server → connecting peer, first frame. */
export const ChallengeFrame = z.strictObject({ t: z.literal('challenge'), protocol: z.literal(PEER_PROTOCOL), id: NodeId, nonce: Nonce });
/** Connecting peer → server: proves knowledge of the secret over the server's nonce. */
export const AuthFrame = z.strictObject({ t: z.literal('auth'), id: NodeId, address: HostPortSchema, nonce: Nonce, mac: Mac });
/** Server → peer: proves knowledge of the secret over the peer's nonce. */
export const WelcomeFrame = z.strictObject({ t: z.literal('welcome'), mac: Mac });

/**
 * Raft messages; `clock`: the sender's wall clock when it sent them (ms since the epoch; leaders' command clocks);
 * `version`: the highest state-machine version the sender supports (replica/chat/versions.ts).
 */
export const MessagesFrame = z.strictObject({
  t: z.literal('msgs'),
  ms: z.array(RaftMessageSchema).min(1).max(10_000),
  clock: Index.optional(),
  version: z.number().int().min(1).max(1_000_000).optional(),
});
export const SnapBeginFrame = z.strictObject({ t: z.literal('snapBegin'), xfer: z.string().max(64), size: Index, meta: SnapshotMetaSchema });
export const SnapChunkFrame = z.strictObject({ t: z.literal('snapChunk'), xfer: z.string().max(64), offset: Index, data: z.string().max(1024 * 1024) });
export const SnapEndFrame = z.strictObject({
  t: z.literal('snapEnd'),
  xfer: z.string().max(64),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  msg: RaftMessageSchema,
});

/** Frames accepted after authentication. */
export const PeerFrame = z.discriminatedUnion('t', [MessagesFrame, SnapBeginFrame, SnapChunkFrame, SnapEndFrame]);
export type PeerFrame = z.infer<typeof PeerFrame>;
