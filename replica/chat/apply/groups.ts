/**
 * Applying the group commands (cluster version 3): create, add and remove members, leave, rename, make admins, send
 * to a group, mark a group read. A group message's id is its command's log index, like any message; membership
 * changes are written into the group's history as events (messages with `event` set, never unread, not searched).
 * Read state is a watermark per member (schema.ts group_members); when one moves, the senders of what it passed get
 * the new read counts (group-reads.ts).
 */
import type { ChatMessage, GroupEventKind, GroupSummary, PushFrame } from '../../protocol/client.js';
import { LIMITS } from '../../protocol/limits.js';
import { refuse, type ApplyContext } from '../apply-context.js';
import type { CommandOf } from '../commands.js';
import { pushGroupReads } from './group-reads.js';
import type { IdentityCache } from '../identities.js';
import { accountLookup, chatMessageOf } from '../message-view.js';
import type { AccountIdentity, GroupMemberRow, GroupRow, Statements } from '../statements.js';

type Member = GroupMemberRow & { username: string };

export class GroupCommands {
  constructor(
    private readonly statements: Statements,
    private readonly identities: IdentityCache,
  ) {}

  createGroup(cmd: CommandOf<'createGroup'>, ctx: ApplyContext) {
    const creator = this.identities.sender(cmd.tokenHash);
    if (this.statements.groupByName.get(cmd.name.toLowerCase())) refuse('CONFLICT', `a group named "${cmd.name}" exists: choose another name`);
    const others = this.liveAccounts(cmd.members).filter((a) => a.id !== creator.id);
    if (others.length + 1 > LIMITS.groupMembersMax) refuse('INVALID', `a group has at most ${LIMITS.groupMembersMax} members`);
    const id = ctx.index;
    this.statements.insertGroup.run(id, cmd.name, cmd.name.toLowerCase(), creator.id, ctx.at, id);
    this.statements.addGroupMember.run(id, creator.id, 1, ctx.at, id);
    for (const a of others) this.statements.addGroupMember.run(id, a.id, 0, ctx.at, id);
    const group = this.statements.groupById.get(id)!;
    const names = others.map((a) => a.username);
    this.event(group, creator, 'created', `${creator.username} created #${cmd.name}${names.length ? ` with ${names.join(', ')}` : ''}`, ctx, id);
    return { group: this.summary(group, creator.id) };
  }

  addMembers(cmd: CommandOf<'addMembers'>, ctx: ApplyContext) {
    const { group, actor } = this.asAdmin(cmd.tokenHash, cmd.group, 'add members');
    const present = new Set(this.members(group.id).map((m) => m.account_id));
    const added = this.liveAccounts(cmd.members).filter((a) => !present.has(a.id));
    if (present.size + added.length > LIMITS.groupMembersMax) refuse('INVALID', `a group has at most ${LIMITS.groupMembersMax} members`);
    if (added.length === 0) return { group: this.summary(group, actor.id) };
    // New members start with everything before this read: what they see unread starts here.
    for (const a of added) this.statements.addGroupMember.run(group.id, a.id, 0, ctx.at, ctx.index);
    this.event(group, actor, 'added', `${actor.username} added ${added.map((a) => a.username).join(', ')}`, ctx);
    return { group: this.summary(group, actor.id) };
  }

  removeMembers(cmd: CommandOf<'removeMembers'>, ctx: ApplyContext) {
    const { group, actor } = this.asAdmin(cmd.tokenHash, cmd.group, 'remove members');
    const byName = new Map(this.members(group.id).map((m) => [m.username.toLowerCase(), m]));
    const removed: Member[] = [];
    for (const name of new Set(cmd.members.map((n) => n.toLowerCase()))) {
      const member = byName.get(name) ?? refuse('NOT_FOUND', `"${name}" is not a member of #${group.name}`);
      if (member.account_id === group.creator_id && actor.id !== group.creator_id) refuse('FORBIDDEN', `only ${member.username} may remove the group's creator`);
      removed.push(member);
    }
    // Told before they go, so their apps drop the group.
    this.event(group, actor, 'removed', `${actor.username} removed ${removed.map((m) => m.username).join(', ')}`, ctx);
    for (const m of removed) this.statements.removeGroupMember.run(group.id, m.account_id);
    return { group: this.afterDeparture(group, actor.id) };
  }

  leaveGroup(cmd: CommandOf<'leaveGroup'>, ctx: ApplyContext) {
    const { group, actor } = this.asMember(cmd.tokenHash, cmd.group);
    this.event(group, actor, 'left', `${actor.username} left`, ctx);
    this.statements.removeGroupMember.run(group.id, actor.id);
    this.afterDeparture(group, actor.id);
    return { left: true as const };
  }

  renameGroup(cmd: CommandOf<'renameGroup'>, ctx: ApplyContext) {
    const { group, actor } = this.asAdmin(cmd.tokenHash, cmd.group, 'rename it');
    const taken = this.statements.groupByName.get(cmd.name.toLowerCase());
    if (taken && taken.id !== group.id) refuse('CONFLICT', `a group named "${cmd.name}" exists: choose another name`);
    this.statements.renameGroup.run(cmd.name, cmd.name.toLowerCase(), group.id);
    const renamed = this.statements.groupById.get(group.id)!;
    this.event(renamed, actor, 'renamed', `${actor.username} renamed #${group.name} to #${cmd.name}`, ctx);
    return { group: this.summary(renamed, actor.id) };
  }

  setAdmin(cmd: CommandOf<'setAdmin'>, ctx: ApplyContext) {
    const { group, actor } = this.asAdmin(cmd.tokenHash, cmd.group, 'change admins');
    const member = this.members(group.id).find((m) => m.username.toLowerCase() === cmd.member.toLowerCase());
    if (!member) refuse('NOT_FOUND', `"${cmd.member}" is not a member of #${group.name}`);
    if (member.account_id === group.creator_id && !cmd.admin) refuse('FORBIDDEN', `the group's creator stays an admin`);
    if (Boolean(member.admin) !== cmd.admin) {
      this.statements.setGroupAdmin.run(cmd.admin ? 1 : 0, group.id, member.account_id);
      this.event(group, actor, 'admin', `${actor.username} ${cmd.admin ? 'made' : 'no longer made'} ${member.username} an admin`, ctx);
    }
    return { group: this.summary(group, actor.id) };
  }

  send(cmd: CommandOf<'groupSend'>, ctx: ApplyContext) {
    const { group, actor } = this.asMember(cmd.tokenHash, cmd.group);
    const id = ctx.index;
    this.statements.insertGroupMessage.run(id, actor.id, cmd.text, ctx.at, group.id, null);
    this.statements.groupSetLast.run(id, group.id);
    this.statements.groupBumpUnread.run(group.id, actor.id);
    // The sender has read its own message: its watermark moves past it when nothing older is unread.
    const own = this.statements.groupMember.get(group.id, actor.id)!;
    if (own.unread === 0) this.statements.groupSetRead.run(id, 0, group.id, actor.id);
    this.pushToMembers(group.id, { type: 'push', event: 'message', message: this.view(id) }, ctx);
    return { id, sentAt: ctx.at };
  }

  /** Marks the group's messages up to `upTo` read for the account (a watermark: never moves back). */
  markGroupRead(cmd: CommandOf<'markGroupRead'>, ctx: ApplyContext) {
    const { group, actor } = this.asMember(cmd.tokenHash, cmd.group);
    const member = this.statements.groupMember.get(group.id, actor.id)!;
    const upTo = Math.min(cmd.upTo, group.last_id);
    if (upTo <= member.read_upto) return { marked: 0 };
    const newlyRead = this.statements.groupReadRange.all(group.id, member.read_upto, upTo, actor.id);
    this.statements.groupSetRead.run(upTo, newlyRead.length, group.id, actor.id);
    pushGroupReads(this.statements, ctx, group.id, group.name, newlyRead);
    return { marked: newlyRead.length };
  }

  /** Removes a deleted account from every group it was in (with an event each). */
  removeAccount(account: AccountIdentity, ctx: ApplyContext): void {
    for (const membership of this.statements.groupsOf.all(account.id)) {
      const group = this.statements.groupById.get(membership.group_id)!;
      this.statements.removeGroupMember.run(group.id, account.id);
      this.event(group, account, 'left', `${account.username} deleted their account`, ctx);
      this.afterDeparture(group, account.id);
    }
  }

  /** A group message was deleted (by its sender): members who had not read it have one unread fewer. */
  dropUnread(groupId: number, senderId: number, id: number): void {
    this.statements.groupDropUnread.run(groupId, senderId, id);
  }

  /** The members of a group, in name order (at most 256: sorted here rather than by an index on names). */
  members(groupId: number): Member[] {
    return this.statements.groupMembers.all(groupId).sort((a, b) => (a.username.toLowerCase() < b.username.toLowerCase() ? -1 : 1));
  }

  /** The group as `viewerId` sees it. */
  summary(group: GroupRow, viewerId: number): GroupSummary {
    const members = this.members(group.id);
    const own = members.find((m) => m.account_id === viewerId);
    const summary: GroupSummary = {
      name: group.name,
      members: members.map((m) => m.username),
      admins: members.filter((m) => m.admin).map((m) => m.username),
      unread: own?.unread ?? 0,
    };
    const last = this.statements.messageById.get(group.last_id);
    if (last && !last.deleted) summary.lastMessage = chatMessageOf(last, accountLookup(this.statements));
    return summary;
  }

  /** Pushes `frame` to every member's live connections (in account id order, the same on every replica). */
  pushToMembers(groupId: number, frame: PushFrame, ctx: ApplyContext): void {
    const accounts = accountLookup(this.statements);
    for (const m of [...this.members(groupId)].sort((a, b) => a.account_id - b.account_id)) {
      const to = accounts(m.account_id);
      if (to) ctx.push(to, frame);
    }
  }

  /**
   * After someone left or was removed: an empty group goes (its name is free again); a group left without an admin
   * gets its longest-standing member as admin. Returns the group as `viewerId` sees it.
   */
  private afterDeparture(group: GroupRow, viewerId: number): GroupSummary {
    const members = this.members(group.id);
    if (members.length === 0) {
      this.statements.deleteGroup.run(group.id);
      return { name: group.name, members: [], admins: [], unread: 0 };
    }
    if (!members.some((m) => m.admin)) {
      const eldest = [...members].sort((a, b) => a.joined_at - b.joined_at || a.account_id - b.account_id)[0];
      this.statements.setGroupAdmin.run(1, group.id, eldest.account_id);
    }
    return this.summary(group, viewerId);
  }

  /** Writes a membership event into the group's history (at this command's index) and pushes it to the members. */
  private event(group: GroupRow, actor: AccountIdentity, kind: GroupEventKind, text: string, ctx: ApplyContext, id = ctx.index): void {
    this.statements.insertGroupMessage.run(id, actor.id, text, ctx.at, group.id, kind);
    this.statements.groupSetLast.run(id, group.id);
    // The row in hand follows, so the command's answer (summary) shows this event as the group's last message.
    group.last_id = id;
    this.pushToMembers(group.id, { type: 'push', event: 'message', message: this.view(id) }, ctx);
  }

  private view(id: number): ChatMessage {
    return chatMessageOf(this.statements.messageById.get(id)!, accountLookup(this.statements));
  }

  private asMember(tokenHash: string, name: string): { group: GroupRow; actor: AccountIdentity } {
    const actor = this.identities.sender(tokenHash);
    const group = this.statements.groupByName.get(name.toLowerCase()) ?? refuse('NOT_FOUND', `no group named "#${name}"`);
    if (!this.statements.groupMember.get(group.id, actor.id)) refuse('FORBIDDEN', `you are not a member of #${group.name}`);
    return { group, actor };
  }

  private asAdmin(tokenHash: string, name: string, what: string): { group: GroupRow; actor: AccountIdentity } {
    const found = this.asMember(tokenHash, name);
    if (!this.statements.groupMember.get(found.group.id, found.actor.id)!.admin) {
      refuse('FORBIDDEN', `only the admins of #${found.group.name} may ${what}`);
    }
    return found;
  }

  /** The live accounts named (each once; NOT_FOUND for a name that is none). */
  private liveAccounts(names: string[]): AccountIdentity[] {
    const seen = new Map<number, AccountIdentity>();
    for (const name of names) {
      const account = this.identities.liveAccount(name) ?? refuse('NOT_FOUND', `no account named "${name}"`);
      seen.set(account.id, account);
    }
    return [...seen.values()];
  }
}
