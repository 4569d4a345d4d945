/**
 * Checks of the results the client relies on (the protocol validates frames, not each op's result).
 * A malformed result is treated like a malformed frame: an INTERNAL error, never a crash.
 */
import * as z from 'zod';
import { QuorumError } from '../protocol/index.js';
import type { ReplicaStatus, ResultMap } from '../protocol/index.js';
import { AutopilotMemberViewSchema, AutopilotSummarySchema } from '../protocol/index.js';

const Hint = z.object({ id: z.string(), address: z.string() });

export const ReplicaStatusSchema = z.object({
  id: z.string(),
  address: z.string(),
  role: z.enum(['follower', 'preCandidate', 'candidate', 'leader', 'learner', 'removed', 'stopped']),
  term: z.number(),
  leader: Hint.nullable(),
  commitIndex: z.number(),
  appliedIndex: z.number(),
  lastIndex: z.number(),
  voter: z.boolean(),
  members: z.array(
    z.object({
      id: z.string(),
      address: z.string(),
      voter: z.boolean(),
      match: z.number().optional(),
      reachable: z.boolean().optional(),
      autopilot: AutopilotMemberViewSchema.optional(),
      version: z.number().int().positive().optional(),
    }),
  ),
  quorum: z.boolean(),
  clusterId: z.string().regex(/^[0-9a-f]{16}$/).optional(),
  version: z.number().int().positive().optional(),
  clusterVersion: z.number().int().positive().optional(),
  autopilot: AutopilotSummarySchema.optional(),
  storage: z
    .object({ freeBytes: z.number().nonnegative(), totalBytes: z.number().nonnegative(), warnBelowBytes: z.number().nonnegative(), lowSpace: z.boolean() })
    .optional(),
});

const LoginResultSchema = z.object({ user: z.string(), token: z.string().min(1), unread: z.number(), lastMessageId: z.number().int().nonnegative().optional() });

export function checkStatus(result: unknown): ReplicaStatus {
  const parsed = ReplicaStatusSchema.safeParse(result);
  if (!parsed.success) throw new QuorumError('INTERNAL', `malformed status result: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data as ReplicaStatus;
}

export function checkLogin(result: unknown): ResultMap['login'] {
  const parsed = LoginResultSchema.safeParse(result);
  if (!parsed.success) throw new QuorumError('INTERNAL', `malformed login result: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data;
}
