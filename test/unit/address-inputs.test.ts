// Every place a HOST:PORT address enters Quorum refuses an impossible port (0, above 65535) and a missing one, and
// accepts the usual forms: wire schemas, replicated commands, the four CLIs, invite codes and the renderer's
// connect screen and remembered servers. They all go through replica/protocol/address.ts; this pins each door to it.
import { describe, expect, it } from 'vitest';
import { decodeConfChange } from '../../replica/chat/commands.js';
import { parseChatArgs, parseStatusArgs } from '../../replica/cli/args.js';
import { parseClusterArgs } from '../../replica/cli/cluster.js';
import { parseReplicaArgs } from '../../replica/cli/replica.js';
import { decodeInvite, encodeInvite } from '../../replica/node/invite.js';
import { HostPortSchema } from '../../replica/protocol/address.js';
import { ConfChangeRequestSchema } from '../../replica/protocol/client.js';
import { isAddress } from '../../renderer/src/servers.js';

const BAD = ['10.0.0.9:99999', '10.0.0.9:65536', '10.0.0.9:0', '10.0.0.9', 'chat.example.com:', ':7400'];
const GOOD = ['10.0.0.9:7400', '[::1]:7400', 'chat.example.com:65535', 'localhost:1'];

/** Each entry point as "does it accept this address?" (a thrown usage error or a failed parse is a refusal). */
const doors: Record<string, (address: string) => boolean> = {
  'wire schema (HostPortSchema)': (a) => HostPortSchema.safeParse(a).success,
  'cluster change request': (a) => ConfChangeRequestSchema.safeParse({ op: 'addLearner', id: 'r9', address: a }).success,
  'replicated conf change': (a) => decodeConfChange(JSON.stringify({ op: 'addLearner', id: 'r9', address: a })).ok,
  'chat --servers': (a) => accepts(() => parseChatArgs(['--servers', a, '--user', 'alice', 'login'])),
  'status --servers': (a) => accepts(() => parseStatusArgs(['--servers', a])),
  'cluster add': (a) => accepts(() => parseClusterArgs(['--servers', '127.0.0.1:7400', '--secret-file', '/nonexistent', 'add', 'r9', a])),
  'replica --join': (a) => accepts(() => parseReplicaArgs(['--data', '/tmp/x', '--join', a])),
  'replica --initial-cluster': (a) => accepts(() => parseReplicaArgs(['--data', '/tmp/x', '--initial-cluster', `r1=${a}`])),
  'invite code': (a) => accepts(() => decodeInvite(encodeInvite({ servers: [a], secret: Buffer.from('secret') }))),
  'renderer connect screen and remembered servers (isAddress)': (a) => isAddress(a),
};

function accepts(parse: () => unknown): boolean {
  try {
    parse();
    return true;
  } catch {
    return false;
  }
}

describe('member addresses', () => {
  it.each(Object.keys(doors))('%s refuses impossible ports and accepts HOST:PORT', (door) => {
    const accept = doors[door];
    expect(BAD.filter((a) => accept(a)), 'accepted although impossible').toEqual([]);
    expect(GOOD.filter((a) => !accept(a)), 'refused although valid').toEqual([]);
  });
});
