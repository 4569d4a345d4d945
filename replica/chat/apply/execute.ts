/** Runs one decoded command against the state: the one switch over every command kind. */
import { missingCaseError } from '../../util/missing-case-error.js';
import type { ConfState } from '../../raft/types.js';
import type { ApplyContext } from '../apply-context.js';
import type { ClusterVersions } from '../cluster-versions.js';
import type { Command } from '../commands.js';
import { authenticate, IdentityCache } from '../identities.js';
import type { GroupRow, Statements } from '../statements.js';
import type { GroupSummary } from '../../protocol/client.js';
import { AccountCommands } from './accounts.js';
import { applyMember } from './members.js';
import { GroupCommands } from './groups.js';
import { MessageCommands } from './messages.js';
import { ReceiptCommands } from './receipts.js';

export class CommandExecutor {
  private readonly accounts: AccountCommands;
  private readonly groups: GroupCommands;
  private readonly messages: MessageCommands;
  private readonly receipts: ReceiptCommands;

  constructor(
    private readonly statements: Statements,
    identities: IdentityCache,
    private readonly versions: ClusterVersions,
    /** The applied configuration (a cluster version is raised only when all of its members support it). */
    private readonly conf: () => ConfState | null,
  ) {
    this.groups = new GroupCommands(statements, identities);
    this.accounts = new AccountCommands(statements, identities, this.groups);
    this.messages = new MessageCommands(statements, identities, this.groups);
    this.receipts = new ReceiptCommands(statements);
  }

  /**
   * Whether a refusal of `cmd` may come after its first write, so it must run in a savepoint of its own. Only `send`
   * refuses before writing anything (and is the command applied most often).
   */
  static needsSavepoint(cmd: Command): boolean {
    return cmd.kind !== 'send';
  }

  /** Applies `cmd`; returns its result, or throws a QuorumError to refuse it. */
  execute(cmd: Command, ctx: ApplyContext): unknown {
    switch (cmd.kind) {
      case 'signup':
        return this.accounts.signup(cmd, ctx);
      case 'login':
        return this.accounts.login(cmd, ctx);
      case 'logout':
        return this.accounts.logout(cmd, ctx);
      case 'deleteAccount':
        return this.accounts.deleteAccount(cmd, ctx);
      case 'send':
        return this.messages.send(cmd, ctx);
      case 'delete':
        return this.messages.delete(cmd, this.authenticate(cmd.tokenHash).id, ctx);
      case 'edit':
        return this.messages.edit(cmd, this.authenticate(cmd.tokenHash).id, ctx);
      case 'createGroup':
        return this.groups.createGroup(cmd, ctx);
      case 'addMembers':
        return this.groups.addMembers(cmd, ctx);
      case 'removeMembers':
        return this.groups.removeMembers(cmd, ctx);
      case 'leaveGroup':
        return this.groups.leaveGroup(cmd, ctx);
      case 'renameGroup':
        return this.groups.renameGroup(cmd, ctx);
      case 'setAdmin':
        return this.groups.setAdmin(cmd, ctx);
      case 'groupSend':
        return this.groups.send(cmd, ctx);
      case 'markGroupRead':
        return this.groups.markGroupRead(cmd, ctx);
      case 'read':
        return this.receipts.read(cmd, this.authenticate(cmd.tokenHash), ctx);
      case 'markRead':
        return this.receipts.markRead(cmd, this.authenticate(cmd.tokenHash), ctx);
      case 'delivered':
        return this.receipts.delivered(cmd, this.authenticate(cmd.tokenHash), ctx);
      case 'member':
        return applyMember(this.statements, cmd);
      case 'memberVersion':
        return this.versions.recordMember(cmd.id, cmd.version);
      case 'clusterVersion':
        return this.versions.raise(cmd.version, this.conf());
      case 'clock':
        // Applying any command moves the clock (state-machine.ts); this one does nothing else.
        return { at: ctx.at };
      default:
        throw missingCaseError(cmd);
    }
  }

  /** A group as `viewerId` sees it (queries share the apply side's view of a group). */
  groupSummary(group: GroupRow, viewerId: number): GroupSummary {
    return this.groups.summary(group, viewerId);
  }

  private authenticate(tokenHash: string) {
    return authenticate(this.statements, tokenHash);
  }
}
