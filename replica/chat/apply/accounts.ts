/**
 * Applying the account commands: signup, login, logout, deleteAccount.
 *
 * Deleted accounts: the account row stays as a tombstone (deleted = 1, password hash wiped) and its username is freed
 * for new signups. Messages it sent stay visible to their recipients, marked `fromDeleted` (the recipient's copy, as
 * in email or Signal). Its inbox — messages sent to it — is deleted (tombstoned, text wiped, and the senders get a
 * 'deleted' push), its logins end ('sessionEnded' push), its own conversation list is dropped. A survivor can still
 * open and mark read the conversation with a deleted account by its old name, as long as no live account has taken
 * that name.
 */
import { IdsByAccount, refuse, type ApplyContext } from '../apply-context.js';
import type { CommandOf } from '../commands.js';
import type { GroupCommands } from './groups.js';
import { authenticate, type IdentityCache } from '../identities.js';
import type { Statements } from '../statements.js';
import { refreshConversation } from './messages.js';

export class AccountCommands {
  constructor(
    private readonly statements: Statements,
    private readonly identities: IdentityCache,
    private readonly groups: GroupCommands,
  ) {}

  signup(cmd: CommandOf<'signup'>, ctx: ApplyContext) {
    const lower = cmd.username.toLowerCase();
    if (this.statements.accountLive.get(lower)) refuse('USERNAME_TAKEN', `the username "${cmd.username}" is taken`);
    this.statements.insertAccount.run(ctx.index, cmd.username, lower, cmd.passwordHash, ctx.at);
    return { user: cmd.username };
  }

  login(cmd: CommandOf<'login'>, ctx: ApplyContext) {
    const account = this.statements.accountLive.get(cmd.username.toLowerCase());
    // The leader verified the password against `passwordHash`; if the account changed since, refuse.
    if (!account || account.password_hash !== cmd.passwordHash) refuse('BAD_CREDENTIALS', 'wrong username or password');
    const owner = this.statements.tokenOwner.get(cmd.tokenHash);
    if (owner && owner.account_id !== account.id) refuse('INVALID', 'this login token is already in use; choose a fresh one');
    if (!owner) this.statements.insertToken.run(cmd.tokenHash, account.id, ctx.at);
    // The driver adds `token` (the client chose it; only its hash is replicated). lastMessageId is taken here, at
    // apply, so live delivery can resume exactly after it even if messages commit before the connection is bound.
    return {
      user: account.username,
      unread: account.unread,
      lastMessageId: this.statements.lastMessageId.get(account.id, account.id)!.id,
    };
  }

  logout(cmd: CommandOf<'logout'>, ctx: ApplyContext) {
    const account = authenticate(this.statements, cmd.tokenHash);
    this.statements.deleteToken.run(cmd.tokenHash);
    this.identities.forgetToken(cmd.tokenHash);
    ctx.push(account, { type: 'push', event: 'sessionEnded', reason: 'logged out' }, cmd.tokenHash);
    return { loggedOut: true };
  }

  deleteAccount(cmd: CommandOf<'deleteAccount'>, ctx: ApplyContext) {
    const account = authenticate(this.statements, cmd.tokenHash);
    if (account.password_hash !== cmd.passwordHash) refuse('BAD_CREDENTIALS', 'wrong password');
    // The inbox goes: tombstone every message sent to this account; tell the senders.
    const bySender = new IdsByAccount();
    for (const row of this.statements.inbox.all(account.id)) {
      this.statements.tombstone.run(row.id);
      if (row.from_id !== account.id) bySender.add(row.from_id, row.id);
    }
    // Its own conversation list goes; the survivors' conversations keep the messages it sent them.
    const peers = this.statements.convPeers.all(account.id).map((r) => r.peer_id);
    this.statements.convDeleteOwner.run(account.id);
    for (const peer of peers) {
      if (peer !== account.id) refreshConversation(this.statements, Math.min(peer, account.id), Math.max(peer, account.id));
    }
    ctx.push(account, { type: 'push', event: 'sessionEnded', reason: 'account deleted' });
    this.groups.removeAccount(account, ctx);
    this.statements.deleteTokensOf.run(account.id);
    this.identities.forget();
    this.statements.markAccountDeleted.run(ctx.at, account.id);
    ctx.pushToEach(bySender, (id) => this.statements.accountById.get(id), (ids) => ({ type: 'push', event: 'deleted', ids }));
    return { deleted: true };
  }
}
